"""Documents and the loaders that turn files into them, one registry for every format."""

from __future__ import annotations

import bisect
import errno
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

BUNDLED_ID = "nagorno-karabakh-ceasefire"
BUNDLED_TITLE = "Nagorno-Karabakh accepts a Russian-brokered ceasefire and Azerbaijan's demand to disarm"
BUNDLED_FILE = "nagorno-karabakh-ceasefire.txt"


class Document(BaseModel):
    """A text kept as decoded (a PDF's as cleaned: `store.pdf`); chunk offsets index into `text`."""

    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    text: str
    source: str = ""
    page_starts: tuple[int, ...] = ()  # where each page of a paged document (a PDF) starts in `text`

    def pages(self, start: int, end: int) -> list[int]:
        """The 1-based pages characters [start, end) stand on; none for a document without pages."""
        if not self.page_starts:
            return []
        first = max(1, bisect.bisect_right(self.page_starts, start))
        return list(range(first, max(first, bisect.bisect_right(self.page_starts, max(start, end - 1))) + 1))

    @property
    def verbatim_file(self) -> Path | None:
        """The file whose decoded text `text` is, offsets and lines alike; None for a web page, inline text, the
        bundled article, or a PDF's or HTML's extracted text."""
        path = Path(self.source)
        loader = LOADERS.get(path.suffix.lower())
        return path if path.is_absolute() and loader is not None and loader.verbatim else None

    @cached_property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for at in range(0, len(self.text), 1 << 20):  # a slice at a time: a huge text is not encoded whole
            digest.update(self.text[at : at + (1 << 20)].encode("utf-8"))
        return digest.hexdigest()


class LoadError(Exception):
    """A file that cannot become a document; the message names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Extracted:
    """What a loader reads from a file: its text, its own title if it has one, where its pages start."""

    text: str
    title: str | None = None
    page_starts: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Loader:
    extension: str
    read: Callable[[bytes, Path], Extracted]
    verbatim: bool = False  # the text is the file's own, decoded: an offset into one is an offset into the other


def _decode(data: bytes, path: Path) -> str:
    """UTF-8 (or UTF-16 with a BOM); legacy Windows-1252 text is accepted when it reads as text."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            if "\x00" in text:  # NUL characters even as UTF-16: not text
                raise LoadError(path, "looks like a binary file (it contains NUL characters); give a text, Markdown, "
                                      "HTML or PDF file")
            return text
    if b"\x00" in data:
        raise LoadError(path, "looks like a binary file (it contains NUL bytes); give a text, Markdown, HTML or PDF file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        text = ""
    if text and sum(ch.isprintable() or ch in "\r\n\t" for ch in text) >= 0.98 * len(text):
        return text
    raise LoadError(path, "is not UTF-8 text (binary or another encoding); convert it to UTF-8 and index it again")


def unreadable_without(exc: ImportError) -> str:
    """Why a file cannot be read when the library that reads its format fails to import, and the fix."""
    why = " ".join(str(exc).split()) or type(exc).__name__
    missing = exc.name if isinstance(exc, ModuleNotFoundError) and exc.name else None
    fix = f"`pip install {missing}`" if missing else "install what it names"
    return (f"cannot be read: the library for its format does not import ({why}); {fix} in the assistant's Python "
            "environment, then index it again")


def _read_text(data: bytes, path: Path) -> Extracted:
    return Extracted(_decode(data, path))


_MD_HEADING = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _read_markdown(data: bytes, path: Path) -> Extracted:
    text = _decode(data, path)
    heading = _MD_HEADING.search(text)
    return Extracted(text, heading.group(1) if heading else None)


def _read_html(data: bytes, path: Path) -> Extracted:
    from store.html import html_document

    page = html_document(_decode(data, path))
    return Extracted(page.text, page.title)


def _read_pdf(data: bytes, path: Path) -> Extracted:
    from store.pdf import PdfError, read_pdf

    try:
        pdf = read_pdf(data)
    except PdfError as exc:
        raise LoadError(path, f"is not a readable PDF ({exc}); check that the file is complete and not "
                              "locked with a password") from None
    return Extracted(pdf.text, pdf.title, pdf.page_starts)


LOADERS: dict[str, _Loader] = {
    loader.extension: loader
    for loader in (
        _Loader(".txt", _read_text, verbatim=True),
        _Loader(".md", _read_markdown, verbatim=True),
        _Loader(".markdown", _read_markdown, verbatim=True),
        _Loader(".html", _read_html),
        _Loader(".htm", _read_html),
        _Loader(".pdf", _read_pdf),
    )
}


def document_id(path: Path) -> str:
    """A stable id for a file: its name, made readable, and a hash of its resolved path."""
    resolved = str(path.resolve())
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "doc"
    return f"{slug}-{hashlib.sha256(resolved.encode()).hexdigest()[:10]}"


def text_document(text: str, title: str, doc_id: str | None = None) -> Document:
    """A document from inline text; its id derives from its title and text unless given."""
    if doc_id is None:
        digest = hashlib.sha256(f"{title}\x00{text}".encode()).hexdigest()[:12]
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40] or "text"
        doc_id = f"{slug}-{digest}"
    return Document(id=doc_id, title=title, text=text, source="inline")


