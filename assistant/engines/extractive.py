"""The default engine: answer with the retrieved sentences that best answer the question, in the documents' own words."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from store import CrossEncoder, Passage, Span
from store.chunking import sentence_spans
from store.encoders import LateInteraction

from assistant.analysis import QuestionAnalysis, analyse
from assistant.answer_kinds import holds_answer
from assistant.engines.base import Draft, Evidence, Quote, ScoredSentence
from assistant.engines.features import SentenceContext, combine, features, shares
from assistant.meaning import verdict

# The cross-encoder scores few sentences: the best for the question by ColBERT (whose sentence vectors are computed
# once), and those around the previous answer. Held out on CoQA and natural dev (fit_features.py), 6 (+2) chosen
# by ColBERT picks as well as all of them and better than 12 (+3) sharing most words, with half the pairs.
CANDIDATES = 6
NEIGHBOURS = 2
PREPARE_LIMIT = 1500  # sentences of a conversation's documents encoded for ColBERT ahead of its first question
JOINED_CANDIDATES = 4  # on a follow-up, the best sentences for the question alone, scored again joined
MAX_SENTENCES = 2
FOLLOW_MARGIN = 0.15  # a second sentence joins the answer when its combined score is this close to the best
# why / how / list questions: up to three sentences make the answer, each this close to the best
EXPLAIN_SENTENCES = 3
EXPLAIN_MARGIN = 0.3
# the best candidates searched for a sentence holding the expected kind of answer: a number must be in the best one
# (most news sentences hold some name, place or date, few the asked-for count or sum)
TYPE_DEPTH = {"number": 1, "money": 1, "quantity": 1}
TYPE_DEPTH_OTHER = 3
SUMMARY_SENTENCES = 3  # an overview answer's sentences
SUMMARY_POOL = 300  # sentences of a document considered for its summary (a longer one: its opening's)
SUMMARY_OPENING = 60
SUMMARY_REDUNDANCY = 0.5  # how much a candidate's likeness to the chosen sentences counts against it


class ExtractiveEngine:
    """Picks the sentences that best answer the question, scored by the cross-encoder and the conversation;
    cites each one exactly."""

    name = "extractive"
    model = "ms-marco-MiniLM-L-12 sentence scorer"

    def __init__(self, cross_encoder: CrossEncoder, late: LateInteraction, refuse_below: float,
                 embed: Callable[[list[str]], np.ndarray] | None = None):
        """`late` (ColBERT) chooses the sentences the cross-encoder scores; `embed` gives unit vectors for sentences
        (the index's bge model): overview questions need it."""
        self.cross_encoder = cross_encoder
        self.refuse_below = refuse_below
        self.embed = embed
        self.late = late
        self._vectors: dict[tuple[str, int], tuple[list[tuple[int, int]], np.ndarray]] = {}
        self._recalled: set[tuple[str, int]] = set()  # documents whose saved sentence vectors were looked for

    def answer(self, evidence: Evidence, on_token: Callable[[str], None] | None = None) -> Draft:
        analysis = evidence.analysis or analyse(evidence.question)
        if analysis.intent == "overview" and self.embed is not None:
            draft = self.overview(evidence, analysis)
        else:
            draft = self._answer(evidence, analysis)
        if on_token and draft.text and not draft.refused:
            on_token(draft.text)
        return draft

    def _answer(self, evidence: Evidence, analysis: QuestionAnalysis) -> Draft:
        parts = [(part, analyse(part)) for part in analysis.parts]
        if len(parts) > 1 and all(a.intent not in ("yesno", "overview") for _, a in parts):
            return self._answer_parts(evidence, parts)
        ranked = self.rank(evidence, analysis)
        draft = self._choose(ranked, evidence, analysis)
        draft.ranked = ranked
        return draft

    def _answer_parts(self, evidence: Evidence, parts: list[tuple[str, QuestionAnalysis]]) -> Draft:
        """A question that asks two things: each part answered on its own (with the kind of answer it asks for), the
        sentences joined in reading order; refused when no part is answered."""
        drafts = [self._answer(replace(evidence, question=part, analysis=analysis), analysis) for part, analysis in parts]
        answered = [draft for draft in drafts if not draft.refused]
        if not answered:
            return drafts[0]
        quotes = sorted({(q.document_id, q.start): q for draft in answered for q in draft.quotes}.values(),
                        key=lambda q: (q.document_id, q.start))
        ranked = sorted((s for draft in answered for s in draft.ranked), key=lambda s: -s.score)
        return Draft(text=_cited(quotes), quotes=quotes, refused=False,
                     ranked=list({(s.document_id, s.start): s for s in ranked}.values()))

    def _choose(self, ranked: list[ScoredSentence], evidence: Evidence, analysis: QuestionAnalysis) -> Draft:
        if self.refuses(ranked, evidence):
            return Draft(text="", quotes=[], refused=True)
        best = ranked[0]
        if analysis.answer_type is not None:
            # the best of the top candidates that holds the kind of answer asked for; none: the documents do not say
            depth = TYPE_DEPTH.get(analysis.answer_type, TYPE_DEPTH_OTHER)
            holding = [s for s in ranked[:depth] if s.score > -math.inf and holds_answer(s.text, analysis)]
            if not holding:
                return _near_miss(best, analysis)
            best = holding[0]
        rest = [s for s in ranked if s is not best and s.score > -math.inf]
        if analysis.intent in ("why", "how", "list"):
            chosen = [best] + [s for s in rest[: EXPLAIN_SENTENCES - 1] if s.score >= best.score - EXPLAIN_MARGIN]
        else:
            chosen = [best] + [s for s in rest[: MAX_SENTENCES - 1] if s.score >= best.score - FOLLOW_MARGIN]
        taken = {(s.document_id, s.start) for s in chosen}
        chosen += [after for s in list(chosen)
                   if (after := _introduced(s, evidence)) and (after.document_id, after.start) not in taken]
        chosen.sort(key=lambda s: (s.document_id, s.start))  # read in document order
        quotes = [_quote(s) for s in chosen]
        text = _cited(chosen)
        if analysis.intent == "yesno":
            text = f"{verdict(evidence.question, best.text)} — {text}"
        return Draft(text=text, quotes=quotes, refused=False)

    def overview(self, evidence: Evidence, analysis: QuestionAnalysis) -> Draft:
        """A cited summary: the sentences most central to the document (closest to the mean of its sentence
        vectors) that say different things, in reading order; "What else?" goes on with sentences not yet quoted."""
        document = _summarised_document(evidence)
        if document is None:
            return Draft(text="", quotes=[], refused=True)
        text = evidence.document_text(document)
        spans, vectors = self._sentence_vectors(document, text, evidence.passages)
        if not spans:
            return Draft(text="", quotes=[], refused=True)
        quoted = {start for doc, start in evidence.quoted if doc == document} if analysis.continues else set()
        centroid = vectors.mean(axis=0)
        centrality = vectors @ (centroid / max(float(np.linalg.norm(centroid)), 1e-12))
        open_ = [k for k, (start, end) in enumerate(spans) if not any(start <= q < end for q in quoted)]
        # the opening says what a text is (a news story's lead, a manual's title and abstract): it comes first
        chosen: list[int] = open_[:1] if open_ and open_[0] == 0 else []
        open_ = [k for k in open_ if k not in chosen]
        while open_ and len(chosen) < SUMMARY_SENTENCES:
            redundancy = (vectors[open_] @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(open_))
            gain = centrality[open_] - SUMMARY_REDUNDANCY * redundancy
            pick = open_[int(np.argmax(gain))]
            chosen.append(pick)
            open_.remove(pick)
        if not chosen:
            return Draft(text="", quotes=[], refused=True)
        title = next((p.title for p in evidence.passages if p.document_id == document), document)
        # a summary sentence's score is its centrality, as a logit (the sources show sigmoid(score)); the summary
        # reads in document order, its sources in the order of their scores
        picked = [ScoredSentence(_span(document, text, *spans[k][:2]), title, k, 0,
                                 ce_question=_logit(float(centrality[k])), ce_joined=_logit(float(centrality[k])),
                                 score=_logit(float(centrality[k])))
                  for k in sorted(chosen)]
        return Draft(text=_cited(picked),
                     quotes=[_quote(s) for s in picked], ranked=sorted(picked, key=lambda s: -s.score))

    def _sentence_vectors(self, document: str, text: str, passages: Sequence[Passage]):
        """The document's summarisable sentences (spans) and their unit vectors, computed once per document."""
        key = (document, len(text))
        if key not in self._vectors:
            sentences = [(s, e) for s, e, _ in sentence_spans(text)]
            opening = next(((s, e) for s, e in sentences if _opening(text[s:e])), None)
            spans = [(s, e) for s, e in sentences if _prose(text[s:e]) and (s, e) != opening]
            if len(spans) > SUMMARY_POOL:  # a long document (a manual): its opening pages say what it is about
                spans = spans[:SUMMARY_OPENING]
            spans = ([opening] if opening else []) + spans  # (first: the summary starts with it)
            vectors = self.embed([text[s:e] for s, e in spans]) if spans else np.zeros((0, 1), dtype=np.float32)
            if len(self._vectors) > 64:
                self._vectors.clear()
            self._vectors[key] = (spans, vectors)
        return self._vectors[key]

    def prepare(self, texts: Sequence[str]) -> None:
        """Encode the sentences of these document texts for ColBERT now (a conversation's documents, before its
        first question), or read them back where an earlier process saved them; with too many sentences, only
        read back: each turn encodes the ones it needs."""
        documents = [[text[s:e] for s, e, _ in sentence_spans(text)] for text in texts]
        encode = sum(map(len, documents)) <= PREPARE_LIMIT
        for sentences in documents:  # a document at a time: saved on disk by its sentences, read back next time
            if encode:
                self.late.encode_document(sentences)
            else:
                self.late.recall(sentences)

    def refuses(self, ranked: Sequence[ScoredSentence], evidence: Evidence) -> bool:
        """No sentence answers the question taken alone (calibrated in benchmarks/coqa_refusal.py: joining a
        follow-up with the previous question lets off-topic questions through) — unless the question has at most one
        content word of its own and leans on the last turn ("And the short one?", "Why so few?"): alone it says
        nothing, so it is judged joined with the previous question too."""
        if not ranked:
            return True
        analysis = evidence.analysis
        if evidence.history and analysis is not None and analysis.bare:
            return max(max(s.ce_joined, s.ce_question) for s in ranked) < self.refuse_below
        return max(s.ce_question for s in ranked) < self.refuse_below

    def rank(self, evidence: Evidence, analysis: QuestionAnalysis) -> list[ScoredSentence]:
        """Candidate sentences, best first: the cross-encoder's verdict combined with where the conversation is and
        the kind of answer the question expects."""
        spans_of = _SentenceIndex(evidence.document_text)
        previous = spans_of.locate(*evidence.cited[-1]) if evidence.cited else None
        if previous is not None and evidence.documents and previous[0] not in evidence.documents:
            previous = None  # the question is about another document ("In the library story, ...")
        cited = {spans_of.locate(doc, start) for doc, start in evidence.cited}
        candidates = _candidate_sentences(evidence.passages, spans_of)
        self._recall(spans_of, {s.document_id for s in candidates})
        near = _neighbours(previous, evidence.passages, spans_of) if previous else []
        pruned = self._prune(candidates, near, evidence.question)
        if not pruned:
            return []
        # the cross-encoder's logit says whether a sentence answers at all (the refusal is calibrated on it); on a
        # first question, its sentence head (store/sentence_head.py, fitted on single questions) says which answers
        # best, and ranks. A follow-up ranks by the logits: the head added nothing there (benchmarks/fit_features.py)
        alone, head = _split(self.cross_encoder.score_sentences(evidence.question, [s.text for s in pruned]))
        follow_up = bool(evidence.history)
        joined, dropped = alone, []
        if follow_up:
            # A cascade: only the sentences that best answer the question alone, and the previous answer's, are
            # scored again joined with the previous question (held out: no loss, two thirds of the pairs; fit_features.py).
            order = sorted(range(len(pruned)), key=lambda k: -alone[k])
            kept = sorted(set(order[:JOINED_CANDIDATES]) | {k for k, s in enumerate(pruned) if (s.document_id, s.index) == previous})
            dropped = [replace(pruned[k], ce_question=alone[k], ce_joined=alone[k], score=-math.inf)
                       for k in order if k not in kept]
            pruned, alone = [pruned[k] for k in kept], [alone[k] for k in kept]
            joined = self.cross_encoder.score(f"{evidence.history[-1][0]} {evidence.question}", [s.text for s in pruned])
        by_question, by_joined = (alone, joined) if follow_up else (head, head)
        share_alone, share_joined = shares(by_question), shares(by_joined)
        ranked = []
        for k, sentence in enumerate(pruned):
            same_doc = previous is not None and previous[0] == sentence.document_id
            context = SentenceContext(
                answer_type=analysis.answer_type, follow_up=follow_up, previous=previous[1] if same_doc else None,
                cited={i for doc, i in cited if doc == sentence.document_id}, count=spans_of.count(sentence.document_id),
            )
            vector = features(context, sentence.index, sentence.text, by_question[k], by_joined[k], share_alone[k],
                              share_joined[k])
            ranked.append(replace(sentence, ce_question=alone[k], ce_joined=joined[k], score=combine(vector, follow_up)))
        # the sentences out of the running stay, last, so their passages keep a score among the sources
        return sorted(ranked, key=lambda s: (-s.score, s.passage_rank, s.start)) + dropped

    def _recall(self, spans_of: _SentenceIndex, documents: set[str]) -> None:
        """Read back the sentence vectors saved for these documents (by `prepare`, in this process or an earlier
        one), once per document text."""
        for document in sorted(documents):
            text = spans_of.document_text(document)
            if (document, hash(text)) not in self._recalled:
                if len(self._recalled) > 1024:
                    self._recalled.clear()
                self._recalled.add((document, hash(text)))
                self.late.recall([text[s:e] for s, e, _ in spans_of.spans(document)])

    def _prune(self, sentences: list[ScoredSentence], near: list[ScoredSentence], question: str) -> list[ScoredSentence]:
        """The sentences ColBERT ranks best for the question (ties: better passages first), plus those near the
        previous answer."""
        scores = self.late.score(question, [s.text for s in sentences])
        order = sorted(range(len(sentences)), key=lambda k: -scores[k])
        kept = [sentences[k] for k in order[:CANDIDATES]]
        have, said = {(s.document_id, s.index) for s in kept}, {s.text for s in kept}
        return kept + [s for s in near if (s.document_id, s.index) not in have and s.text not in said]


_PROSE_END = re.compile(r"""[.!?…]["'”’)\]]*$""")


def _prose(sentence: str) -> bool:
    """A sentence of running text, fit for a summary: six words at least, ending as a sentence ends, and mostly
    words (not a heading, a table row or a line of the table of contents)."""
    words = sentence.split()
    return (len(words) >= 6 and bool(_PROSE_END.search(sentence))
            and sum(any(ch.isalpha() for ch in w) for w in words) >= 0.7 * len(words))


def _opening(sentence: str) -> bool:
    """The sentence that opens a text (its lead, or its title with its subtitle): four words at least, mostly
    words, not a line of the table of contents (which ends with a page number)."""
    words = sentence.split()
    return (len(words) >= 4 and not words[-1].isdigit()
            and sum(any(ch.isalpha() for ch in w) for w in words) >= 0.7 * len(words))


def _split(scored: list[tuple[float, float]]) -> tuple[list[float], list[float]]:
    """(logits, head scores) from the cross-encoder's (logit, head score) pairs."""
    return [logit for logit, _ in scored], [choice for _, choice in scored]


def _span(document_id: str, text: str, start: int, end: int) -> Span:
    """The span of `text` [start, end) (built unvalidated: hundreds per turn, from offsets just computed)."""
    return Span.model_construct(document_id=document_id, start=start, end=end, text=text[start:end])


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _introduced(sentence: ScoredSentence, evidence: Evidence) -> ScoredSentence | None:
    """What a sentence that ends with a colon introduces ("On Windows, run:"): the block after it, a command or
    a list's first item, without which it answers nothing; None for any other sentence."""
    if not sentence.text.rstrip().endswith(":"):
        return None
    text = evidence.document_text(sentence.document_id)
    following = next(((s, e) for s, e, _ in sentence_spans(text[sentence.end:sentence.end + 2000])), None)
    if following is None:
        return None
    start, end = sentence.end + following[0], sentence.end + following[1]
    return replace(sentence, span=_span(sentence.document_id, text, start, end), index=sentence.index + 1)


def _cited(sentences: Sequence[ScoredSentence] | Sequence[Quote]) -> str:
    """The sentences, each with its marker; one that does not end as a sentence does (a heading, a table row)
    stands in a paragraph of its own, so it is never read (nor checked) as part of the next."""
    text = ""
    for i, s in enumerate(sentences, start=1):
        if text:
            text += " " if _PROSE_END.search(sentences[i - 2].text.rstrip()) else "\n\n"
        text += f"{s.text} [{i}]"
    return text


def _quote(s: ScoredSentence) -> Quote:
    return Quote(document_id=s.document_id, title=s.title, start=s.start, end=s.end, text=s.text)


_KIND = {"name": "name", "place": "place", "date": "date or time", "number": "number", "money": "sum of money",
         "quantity": "figure"}


def _near_miss(closest: ScoredSentence, analysis: QuestionAnalysis) -> Draft:
    """A refusal that says what the documents do say about it, with the closest sentence cited."""
    kind = _KIND[analysis.answer_type or "name"]
    if analysis.answer_type == "number" and analysis.unit:
        kind = f"number of {analysis.unit_text or analysis.unit}"  # "no number of tanks"
    elif analysis.unit_text:
        kind = f"figure for the {analysis.unit_text}"  # "How much patent time": "no figure for the patent time"
    elif analysis.unit:
        kind = f"figure for how {analysis.unit}"  # "How long ...": "no figure for how long"
    # (no pronoun for the documents: the chain puts "The article does not say." or "The documents do not say." first)
    text = f"No {kind} is given for this; the closest passage: {closest.text} [1]"
    return Draft(text=text, quotes=[_quote(closest)], refused=True)


def _summarised_document(evidence: Evidence) -> str | None:
    """The document an overview question is about: the conversation's one document, else the best passage's."""
    if evidence.documents and len(evidence.documents) == 1:
        return evidence.documents[0]
    return evidence.passages[0].document_id if evidence.passages else None


class _SentenceIndex:
    """Sentence spans of each document, computed once per turn."""

    def __init__(self, document_text: Callable[[str], str]):
        self.document_text = document_text
        self._spans: dict[str, list[tuple[int, int, bool]]] = {}

    def spans(self, document: str) -> list[tuple[int, int, bool]]:
        if document not in self._spans:
            self._spans[document] = sentence_spans(self.document_text(document))
        return self._spans[document]

    def count(self, document: str) -> int:
        return len(self.spans(document))

    def locate(self, document: str, start: int) -> tuple[str, int]:
        """(document, index of the sentence holding character `start`)."""
        starts = [s for s, _, _ in self.spans(document)]
        return document, max(bisect_right(starts, start) - 1, 0)


def _neighbours(previous: tuple[str, int], passages: Sequence[Passage], index: _SentenceIndex) -> list[ScoredSentence]:
    """The sentences around the previous answer's: a follow-up's answer is usually close by."""
    document, at = previous
    spans = index.spans(document)
    text = index.document_text(document)
    title = next((p.title for p in passages if p.document_id == document), document)
    return [
        ScoredSentence(_span(document, text, s, e), title, i, passage_rank=len(passages) + 1)
        for i, (s, e, _) in enumerate(spans)
        if abs(i - at) <= NEIGHBOURS
    ]


def _candidate_sentences(passages: Sequence[Passage], index: _SentenceIndex) -> list[ScoredSentence]:
    """Every sentence that lies within a passage (clipped to it), once, tagged with its passage's rank; the same words
    in another document (an article indexed twice) are the same candidate, from the better passage."""
    seen: set[tuple[str, int]] = set()
    words: set[str] = set()
    out: list[ScoredSentence] = []
    for rank, passage in enumerate(passages, start=1):
        text = index.document_text(passage.document_id)
        for i, (start, end, _) in enumerate(index.spans(passage.document_id)):
            if end <= passage.start or start >= passage.end or (passage.document_id, i) in seen:
                continue
            start, end = max(start, passage.start), min(end, passage.end)
            if end - start < 3 or text[start:end] in words:
                continue
            seen.add((passage.document_id, i))
            words.add(text[start:end])
            out.append(ScoredSentence(_span(passage.document_id, text, start, end), passage.title, i, rank))
    return out


def rank_passages(passages: Sequence[Passage], ranked: Sequence[ScoredSentence]) -> list[tuple[Passage, float | None]]:
    """Passages in the order of their best-ranked sentence, with that sentence's score (the one `ranked` is ordered
    by, so the scores fall as the order goes); then the others as they came."""
    first: dict[str, tuple[int, float]] = {}
    for order, sentence in enumerate(ranked):
        for p in passages:
            if p.document_id == sentence.document_id and p.start <= sentence.start < p.end:
                first.setdefault(p.chunk_id, (order, sentence.score))
    scored = sorted((p for p in passages if p.chunk_id in first), key=lambda p: first[p.chunk_id][0])
    return [(p, first[p.chunk_id][1]) for p in scored] + [(p, None) for p in passages if p.chunk_id not in first]

