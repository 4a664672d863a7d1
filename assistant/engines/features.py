"""What the extractive engine knows about a candidate sentence, and the weights that combine it.

The weights are fitted by `benchmarks/fit_features.py` on the CoQA CNN dev dialogs and natural dev's conversations
together (cross-validated by story, held-out figures per set); refit them there rather than editing them by hand.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

FEATURES = [
    "ce_question",  # cross-encoder score for (question, sentence), / 10: its sentence head's on a first turn
    "ce_joined",  # cross-encoder logit for (previous question + question, sentence), / 10; 0 on first turns
    "same_as_previous",  # the sentence the previous answer cited
    "next_after_previous",  # the sentence right after it
    "soon_after_previous",  # two or three sentences after it
    "before_previous",  # one to three sentences before it
    "far_from_previous",  # min(distance, 10) / 10
    "cited_before",  # cited by any earlier answer
    "position",  # index / number of sentences
    "first_sentence",
    "type_match",  # the kind of answer the question expects (a number, name, date, place) is in the sentence
    "share_question",  # softmax share of ce_question among the candidates
    "share_joined",  # softmax share of ce_joined among the candidates; 0 on first turns
    "length",  # characters / 200, capped at 2
]

# Follow-ups are scored on the cross-encoder and where the conversation is; the answer-type and share features
# helped first turns but not follow-ups in cross-validation (benchmarks/fit_features.py).
FOLLOW_UP_FEATURES = FEATURES[:8]

# Fitted on CoQA CNN dev and natural dev together by benchmarks/fit_features.py (each set weighing the same), on the
# cross-encoder's scores of one pair at a time: its sentence head's on first turns (store/sentence_head.py, fitted on
# NYT questions), its logits on follow-ups. Held out by story, top-1 evidence hit: CoQA 0.750 first turns / 0.666
# follow-ups, natural 0.500 / 0.726 (type_match by the wh-word's prefix instead of the analysis's expected kind of
# answer, the same run: CoQA first 0.725; with the logits on first turns too: 0.725 / 0.664 and 0.467 / 0.726;
# fitted on CoQA alone: 0.775 / 0.661 and 0.500 / 0.690; the cross-encoder alone: 0.675 / 0.582 and 0.467 / 0.655). Scoring only the follow-ups that lean on the last turn with these features was measured and lost (natural
# follow-ups 0.673). Features not listed weigh 0.
WEIGHTS: dict[str, dict[str, float]] = {
    "first": {
        "ce_question": 2.5278,
        "position": -0.9938,
        "first_sentence": 0.3341,
        "type_match": 0.4123,
        "share_question": 2.2579,
        "length": 0.5397,
    },
    "follow-up": {
        "ce_question": 2.7007,
        "ce_joined": 1.3214,
        "same_as_previous": 0.5911,
        "next_after_previous": 0.6571,
        "soon_after_previous": 0.2293,
        "before_previous": 0.1972,
        "far_from_previous": -0.6592,
        "cited_before": -0.3467,
    },
}

_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|dozen|hundred|thousand|million)\b", re.I)
_DATE = re.compile(r"\b(1[89]\d\d|20\d\d|monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|"
                   r"march|april|may|june|july|august|september|october|november|december|yesterday|today|"
                   r"week|month|year|ago)\b", re.I)
_NAME = re.compile(r"(?<=[a-z,] )[A-Z][a-z]+")
_PLACE = re.compile(r"\b(in|at|from|to|near) [A-Z][a-z]+")


@dataclass
class SentenceContext:
    """The conversation as the scorer sees it for one turn."""

    answer_type: str | None  # what the question expects (assistant.analysis.QuestionAnalysis.answer_type)
    follow_up: bool
    previous: int | None = None  # index of the sentence the previous answer cited
    cited: set[int] = field(default_factory=set)  # indices of every sentence cited so far
    count: int = 1  # sentences in the document


_LOOKS_LIKE = {"number": _NUMBER, "money": _NUMBER, "quantity": _NUMBER, "date": _DATE, "name": _NAME, "place": _PLACE}


def type_match(answer_type: str | None, sentence: str) -> float:
    """1 when the sentence looks as if it holds the kind of answer expected (a cheap pattern: this runs on every
    candidate; `assistant.answer_kinds` reads the parse, for the few the engine chooses among)."""
    pattern = _LOOKS_LIKE.get(answer_type)
    return float(bool(pattern and pattern.search(sentence)))


def shares(logits: list[float]) -> list[float]:
    """Softmax of cross-encoder logits over the candidates: how much each stands out from the rest."""
    top = max(logits)
    weights = [math.exp(x - top) for x in logits]
    total = sum(weights)
    return [w / total for w in weights]


def features(context: SentenceContext, index: int, text: str, ce_question: float, ce_joined: float,
             share_question: float, share_joined: float) -> list[float]:
    """The feature vector of sentence `index` (in FEATURES order)."""
    values = dict.fromkeys(FEATURES, 0.0)
    values["share_question"] = share_question
    values["share_joined"] = share_joined if context.follow_up else 0.0
    values["length"] = min(len(text) / 200, 2.0)
    values["ce_question"] = ce_question / 10
    values["ce_joined"] = ce_joined / 10 if context.follow_up else 0.0
    if context.previous is not None:
        d = index - context.previous
        values["same_as_previous"] = float(d == 0)
        values["next_after_previous"] = float(d == 1)
        values["soon_after_previous"] = float(d in (2, 3))
        values["before_previous"] = float(-3 <= d <= -1)
        values["far_from_previous"] = min(abs(d), 10) / 10
    values["cited_before"] = float(index in context.cited)
    values["position"] = index / max(context.count, 1)
    values["first_sentence"] = float(index == 0)
    values["type_match"] = type_match(context.answer_type, text)
    return [values[name] for name in FEATURES]


def combine(vector: list[float], follow_up: bool) -> float:
    """The sentence's score: the weighted sum of its features, with the weights of its kind of turn."""
    weights = WEIGHTS["follow-up" if follow_up else "first"]
    return sum(weights.get(name, 0.0) * value for name, value in zip(FEATURES, vector, strict=True))