def load_file(path: Path) -> Document:
    """Read one supported file into a document, or raise LoadError saying why not."""
    if not path.exists():
        if path.is_symlink():
            try:
                path.resolve(strict=True)
            except (RuntimeError, OSError) as exc:  # 3.11 raises RuntimeError on a loop, later versions OSError
                if isinstance(exc, RuntimeError) or exc.errno == errno.ELOOP:
                    raise LoadError(path, "is a symbolic link that loops back on itself; give the file it should "
                                          "point to") from None
            raise LoadError(path, "is a symbolic link to a file that does not exist; check where it points")
        raise LoadError(path, "does not exist; check the path")
    if path.is_dir():
        raise LoadError(path, "is a directory; give its files or use it as an index path")
    if not path.is_file():
        raise LoadError(path, "is not a regular file (a FIFO or device?); give a text, Markdown, HTML or PDF file")
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        supported = ", ".join(sorted(LOADERS))
        raise LoadError(path, f"has an unsupported extension {path.suffix or '(none)'!r}; supported: {supported}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot be read ({exc.strerror}); check its permissions") from None
    if not data.strip():
        raise LoadError(path, "is empty; there is nothing to index")
    try:
        read = loader.read(data, path)
    except ImportError as exc:  # a reader's library broken by its install: this file fails, the others go on
        raise LoadError(path, unreadable_without(exc)) from None
    if not read.text.strip():
        raise LoadError(path, "holds no extractable text (a scanned PDF or an empty page?)")
    return Document(id=document_id(path), title=(read.title or path.stem).strip(), text=read.text,
                    source=str(path.resolve()), page_starts=read.page_starts)


def expand_paths(paths: Iterable[Path]) -> tuple[list[Path], list[LoadError]]:
    """Files to load from the given paths (folders are searched for supported files), and the paths that give none."""
    files: list[Path] = []
    errors: list[LoadError] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LOADERS)
            if not found:
                errors.append(LoadError(path, f"holds no supported files ({', '.join(sorted(LOADERS))})"))
            files.extend(found)
        else:
            files.append(path)
    return files, errors


def bundled_document() -> Document:
    """The news article that ships with the package: the corpus when no document is given."""
    text = resources.files("store").joinpath("data", BUNDLED_FILE).read_text(encoding="utf-8")
    return Document(id=BUNDLED_ID, title=BUNDLED_TITLE, text=text, source="bundled")


def load_paths(paths: Iterable[Path]) -> tuple[list[Document], list[LoadError]]:
    """Every document the given files and folders hold, and one LoadError per path that gives none."""
    files, failures = expand_paths(paths)
    documents = []
    for path in files:
        try:
            documents.append(load_file(path))
        except LoadError as exc:
            failures.append(exc)
    return documents, failures
