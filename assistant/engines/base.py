"""The seam every answer engine plugs into: evidence in, a draft answer with quotes out."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import ConfigDict

from store import Passage, Span
from store.chunking import sentence_spans

from assistant.analysis import QuestionAnalysis


# an answer's citation marker, "[n]" (with the space before it): quotes[n-1] of its Draft backs it
MARKER = re.compile(r"\s*\[(\d+)\]")
_MARKERS_AFTER_STOP = re.compile(r"""([.!?…]+["'”’)]*)((?:\s*\[\d+\])+)""")


def marked_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """An answer's sentences, each with the numbers of the markers it holds; markers after a sentence's stop
    belong to it ("Claim. [1]" is read as "Claim [1].")."""
    normalised = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", answer)
    return [(normalised[start:end], [int(n) for n in MARKER.findall(normalised[start:end])])
            for start, end, _ in sentence_spans(normalised)]


class TurnCancelled(Exception):
    """The turn was stopped before it finished; `partial` is the answer text produced so far."""

    def __init__(self, partial: str = ""):
        super().__init__("the answer was cancelled")
        self.partial = partial


class EngineError(RuntimeError):
    """The engine cannot answer (not installed, unreachable, failed); the message says what to do.

    When a turn fails, `partial` is what the engine had written and `conversation_id` the conversation
    the failed turn was stored in."""

    partial: str = ""
    conversation_id: str | None = None


@dataclass
class Evidence:
    """What an engine answers from: the question, the query that was searched, and what retrieval found."""

    question: str
    query: str
    passages: Sequence[Passage]
    document_text: Callable[[str], str]  # document id -> its full text, as indexed
    history: Sequence[tuple[str, str]] = ()  # (question, answer) pairs, oldest first
    cited: Sequence[tuple[str, int]] = ()  # (document, start) of each earlier answer's first citation, oldest first
    quoted: Sequence[tuple[str, int]] = ()  # (document, start) of every citation of the earlier answers
    documents: Sequence[str] | None = None  # the documents the conversation is about (None: all)
    analysis: QuestionAnalysis | None = None  # the question's analysis; engines analyse it when None


class Quote(Span):
    """A span an answer relies on, with its document's title; the citation check compares `text` with the
    document's text at [start, end)."""

    model_config = ConfigDict(frozen=True)

    title: str


@dataclass(frozen=True)
class ScoredSentence:
    """A candidate sentence: its span of the document, with its scores (rescored copies share the span)."""

    span: Span
    title: str
    index: int  # position of the sentence in its document
    passage_rank: int
    ce_question: float = 0.0  # cross-encoder logit for the question alone
    ce_joined: float = 0.0  # ... for the previous question and this one together (= ce_question on a first turn)
    score: float = 0.0  # the combined score that ranks candidates (-inf: out of the running)

    @property
    def document_id(self) -> str:
        return self.span.document_id

    @property
    def start(self) -> int:
        return self.span.start

    @property
    def end(self) -> int:
        return self.span.end

    @property
    def text(self) -> str:
        return self.span.text


@dataclass
class Draft:
    """An engine's answer: text with `[n]` markers, where quotes[n-1] backs marker n; `ranked`: the sentences
    it was chosen from, best first (engines that score sentences), which order the sources shown."""

    text: str
    quotes: list[Quote]
    refused: bool = False
    ranked: list[ScoredSentence] = field(default_factory=list)


class AnswerEngine(Protocol):
    """Answers a question from evidence; `on_token` receives the answer as it is produced."""

    name: str
    model: str

    def answer(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft: ...
