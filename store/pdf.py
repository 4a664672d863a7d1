"""PDF files as clean text with their pages: read by PDFium in a child process, then made into paragraphs a
reader can quote and a viewer's search can find.

PDFium (pypdfium2, Apache-2.0/BSD-3) was chosen by measuring it on the development corpus against pypdf and
pdfminer.six (benchmarks/README.md, "PDF text"): it is 8-30 times faster, keeps two columns apart, and marks the
hyphens it finds at line ends (U+0002), so a word broken across lines is joined exactly.

The cleaning, page by page, then across pages:
- running headers and footers go: a first or last line that repeats (its digits aside) on many pages, a bare
  page number, or a heading that carries the page's number ("3 IMPLICIT BEHAVIOR 6");
- a word hyphenated at a line end is joined; ligatures (ﬁ, ﬀ …) are spelled out; control characters and
  table-of-contents dot leaders go;
- lines are reflowed into paragraphs: a line joins the next unless it ends a paragraph (a sentence that stops
  short of the line's full width), or it stands alone (a heading, a table row, a line of code: a short line),
  or the next one starts a list item; paragraphs are kept apart by a blank line;
- a sentence that runs over a page break stays one sentence.
The text kept is this cleaned text, with the offset at which each page starts, so a quote is `text[start:end]`
and names its page.
"""

from __future__ import annotations

import json
import re
import signal
import statistics
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
SOFT_HYPHEN = "\x02"  # what PDFium puts where a word was hyphenated at the end of a line
_CONTROL = re.compile(r"[\x00\x01\x03-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\ufffe\uffff]")  # U+0002 is kept, for now
_DOT_LEADER = re.compile(r"(?:[ \t]*\.){4,}[ \t]*|(?:[ \t]*\u2026){2,}[ \t]*")  # ". . . . ." or "……" before a page
_PAGE_NUMBER = re.compile(r"^\s*(?:[Pp]age\s+)?(?:\d{1,4}|[ivxlc]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[•◦▪‣∙·\-–—*]\s|\(?[0-9]{1,2}[.)]\s|\(?[a-z][.)]\s|\([ivx]{1,4}\)\s)")
_ENDS_SENTENCE = re.compile(r"""[.!?:;]["'”’)\]]*$""")
# a section heading: numbered ("4.2 Values of options", "B Formatting") or in capitals, with no closing stop
_HEADING = re.compile(r"^(?:(?:\d+(?:\.\d+)*\.?|[A-Z]\.?|[IVX]+\.)\s+\S.*[^.!?,;:]|[^a-z]*[A-Z]{2}[^a-z]*)$")
# a superscript footnote mark run into the text after a word's stop: "columns.2(If", "colors.1 svgnames"
_FOOTNOTE_GLUED = re.compile(r"\b([A-Za-z]{2,})([.;:,])\d{1,2}(?=[A-Z(]|\s)")
# ... but not a reference to a numbered thing: "Fig.2", "Eq.3", "Sect.4"
_NUMBERED_THINGS = frozenset({"fig", "figs", "eq", "eqs", "sec", "sect", "tab", "no", "nos", "vol", "ch", "chap",
                              "ref", "refs", "pp", "art", "app", "thm", "lem", "def", "ex", "vs", "ver", "rev"})
_FOOTNOTE_MARK = re.compile(r"^\d{1,2}$|^[∗*†‡§¶]$")  # a footnote's mark set on a line of its own
EDGE_LINES = 2  # how many lines at the top and at the bottom of a page can be running headers or footers
REPEATS = 0.3  # ... when they repeat on this share of the pages (and on 2 at least)
SHORT = 0.6  # a line shorter than this share of the page's full lines stands alone (heading, table row, code)
FULL = 0.85  # a sentence that ends on a line shorter than this share of a full line ends its paragraph


@dataclass(frozen=True)
class PdfText:
    """A PDF's cleaned text, where each of its pages starts in it, and its title (None: none found)."""

    text: str
    page_starts: tuple[int, ...]
    title: str | None


class PdfError(Exception):
    """The PDF could not be read; the message says why, in words for the user."""


def read_pdf(data: bytes, timeout: float | None = None) -> PdfText:
    """Read a PDF's pages in a child process and clean them; PdfError if it cannot be read, or if PDFium
    crashed or hung on it."""
    timeout = timeout or 30.0 + 10.0 * len(data) / 1e6
    child = Path(__file__).with_name("pdf_child.py")
    try:
        done = subprocess.run([sys.executable, "-P", str(child)], input=data, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise PdfError(f"the PDF reader did not finish within {timeout:.0f} s (a damaged or hostile file?)") from None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name if -done.returncode in signal.valid_signals() else done.returncode
        raise PdfError(f"the PDF reader crashed on it (signal {name}; a damaged or hostile file?)")
    try:
        read = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.decode("utf-8", "replace").strip().splitlines() or ["no output"])[-1]
        raise PdfError(f"the PDF reader failed ({last[:200]})") from None
    if "error" in read:
        raise PdfError(read["error"])
    text, starts = clean_pages(read["pages"])
    return PdfText(text, starts, pdf_title(read["title"], read["headline"]))


_FILE_TITLE = re.compile(r"\.(?:dvi|tex|pdf|ps|docx?|odt|rtf|indd)$|^microsoft \w+ - ", re.IGNORECASE)


def pdf_title(metadata: str, headline: str) -> str | None:
    """The document's title: its metadata's title when that is one (not a file name such as "xxx.dvi", not
    "untitled"), else its title page's largest type; None if neither is."""
    for candidate in (metadata, headline):
        candidate = " ".join(candidate.translate(LIGATURES).split()).strip(" ∗*†‡§¶")
        if (len(candidate) >= 3 and sum(ch.isalpha() for ch in candidate) >= 3 and len(candidate) <= 200
                and not _FILE_TITLE.search(candidate)
                and candidate.lower() not in {"untitled", "title", "no title", "document"}):
            return candidate
    return None


