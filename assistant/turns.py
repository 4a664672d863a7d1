"""What one turn of a conversation produces: the answer, its citations and its sources."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, model_validator

from store import Passage, Span


def _earlier_names(data: Any, names: dict[str, str]) -> Any:
    """A stored turn's fields under the names they had before every span was a store.Span."""
    if isinstance(data, dict) and any(old in data for old in names):
        data = {names.get(key, key): value for key, value in data.items()}
    return data


def page_words(pages: list[int]) -> str:
    """A PDF span's pages in a reader's words: "page 3", "pages 3–4"; "" for a document without pages."""
    if not pages:
        return ""
    return f"page {pages[0]}" if len(pages) == 1 else f"pages {pages[0]}–{pages[-1]}"


def place(start: int, end: int, pages: list[int]) -> str:
    """Where a span is, in a reader's words: its page or pages in a PDF, then its characters."""
    characters = f"characters {start}–{end}"
    return f"{page_words(pages)}, {characters}" if pages else characters


class Citation(Span):
    """An `[n]` marker in an answer: a quote with exact offsets into its document (`text` is the quote)."""

    n: int
    title: str
    verified: bool
    stale: str | None = None  # why a quote verified when it was answered is no longer (its document changed)

    @model_validator(mode="before")
    @classmethod
    def _stored_earlier(cls, data: Any) -> Any:
        return _earlier_names(data, {"document": "document_id", "quote": "text"})


class Source(Passage):
    """A passage retrieval returned for the turn, best first."""

    rank: int

    @model_validator(mode="before")
    @classmethod
    def _stored_earlier(cls, data: Any) -> Any:
        return _earlier_names(data, {"document": "document_id"})


class SourceGroup(BaseModel):
    """The sources of one document, as a reader wants them: its title once, overlapping passages joined."""

    document_id: str
    title: str
    passages: list[Source]  # best first; a joined passage keeps its best rank and score


def _join(passages: list[Source]) -> list[Source]:
    """Overlapping (or touching) passages of one document as one span each, best first."""
    joined: list[Source] = []
    for p in sorted(passages, key=lambda p: p.start):
        last = joined[-1] if joined else None
        if last is not None and p.start <= last.end:
            if p.end > last.end:
                last = last.model_copy(update={"end": p.end, "text": last.text + p.text[last.end - p.start:]})
            joined[-1] = last.model_copy(update={"rank": min(last.rank, p.rank), "score": max(last.score, p.score)})
        else:
            joined.append(p)
    return sorted(joined, key=lambda p: p.rank)


class Turn(BaseModel):
    """One question and everything the assistant answered with."""

    question: str
    standalone_question: str
    answer: str
    refused: bool = False
    engine: str
    citations: list[Citation] = []
    sources: list[Source] = []
    unsupported: list[str] = []  # answer sentences no verified quote backs
    reasons: list[str] = []  # why, for each of `unsupported` ("the passage says 32, not 23")
    status: Literal["ok", "failed", "cancelled"] = "ok"
    error: str | None = None
    latency_ms: float = 0.0
    first_token_ms: float | None = None  # when the first words of the answer were ready (streamed by LLM engines)

    def source_groups(self) -> list[SourceGroup]:
        """The sources by document, the document with the best passage first; the same words appear once. The
        passages are numbered 1…n in the order shown (joined passages leave no gaps)."""
        by_document: dict[str, list[Source]] = {}
        for source in sorted(self.sources, key=lambda s: s.rank):
            by_document.setdefault(source.document_id, []).append(source)
        groups = [SourceGroup(document_id=document, title=passages[0].title, passages=_join(passages))
                  for document, passages in by_document.items()]
        shown = 0
        for group in groups:
            for k, passage in enumerate(group.passages):
                shown += 1
                group.passages[k] = passage.model_copy(update={"rank": shown})
        return groups

    def flagged(self) -> list[tuple[str, str]]:
        """(sentence, reason) for each unsupported sentence of the answer."""
        reasons = self.reasons + ["no verified quote backs it"] * (len(self.unsupported) - len(self.reasons))
        return list(zip(self.unsupported, reasons))
