"""The seam every answer engine plugs into: evidence in, a draft answer with quotes out."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import ConfigDict

from store import Passage, Span
from store.chunking import sentence_spans

if TYPE_CHECKING:  # (the analysis and the extractive engine import this module)
    from assistant.analysis import QuestionAnalysis
    from assistant.engines.extractive import ScoredSentence


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
