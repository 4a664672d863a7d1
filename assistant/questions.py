"""What makes a question askable; light to import (the UI checks questions before the models are loaded)."""

from __future__ import annotations

import re

MAX_QUESTION = 2000
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says how to fix it."""


def one_line(text: str) -> str:
    """The text without terminal escape sequences or control characters, its whitespace collapsed to one line."""
    return " ".join(_CONTROL.sub(" ", text).split())


def clean_question(question: str) -> str:
    """The question without terminal escape sequences or control characters, on one line; or QuestionError."""
    cleaned = one_line(question)
    if not cleaned:
        raise QuestionError("the question is empty; type a question about the documents")
    if len(cleaned) > MAX_QUESTION:
        raise QuestionError(f"the question is {len(cleaned):,} characters long; keep it under {MAX_QUESTION:,}")
    return cleaned
