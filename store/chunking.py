"""Split a document into chunks along sentence and paragraph boundaries, keeping exact offsets."""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Iterator

from pydantic import ConfigDict

from store.documents import Document
from store.spans import Span

DEFAULT_CHUNK_SIZE = 500
DEFAULT_CHUNK_OVERLAP = 100


class Chunk(Span):
    """A span of a document the index embeds, by a content-derived id."""

    model_config = ConfigDict(frozen=True)

    id: str


# A sentence ends at . ! ? or … (with closing quotes or brackets) followed by white space.
_SENTENCE_END = re.compile(r"""[.!?…]+["'”’»)\]]*(?=\s)""")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")
# Words after which a full stop rarely ends a sentence.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st mt gen col lt sgt capt gov sen rep rev vs etc fig no inc ltd co corp jan feb mar apr "
    "jun jul aug sep sept oct nov dec e.g i.e u.s u.k u.n a.m p.m".split()
)


def _is_abbreviation(text: str, dot: int) -> bool:
    word = re.search(r"([\w.]+)\.?$", text[max(0, dot - 12) : dot])
    if not word:
        return False
    token = word.group(1).lower().rstrip(".")
    return token in _ABBREVIATIONS or (len(token) == 1 and token.isalpha())


def sentence_spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, starts_paragraph) of each sentence, white space excluded, in order."""
    return list(_sentence_spans(text))


def _sentence_spans(text: str) -> Iterator[tuple[int, int, bool]]:
    for para_start, para_end in _paragraphs(text):
        start = para_start
        first = True
        for match in _SENTENCE_END.finditer(text, para_start, para_end):
            end = match.end()
            if text[match.start()] == "." and match.end() - match.start() == 1 and _is_abbreviation(text, match.start()):
                continue
            if text[start:end].strip():
                yield *_strip(text, start, end), first
                first = False
            start = end
        if text[start:para_end].strip():
            yield *_strip(text, start, para_end), first


def _paragraphs(text: str) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        yield start, match.start()
        start = match.end()
    yield start, len(text)


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut_long(text: str, start: int, end: int, size: int) -> Iterator[tuple[int, int]]:
    """Cut a span longer than `size` at white space (or hard, if there is none) into pieces of at most `size`."""
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size + 1)
        cut = cut if cut > start else start + size
        piece = _strip(text, start, cut)
        if piece[1] > piece[0]:
            yield piece
        start = _strip(text, cut, end)[0]
    if end > start:
        yield start, end


def chunk_document(document: Document, size: int = DEFAULT_CHUNK_SIZE, overlap: int = DEFAULT_CHUNK_OVERLAP) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `size` characters; consecutive chunks share about `overlap`.

    A chunk starts a fresh paragraph when the paragraph would not fit in what is left of it,
    and a sentence is cut only when it alone is longer than `size`.
    """
    return [make_chunk(document, start, end) for start, end in chunk_spans(document.text, size, overlap)]


def chunk_spans(text: str, size: int = DEFAULT_CHUNK_SIZE, overlap: int = DEFAULT_CHUNK_OVERLAP) -> list[tuple[int, int]]:
    """The (start, end) of each chunk `chunk_document` makes, without the chunks: a huge text's spans are cheap
    to hold while its chunks are made a few at a time."""
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"chunk size must be positive and overlap in [0, size); got size={size}, overlap={overlap}")
    # the units (sentences, long ones cut) as flat arrays: a 50 MB text has ~560,000 of them
    starts, ends, opens = array("q"), array("q"), bytearray()  # opens[i]: unit i starts a paragraph
    for start, end, new_paragraph in _sentence_spans(text):
        for i, (s, e) in enumerate(_cut_long(text, start, end, size)):
            starts.append(s)
            ends.append(e)
            opens.append(new_paragraph and i == 0)

    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(starts):
        first = i
        chunk_start, chunk_end = starts[i], ends[i]
        i += 1
        while i < len(starts) and ends[i] - chunk_start <= size:
            if opens[i] and _paragraph_end(ends, opens, i, chunk_start, size) is None and chunk_end - chunk_start > size // 2:
                break  # the next paragraph would be split: start it in a new chunk
            chunk_end = ends[i]
            i += 1
        spans.append((chunk_start, chunk_end))
        if i < len(starts) and overlap:
            # step back over whole sentences that fit in the overlap, never to the chunk's own start
            back = i
            while back - 1 > first and chunk_end - starts[back - 1] <= overlap:
                back -= 1
            i = back
    return spans


def _paragraph_end(ends: array, opens: bytearray, i: int, chunk_start: int, size: int) -> int | None:
    """The end of the paragraph starting at unit i, if it fits in a chunk starting at chunk_start."""
    j = i + 1
    while j < len(ends) and not opens[j]:
        j += 1
    end = ends[j - 1]
    return end if end - chunk_start <= size else None


def make_chunk(document: Document, start: int, end: int) -> Chunk:
    text = document.text[start:end]
    digest = hashlib.sha256(f"{start}:{end}:{text}".encode()).hexdigest()[:16]
    return Chunk(id=f"{document.id}:{digest}", document_id=document.id, start=start, end=end, text=text)
