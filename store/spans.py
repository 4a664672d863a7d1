"""A span of a document, the one shape every chunk, passage, quote and citation shares."""

from __future__ import annotations

from pydantic import BaseModel


class Span(BaseModel):
    """Characters [start, end) of a document: `text == document.text[start:end]`."""

    document_id: str
    start: int
    end: int
    text: str
