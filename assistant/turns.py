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


class Citation(Span):
    """An `[n]` marker in an answer: a quote with exact offsets into its document (`text` is the quote)."""

    n: int
    title: str
    verified: bool

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

    def flagged(self) -> list[tuple[str, str]]:
        """(sentence, reason) for each unsupported sentence of the answer."""
        reasons = self.reasons + ["no verified quote backs it"] * (len(self.unsupported) - len(self.reasons))
        return list(zip(self.unsupported, reasons))
