"""A span of a document, the one shape every chunk, passage, quote and citation shares."""

from __future__ import annotations

from pydantic import BaseModel, computed_field


class Span(BaseModel):
    """Characters [start, end) of a document: `text == document.text[start:end]`; `pages`, the pages of a paged
    document (a PDF) it stands on (none for other documents, or where not looked up)."""

    document_id: str
    start: int
    end: int
    text: str
    pages: list[int] = []

    @computed_field
    @property
    def page(self) -> int | None:
        """The page it starts on (a PDF's), or None."""
        return self.pages[0] if self.pages else None