def _edge_key(line: str) -> str:
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _running_lines(pages: list[list[str]]) -> list[set[int]]:
    """For each page, the indexes of its lines that are running headers or footers, or bare page numbers."""
    edges = [sorted(set(range(min(EDGE_LINES, len(lines)))) | set(range(max(0, len(lines) - EDGE_LINES), len(lines))))
             for lines in pages]
    seen = Counter(key for lines, at in zip(pages, edges) for key in {_edge_key(lines[i]) for i in at})
    enough = max(2, REPEATS * len(pages))
    # a heading that carries the page's number: the number runs with the page on many pages
    offsets = Counter(offset for number, (lines, at) in enumerate(zip(pages, edges), start=1)
                      for offset in {o for i in at for o in _folio_offsets(lines[i], number)})
    folio = {offset for offset, count in offsets.items() if count >= enough}
    running = []
    for number, (lines, at) in enumerate(zip(pages, edges), start=1):
        running.append({i for i in at if _PAGE_NUMBER.match(lines[i]) or seen[_edge_key(lines[i])] >= enough
                        or folio & _folio_offsets(lines[i], number)})
    return running


def _folio_offsets(line: str, page: int) -> set[int]:
    """For a line that starts or ends with a number (a running head with its page number), how far each such
    number is from the page's own."""
    numbers = re.match(r"^\s*(\d{1,4})\s+\S", line), re.search(r"\S\s+(\d{1,4})\s*$", line)
    return {int(found.group(1)) - page for found in numbers if found and len(line) <= 90}


def _clean_line(line: str) -> str:
    """One line with its ligatures spelled out, its control characters, dot leaders, footnote marks glued to a
    word and runs of spaces gone; a hyphen PDFium marked at its end is kept (as U+0002) for the reflow, one
    anywhere else dropped."""
    line = _DOT_LEADER.sub(" ", _CONTROL.sub("", line.translate(LIGATURES)))
    line = _FOOTNOTE_GLUED.sub(lambda m: m[0] if m[1].lower() in _NUMBERED_THINGS else f"{m[1]}{m[2]} ", line)
    hyphenated = line.rstrip().endswith(SOFT_HYPHEN)
    line = " ".join(line.replace(SOFT_HYPHEN, "").split())
    return line + SOFT_HYPHEN if hyphenated and line else line


def _paragraphs(lines: list[str]) -> list[tuple[str, bool]]:
    """A page's lines as paragraphs; each with whether it runs on (its last line would join the next page's)."""
    long_lines = [len(x) for x in lines if len(x) >= 20]
    full = statistics.median(long_lines) if long_lines else max(map(len, lines), default=0)

    def stands_alone(line: str) -> bool:  # a heading, a table row, a line of code: not a line of running text
        if line.endswith(SOFT_HYPHEN) or _FOOTNOTE_MARK.match(line):
            return False
        return len(line) < SHORT * full or (len(line) < FULL * full and bool(_HEADING.match(line)))

    out: list[tuple[str, bool]] = []
    paragraph = ""
    for i, line in enumerate(lines):
        following = lines[i + 1] if i + 1 < len(lines) else None
        if paragraph.endswith(SOFT_HYPHEN):
            paragraph = paragraph[:-1] + line
        elif paragraph and line[:1] in ",.;:)]":  # punctuation goes on with what it follows
            paragraph += line
        else:
            paragraph = f"{paragraph} {line}" if paragraph else line
        alone = stands_alone(line)
        ends = bool(_ENDS_SENTENCE.search(line)) and len(line) < FULL * full
        if following is None:
            out.append((paragraph, not ends and not alone))
        elif (alone or ends or _LIST_ITEM.match(following)
              or (stands_alone(following) and not _ENDS_SENTENCE.search(following) and following[:1] not in ",.;:)]")):
            out.append((paragraph.replace(SOFT_HYPHEN, "-"), False))
            paragraph = ""
    return out


def clean_pages(pages: list[str]) -> tuple[str, tuple[int, ...]]:
    """The pages' text cleaned and joined (see the module's docstring), and the offset where each page starts."""
    split = [[line for line in (_clean_line(x) for x in page.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
              if line] for page in pages]
    running = _running_lines(split)
    text, runs_on = "", False
    starts: list[int | None] = []
    for lines, drop in zip(split, running):
        paragraphs = _paragraphs([line for i, line in enumerate(lines) if i not in drop])
        first = True
        for words, more in paragraphs:
            if first:
                if not text:
                    pass
                elif runs_on and words[:1].islower():  # the sentence goes on over the page break
                    text = text[:-1] if text.endswith(SOFT_HYPHEN) else text + " "
                else:
                    text = (text[:-1] + "-" if text.endswith(SOFT_HYPHEN) else text) + "\n\n"
                starts.append(len(text))
                first = False
            else:
                text += "\n\n"
            text += words
            runs_on = more
        if first:  # a page with no text (a figure, a blank page): it starts where the next page does
            starts.append(None)
    text = text.replace(SOFT_HYPHEN, "-")
    following = len(text)
    for i in reversed(range(len(starts))):
        following = starts[i] = following if starts[i] is None else starts[i]
    return text, tuple(starts)


def page_of(starts: tuple[int, ...], offset: int) -> int:
    """The 1-based page holding character `offset`, given where each page starts."""
    import bisect

    return max(1, bisect.bisect_right(starts, offset))
