"""The installed `assistant` command, as a user runs it: index, docs, search."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.pdf import make_pdf
from tests.test_documents import ARTICLE_PAGE

ASSISTANT = shutil.which("assistant", path=str(Path(sys.executable).parent))


def run(*args: str, store: Path, chroma_url: str | None = None, **more_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASSISTANT_STORE": str(store), "NO_COLOR": "1", "COLUMNS": "200", **more_env}
    env.pop("ASSISTANT_CHROMA_URL", None)
    if chroma_url:
        env["ASSISTANT_CHROMA_URL"] = chroma_url
    return subprocess.run([ASSISTANT, *args], capture_output=True, text=True, env=env, timeout=180)


def test_search_works_on_the_bundled_article_with_no_setup(tmp_path):
    result = run("search", "How far is Yevlax from Baku?", "-k", "2", "--json", store=tmp_path / "s")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    best = payload["passages"][0]
    assert "265 kilometers west of Baku" in best["text"]
    assert best["document_id"] == "nagorno-karabakh-ceasefire" and len(payload["passages"]) == 2


def test_index_docs_and_search_a_users_files(tmp_path):
    notes = tmp_path / "zorbland.md"
    notes.write_text("# Zorbland facts\n\nThe capital of Zorbland is Quux. It has 3,000 inhabitants.\n")
    store = tmp_path / "s"
    indexed = run("index", str(notes), store=store)
    assert indexed.returncode == 0, indexed.stderr
    assert "Zorbland facts" in indexed.stdout and "1 added" in indexed.stdout
    again = run("index", str(notes), store=store)
    assert "1 unchanged" in again.stdout and "0 chunks embedded" in again.stdout

    docs = json.loads(run("docs", "--json", store=store).stdout)
    assert {d["title"] for d in docs} == {"Zorbland facts"}  # the bundled article stepped aside

    found = run("search", "What is the capital of Zorbland?", "-k", "1", store=store)
    assert found.returncode == 0 and "The capital of Zorbland is Quux." in found.stdout


def test_the_bundled_article_is_the_corpus_of_a_new_store_until_removed(tmp_path):
    store = tmp_path / "s"
    listed = run("docs", store=store)
    assert "nagorno-karabakh-ceasefire" in listed.stdout
    assert "the bundled demo article" in " ".join(listed.stderr.split())  # said, not passed off as the user's
    removed = run("index", "--remove", "nagorno-karabakh-ceasefire", store=store)
    assert removed.returncode == 0 and "removed nagorno-karabakh-ceasefire" in removed.stdout
    assert run("docs", "--json", store=store).stdout.strip() == "[]"  # and it stays removed
    assert "nothing is indexed" in " ".join(run("docs", store=store).stderr.split())


def test_bad_paths_are_listed_and_the_good_ones_indexed(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("Good content lives here.")
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    store = tmp_path / "s"
    result = run("index", str(good), str(binary), str(tmp_path / "nope.pdf"), store=store)
    assert result.returncode == 1
    assert f"{binary}: looks like a binary file" in result.stderr
    assert f"{tmp_path / 'nope.pdf'}: does not exist" in result.stderr
    assert "2 path(s) not indexed" in result.stderr
    assert "Traceback" not in result.stderr
    titles = {d["title"] for d in json.loads(run("docs", "--json", store=store).stdout)}
    assert "good" in titles and "blob" not in titles


def test_a_format_whose_library_does_not_import_costs_its_files_only(tmp_path):
    """As after `pip install .` with a pip before 24, which left out jusText's lxml_html_clean: each HTML file fails
    with one sentence naming it and the fix, and the folder's text and PDF files are indexed."""
    missing = tmp_path / "site"  # shadows lxml_html_clean with a package that is not there, as the install left it
    (missing / "lxml_html_clean").mkdir(parents=True)
    (missing / "lxml_html_clean" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'lxml_html_clean'\", name='lxml_html_clean')\n")
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "notes.txt").write_text("The ferry to Ormsund leaves at seven.")
    (folder / "page.html").write_text(ARTICLE_PAGE)
    (folder / "memo.pdf").write_bytes(make_pdf(["The bridge reopens on Monday."], title="Bridge memo"))
    store = tmp_path / "s"
    result = run("index", str(folder), store=store, PYTHONPATH=str(missing))
    assert result.returncode == 1
    said = " ".join(result.stderr.split())
    assert f"{folder / 'page.html'}: cannot be read: the library for its format does not import" in said
    assert "lxml_html_clean" in said and "install what it names in the assistant's Python environment" in said
    assert "Traceback" not in said
    titles = {d["title"] for d in json.loads(run("docs", "--json", store=store).stdout)}
    assert titles == {"notes", "Bridge memo"}


@pytest.mark.parametrize(
    ("args", "message"),
    [(["search", "   "], "the query is empty"), (["search", "x", "-k", "0"], "-k must be at least 1"),
     (["search", "x", "--chroma-url", "localhost"], "http://HOST:PORT")],
)
def test_user_errors_are_one_line(tmp_path, args, message):
    result = run(*args, store=tmp_path / "s")
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_command_works_against_a_chroma_server(tmp_path, chroma_server):
    result = run("search", "Who mediated the ceasefire?", "-k", "1", "--json", store=tmp_path / "unused", chroma_url=chroma_server)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["passages"][0]["document_id"] == "nagorno-karabakh-ceasefire"
    assert not (tmp_path / "unused").exists()


def test_python_dash_m_assistant_runs(tmp_path):
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "s")}
    result = subprocess.run([sys.executable, "-m", "assistant", "--help"], capture_output=True, text=True, env=env)
    assert result.returncode == 0 and "index" in result.stdout and "search" in result.stdout


def test_python_dash_m_assistant_points_to_the_installed_command_for_chat(tmp_path):
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "s")}
    for args in (["chat"], []):
        result = subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env)
        assert result.returncode == 2
        assert result.stderr.strip() == ("error: the chat UI is the installed `assistant chat` command; "
                                         "`python -m assistant` runs the other commands")


def test_the_assistant_and_the_store_never_import_the_ui():
    root = Path(__file__).resolve().parent.parent
    upward = [f"{path.relative_to(root)}:{n}" for folder in ("assistant", "store") for path in (root / folder).rglob("*.py")
              for n, line in enumerate(path.read_text().splitlines(), 1)
              if line.lstrip().startswith(("import tui", "from tui"))]
    assert upward == []


@pytest.mark.parametrize("args", [["docs", "--json"], ["search", "ceasefire", "--json"], ["docs"]])
def test_output_into_a_pipe_whose_reader_has_gone_ends_quietly(tmp_path, args):
    """`assistant docs --json | head -1`: the reader closing the pipe is no error to show."""
    reader, writer = os.pipe()
    os.close(reader)  # the reader has gone before the first line is written
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "s"), "NO_COLOR": "1"}
    try:
        done = subprocess.run([ASSISTANT, *args], stdout=writer, stderr=subprocess.PIPE, text=True, env=env, timeout=180)
    finally:
        os.close(writer)
    assert "Traceback" not in done.stderr and "Broken pipe" not in done.stderr and done.returncode == 1, done.stderr
