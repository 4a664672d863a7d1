"""Files become documents with their text kept verbatim, or are refused with one clear reason."""

import pytest

from store import LoadError, bundled_document, load_file
from store.documents import expand_paths
from tests.pdf import make_pdf

ARTICLE_PAGE = """<!doctype html><html><head><title>Glacier retreat measured</title></head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/login">Sign in</a></nav>
<header><h1>Glacier retreat measured</h1></header>
<article>
<p>Scientists measured the retreat of the Rhone glacier over the summer of 2023 and found that it lost
more ice than in any year since records began in 1856.</p>
<p>The team of glaciologists from Zurich placed stakes across the tongue of the glacier and read them
every two weeks, recording a loss of almost four metres of ice thickness.</p>
<p>They warned that the glacier could vanish by the end of the century if emissions keep rising.</p>
</article>
<footer>Copyright 2024 Example News. Cookie settings. Subscribe to our newsletter.</footer>
</body></html>"""


def test_the_bundled_article_has_a_title_and_a_stable_id():
    document = bundled_document()
    assert document.id == "nagorno-karabakh-ceasefire"
    assert "ceasefire" in document.title.lower()
    assert document.text.startswith("The authorities of the self-proclaimed Republic of Nagorno-Karabakh")
    assert document.verbatim_file is None


def test_text_is_kept_verbatim_with_crlf_and_unicode(tmp_path):
    raw = "Première ligne.\r\nSecond line — “quoted”.\r\n\r\n日本語。\r\n"
    path = tmp_path / "notes.txt"
    path.write_bytes(raw.encode("utf-8"))
    document = load_file(path)
    assert document.text == raw
    assert document.title == "notes"
    assert load_file(path).id == document.id  # stable across loads
    assert document.verbatim_file == path.resolve()  # its offsets and lines are the file's


def test_markdown_takes_its_title_from_the_first_heading(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("Intro line\n\n# Quarterly report\n\nRevenue grew.\n", encoding="utf-8")
    assert load_file(path).title == "Quarterly report"
    assert load_file(path).verbatim_file == path.resolve()


def test_html_keeps_the_article_text_without_the_page_chrome(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(ARTICLE_PAGE, encoding="utf-8")
    document = load_file(path)
    assert "almost four metres of ice thickness" in document.text
    assert "Cookie settings" not in document.text and "Sign in" not in document.text
    assert document.title == "Glacier retreat measured"
    assert document.verbatim_file is None


def test_pdf_text_is_extracted(tmp_path):
    path = tmp_path / "memo.pdf"
    path.write_bytes(make_pdf(["The bridge reopens on Monday.", "Tolls stay at two euros."], title="Bridge memo"))
    document = load_file(path)
    assert "The bridge reopens on Monday." in document.text
    assert "Tolls stay at two euros." in document.text
    assert document.title == "Bridge memo"
    assert document.verbatim_file is None  # the text is extracted: a line of it is no line of the file


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.txt", None, "does not exist"),
        ("empty.txt", b"", "is empty"),
        ("blank.md", b" \n\n\t\n", "is empty"),
        ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("latin.txt", bytes(range(0x80, 0x100)) * 4, "not UTF-8"),
        ("data.csv", b"a,b\n1,2\n", "unsupported extension"),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", "PDF"),
    ],
)
def test_bad_files_are_refused_with_the_file_and_the_reason(tmp_path, name, content, reason):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(LoadError) as caught:
        load_file(path)
    message = str(caught.value)
    assert str(path) in message and reason in message
    assert "\n" not in message


def test_legacy_windows_text_is_read(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("Café prices rose — sharply.".encode("cp1252"))
    assert load_file(path).text == "Café prices rose — sharply."


def test_a_folder_without_supported_files_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "data.csv").write_text("a,b")
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "a.txt").write_text("A.")
    (tmp_path / "good" / "sub").mkdir()
    (tmp_path / "good" / "sub" / "b.md").write_text("B.")
    files, errors = expand_paths([tmp_path / "empty", tmp_path / "other", tmp_path / "good"])
    assert [f.name for f in files] == ["a.txt", "b.md"]
    assert [e.path for e in errors] == [str(tmp_path / "empty"), str(tmp_path / "other")]
    assert all("no supported files" in str(e) for e in errors)
