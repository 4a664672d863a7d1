"""The default engine: answer with the retrieved sentences that best answer the question, in the documents' own words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from store import CrossEncoder, Passage
from store.chunking import sentence_spans

from assistant.engines.base import Draft, Evidence, Quote
from assistant.followup import salient_terms

CANDIDATES = 12  # sentences the cross-encoder scores, after a cheap lexical prune
MAX_SENTENCES = 3
FOLLOW_MARGIN = 1.5  # a further sentence joins the answer when its score is within this of the best


@dataclass(frozen=True)
class ScoredSentence:
    document: str
    title: str
    start: int
    end: int
    text: str
    passage_rank: int
    score: float = 0.0


class ExtractiveEngine:
    """Picks one to three sentences from the passages with the cross-encoder; cites each one exactly."""

    name = "extractive"
    model = "ms-marco-MiniLM-L-12 sentence scorer"

    def __init__(self, cross_encoder: CrossEncoder, refuse_below: float):
        self.cross_encoder = cross_encoder
        self.refuse_below = refuse_below

    def answer(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft:
        candidates = _candidate_sentences(evidence.passages, evidence.document_text)
        pruned = _prune(candidates, evidence.question + " " + evidence.query, CANDIDATES)
        scored = self.score(pruned, evidence)
        evidence.ranked_sentences = scored
        if not scored or scored[0].score < self.refuse_below:
            return Draft(text="", quotes=[], refused=True)
        best = scored[0].score
        chosen = [s for s in scored[:MAX_SENTENCES] if s.score >= max(best - FOLLOW_MARGIN, self.refuse_below)]
        chosen.sort(key=lambda s: (s.document, s.start))  # read in document order
        quotes = [Quote(document=s.document, title=s.title, start=s.start, end=s.end, text=s.text) for s in chosen]
        text = " ".join(f"{s.text} [{i}]" for i, s in enumerate(chosen, start=1))
        if on_token:
            on_token(text)
        return Draft(text=text, quotes=quotes, refused=False)

    def score(self, sentences: Sequence[ScoredSentence], evidence: Evidence) -> list[ScoredSentence]:
        """Cross-encoder scores against the question and, for a follow-up, against the resolved query; best first."""
        if not sentences:
            return []
        texts = [s.text for s in sentences]
        scores = self.cross_encoder.score(evidence.question, texts)
        if evidence.query != evidence.question:
            resolved = self.cross_encoder.score(evidence.query, texts)
            scores = [max(a, b) for a, b in zip(scores, resolved, strict=True)]
        ranked = [
            ScoredSentence(**{**s.__dict__, "score": score}) for s, score in zip(sentences, scores, strict=True)
        ]
        return sorted(ranked, key=lambda s: (-s.score, s.passage_rank, s.start))


def _candidate_sentences(passages: Sequence[Passage], document_text: Callable[[str], str]) -> list[ScoredSentence]:
    """Every sentence that lies within a passage (clipped to it), once, tagged with its passage's rank."""
    seen: set[tuple[str, int]] = set()
    out: list[ScoredSentence] = []
    spans_of: dict[str, list[tuple[int, int, bool]]] = {}
    for rank, passage in enumerate(passages, start=1):
        text = document_text(passage.document_id)
        if passage.document_id not in spans_of:
            spans_of[passage.document_id] = sentence_spans(text)
        for start, end, _ in spans_of[passage.document_id]:
            if end <= passage.start or start >= passage.end:
                continue
            start, end = max(start, passage.start), min(end, passage.end)
            if (passage.document_id, start) in seen or end - start < 3:
                continue
            seen.add((passage.document_id, start))
            out.append(ScoredSentence(passage.document_id, passage.title, start, end, text[start:end], rank))
    return out


def _prune(sentences: list[ScoredSentence], query: str, keep: int) -> list[ScoredSentence]:
    """The sentences sharing most query terms (ties: better passages first), so the cross-encoder scores few."""
    if len(sentences) <= keep:
        return sentences
    terms = {t.lower()[:6] for t in salient_terms(query)}

    def overlap(s: ScoredSentence) -> float:
        words = {t.lower()[:6] for t in salient_terms(s.text)}
        return len(terms & words) - 0.1 * s.passage_rank

    return sorted(sentences, key=overlap, reverse=True)[:keep]
