"""What one turn of a conversation produces: the answer, its citations and its sources."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Citation(BaseModel):
    """An `[n]` marker in an answer: a quote with exact offsets into its document (`quote == text[start:end]`)."""

    n: int
    document: str
    title: str
    start: int
    end: int
    quote: str
    verified: bool


class Source(BaseModel):
    """A passage retrieval returned for the turn, best first."""

    rank: int
    document: str
    title: str
    chunk_id: str
    start: int
    end: int
    text: str
    score: float


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
