"""Check every quote an answer relies on against the stored text, and flag the sentences no quote supports."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rapidfuzz import fuzz

from store import Document

from assistant.engines.base import MARKER, Quote, marked_sentences
from assistant.meaning import disagreement
from assistant.turns import Citation, Turn

FUZZY_THRESHOLD = 90.0  # rapidfuzz partial-ratio a quote needs to count as found in its document


def locate(quote: str, text: str, near: int = 0) -> tuple[int, int, float] | None:
    """Where a quote stands in a text: exact (score 100), else the best fuzzy alignment above the threshold."""
    if not quote.strip():
        return None
    at = text.find(quote, max(0, near - len(quote))) if near else -1
    if at < 0:
        at = text.find(quote)
    if at >= 0:
        return at, at + len(quote), 100.0
    alignment = fuzz.partial_ratio_alignment(quote, text, score_cutoff=FUZZY_THRESHOLD)
    if alignment is None:
        return None
    return alignment.dest_start, alignment.dest_end, alignment.score


def verify_quotes(answer: str, quotes: Sequence[Quote], document_text: Callable[[str], str]
                  ) -> tuple[list[Citation], list[tuple[str, str]]]:
    """Citations for quotes 1..n (verified when found in the stored text), the answer sentences left unsupported,
    and the reason for each: no verified quote, or a quote that says otherwise (checked for meaning)."""
    citations: list[Citation] = []
    for n, quote in enumerate(quotes, start=1):
        text = document_text(quote.document_id)
        start, end = quote.start, quote.end
        found = (start, end, 100.0) if text[start:end] == quote.text else locate(quote.text, text, near=start)
        if found:
            start, end, _ = found
        citations.append(Citation(n=n, document_id=quote.document_id, title=quote.title, start=start, end=end,
                                  text=text[start:end] if found else quote.text, verified=bool(found)))
    quoted = {c.n: c.text for c in citations if c.verified}
    return citations, unsupported_sentences(answer, quoted)


def unsupported_sentences(answer: str, quoted: dict[int, str]) -> list[tuple[str, str]]:
    """(sentence, reason) for each answer sentence with words but without a marker, with a marker whose quote
    did not verify, or whose verified quotes all say otherwise."""
    unsupported = []
    for sentence, numbers in marked_sentences(answer):
        markers = set(numbers)
        claim = MARKER.sub("", sentence).strip()
        if not any(ch.isalnum() for ch in claim):
            continue
        if not markers:
            unsupported.append((sentence, "it cites no passage"))
        elif not markers <= quoted.keys():
            unsupported.append((sentence, "its quote is not in the documents"))
        elif _is_verdict(claim):
            continue  # a bare "Yes" or "No": the engine checked its polarity against the quote it chose
        else:
            reasons = [disagreement(claim, quoted[n]) for n in sorted(markers)]
            if all(reasons):
                unsupported.append((sentence, reasons[0]))
    return unsupported


_VERDICT = re.compile(r"^(yes|no)\W*$", re.IGNORECASE)


def _is_verdict(claim: str) -> bool:
    return bool(_VERDICT.match(claim))


def recheck(turns: Sequence[Turn], document: Callable[[str], Document | None],
            changed_on: Callable[[str], str]) -> list[Turn]:
    """The turns, each verified citation checked against its document as indexed now: one whose document is gone,
    or whose quote is no longer at its offsets, is stale (and no longer verified), with the reason. `changed_on`
    gives the date a document was last indexed, as a reader reads it."""
    documents: dict[str, Document | None] = {}
    out = []
    for turn in turns:
        citations = []
        for c in turn.citations:
            if c.verified:
                if c.document_id not in documents:
                    documents[c.document_id] = document(c.document_id)
                stale = _drift(c, documents[c.document_id], changed_on)
                if stale:
                    c = c.model_copy(update={"verified": False, "stale": stale})
            citations.append(c)
        out.append(turn if citations == turn.citations else turn.model_copy(update={"citations": citations}))
    return out


def _drift(citation: Citation, current: Document | None, changed_on: Callable[[str], str]) -> str | None:
    """Why the document no longer says the quote where it did; None while it does."""
    if current is None:
        return "its document is no longer indexed"
    if current.text[citation.start:citation.end] == citation.text:
        return None
    when = changed_on(citation.document_id)
    at = current.text.find(citation.text)
    if at >= 0:
        return f"the document changed on {when}; the quote now stands at characters {at}–{at + len(citation.text)}"
    return f"the document changed on {when} and no longer says this"
