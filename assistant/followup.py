"""Deterministic follow-up resolution: carry the salient terms of recent turns into the query that is searched."""

from __future__ import annotations

import re
from collections.abc import Sequence

import Stemmer
from bm25s.stopwords import STOPWORDS_EN

_WORD = re.compile(r"[\w’'-]+", re.UNICODE)
_STOP = frozenset(STOPWORDS_EN) | {
    "and", "also", "about", "what", "which", "who", "whom", "whose", "when", "where", "why", "how", "did", "does",
    "do", "said", "say", "says", "tell", "told", "much", "many", "side", "else", "other", "another", "yes", "no",
    "would", "could", "should", "may", "might", "one", "two", "get", "got", "make", "made", "like", "just", "there",
}
MAX_TERMS = 8


def salient_terms(text: str) -> list[str]:
    """Content words of a text, in order, without repeats or stop words."""
    seen: dict[str, str] = {}
    for word in _WORD.findall(text):
        key = word.lower().strip("’'-")
        if len(key) > 2 and key not in _STOP and not key.isdigit() and key not in seen:
            seen[key] = word.strip("’'-")
    return list(seen.values())


_STEMMER = Stemmer.Stemmer("english")


def content_stems(text: str) -> set[str]:
    """The stems of a text's content words ("85-year-old" holds "year" and "old")."""
    return set(_STEMMER.stemWords([w.lower() for w in salient_terms(text.replace("-", " "))]))


def resolve_followup(question: str, history: Sequence[tuple[str, str]]) -> str:
    """The question, followed by the salient terms of the last turn that it does not already use.

    `history` holds (question, answer) pairs, oldest first. Terms from the last question come first,
    then names from its answer, so "And the Azerbaijani side?" after a question about casualties
    searches for casualties too.
    """
    if not history:
        return question
    own = {term.lower() for term in salient_terms(question)}
    last_question, last_answer = history[-1]
    names_in_answer = [t for t in salient_terms(last_answer) if t[:1].isupper()]
    extra: list[str] = []
    for term in salient_terms(last_question) + names_in_answer:
        if term.lower() not in own and term.lower() not in {e.lower() for e in extra}:
            extra.append(term)
        if len(extra) == MAX_TERMS:
            break
    return f"{question} {' '.join(extra)}".strip() if extra else question


def keeps_question(question: str, rewritten: str) -> bool:
    """A model's rewrite of a follow-up still asks it: it is not empty and keeps at least half of the question's
    own content words (a small model sometimes answers, or repeats the last answer, instead of rewriting)."""
    if not rewritten.strip():
        return False
    own = content_stems(question)
    return len(own & content_stems(rewritten)) * 2 >= len(own)
