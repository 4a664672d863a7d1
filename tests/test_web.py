"""Web pages as documents, fetched from a real HTTP server on loopback: the article is indexed (not the page's
chrome), re-indexing replaces it only when its text changed, and each way a fetch fails is one sentence naming the
URL and the cause, with nothing written."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime

import pytest

from processes import free_port, run_assistant
from store import Index, LoadError, StoreSettings
from store.web import FetchLimits, fetch_url, is_url
from web_pages import ARTICLE_TITLE, TRICKLE_PIECES, PageServer


@pytest.fixture(scope="module")
def server():
    with PageServer() as running:
        yield running


def test_a_page_becomes_its_article_with_the_pages_title_and_its_url_as_source(server):
    document = fetch_url(server.url("/article"))
    assert document.title == ARTICLE_TITLE
    assert document.source == server.url("/article")
    assert "41 of the port's 46 pilots" in document.text
    for chrome in ("Subscribe now", "Cookie settings", "Section 3"):
        assert chrome not in document.text
    assert fetch_url(server.url("/article")).id == document.id  # the same page: the same document


def test_a_download_is_told_as_it_goes_from_the_servers_answer_to_its_last_byte(server):
    told = []
    document = fetch_url(server.url("/trickle"), received=lambda got, declared: told.append((got, declared)))
    assert "41 of the port's 46 pilots" in document.text
    size = told[-1][0]
    assert told[0] == (0, size) and told[-1] == (size, size)  # the declared length, from the first word on
    assert len(told) >= 1 + TRICKLE_PIECES  # each piece as it arrives, not only the end
    assert [got for got, _ in told] == sorted(got for got, _ in told)


def test_a_redirect_is_followed_and_plain_text_is_kept_as_it_is(server):
    assert "46 pilots" in fetch_url(server.url("/moved")).text
    assert fetch_url(server.url("/odd-charset.txt")).text == "Café prices rose by 4 %."
    text = fetch_url(server.url("/notes.txt"))
    assert text.text.startswith("The harbour pilots of Vellmar") and text.title == "notes.txt"


@pytest.mark.parametrize(("path", "limits", "says"), [
    ("/missing", FetchLimits(), "answered HTTP 404 Not Found"),
    ("/broken", FetchLimits(), "answered HTTP 500 Internal Server Error; check the address or try again later"),
    ("/loop", FetchLimits(), "redirected more than 5 times (a redirect loop?)"),
    ("/report.pdf", FetchLimits(), "is application/pdf, not a web page or text; download it and index the file"),
    ("/links", FetchLimits(), "is not an article"),
    ("/slow", FetchLimits(read_timeout=0.5), "timed out: the server sent nothing for 0.5 s"),
    ("/enormous", FetchLimits(max_bytes=2**20), "is larger than 1 MiB"),
    ("/declared-enormous", FetchLimits(), "is larger than 10 MiB"),
])
def test_each_failure_is_one_sentence_naming_the_url_and_the_cause(server, path, limits, says):
    started = time.monotonic()
    with pytest.raises(LoadError) as failure:
        fetch_url(server.url(path), limits)
    message = str(failure.value)
    assert message.startswith(server.url(path) + ": ") and says in message
    assert "\n" not in message and "Traceback" not in message
    assert time.monotonic() - started < 10  # the slow and the enormous ones are cut short


def test_a_host_that_does_not_exist_or_refuses_is_said_so():
    with pytest.raises(LoadError, match=r"names no such host \(nosuchhost\.invalid\)"):
        fetch_url("http://nosuchhost.invalid/news")
    port = free_port()
    with pytest.raises(LoadError, match=rf"127\.0\.0\.1:{port}/: was refused: nothing answers at 127\.0\.0\.1"):
        fetch_url(f"http://127.0.0.1:{port}/")
    with pytest.raises(LoadError, match="is not an http"):
        fetch_url("http:///no-host")


def test_only_http_and_https_arguments_are_urls():
    assert is_url("https://example.com/a") and is_url("HTTP://example.com")
    assert not is_url("notes/https://x") and not is_url("ftp://example.com/a") and not is_url("article.html")


def test_reindexing_a_url_fetches_it_again_and_replaces_the_document_only_when_its_text_changed(server, embeddings,
                                                                                            tmp_path):
    index = Index(StoreSettings(store=tmp_path / "store"), embeddings)
    url = server.url("/article")
    [document], first, failures = index.add_paths([url])
    assert not failures and first.added == [document.id]
    fetched = server.pages.fetches["/article"]
    _, again, _ = index.add_paths([url])
    assert server.pages.fetches["/article"] == fetched + 1 and again.unchanged == [document.id]
    assert again.chunks_embedded == 0
    original = list(server.pages.article)
    server.pages.article[1] = "Union spokeswoman Ilse Marten said 44 of the port's 46 pilots joined the strike."
    try:
        _, changed, _ = index.add_paths([url])
    finally:
        server.pages.article = original
    assert changed.updated == [document.id]
    assert "44 of the port's 46" in index.document(document.id).text
    [info] = [i for i in index.documents() if i.id == document.id]
    assert info.source == url and info.title == ARTICLE_TITLE and info.indexed_at > 0


def test_a_failed_url_writes_nothing_and_the_good_ones_beside_it_are_indexed(server, embeddings, tmp_path):
    index = Index(StoreSettings(store=tmp_path / "store"), embeddings)
    documents, report, failures = index.add_paths([server.url("/missing"), server.url("/article"),
                                                   server.url("/report.pdf")])
    assert [d.title for d in documents] == [ARTICLE_TITLE] and len(report.added) == 1
    assert [f.path for f in failures] == [server.url("/missing"), server.url("/report.pdf")]
    assert [i.title for i in index.documents()] == [ARTICLE_TITLE]


def test_a_page_whose_reader_does_not_import_costs_that_page_and_nothing_else(server, embeddings, tmp_path,
                                                                            monkeypatch):
    monkeypatch.setitem(sys.modules, "trafilatura", None)  # `import trafilatura` now fails, as a broken install's does
    notes = tmp_path / "notes.txt"
    notes.write_text("The ferry to Ormsund leaves at seven.")
    index = Index(StoreSettings(store=tmp_path / "store"), embeddings)
    documents, _, [failure] = index.add_paths([server.url("/article"), str(notes)])
    assert failure.path == server.url("/article")
    assert failure.reason.startswith("cannot be read: the library for its format does not import (")
    assert [d.title for d in documents] == ["notes"] == [i.title for i in index.documents()]
    assert fetch_url(server.url("/notes.txt")).text.startswith("The harbour pilots")  # text needs no such library


def test_assistant_index_url_indexes_the_page_and_answers_from_it(server, tmp_path):
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "store"),
           "ASSISTANT_CONVERSATIONS": str(tmp_path / "c.sqlite")}
    done = run_assistant("index", server.url("/article"), server.url("/missing"), env=env)
    assert done.returncode == 1
    assert "new" in done.stdout and ARTICLE_TITLE in done.stdout
    assert f"error: {server.url('/missing')}: answered HTTP 404 Not Found" in done.stderr
    again = run_assistant("index", server.url("/article"), env=env)
    assert again.returncode == 0 and "unchanged" in again.stdout
    docs = run_assistant("docs", env=env)
    today = datetime.now().astimezone().strftime("%Y-%m-%d")
    assert ARTICLE_TITLE in docs.stdout and server.url("/article") in docs.stdout and today in docs.stdout
    asked = run_assistant("ask", "How many pilots joined the strike?", env=env)
    assert asked.returncode == 0 and "41 of the port's 46 pilots" in asked.stdout
