"""Whether a sentence holds the kind of answer a question expects (see `assistant.analysis`): the names, dates or
numbers of that kind it adds to the question, and in technical writing the options, files and versions that answer
as names do in the news.
"""

from __future__ import annotations

import re

from assistant.analysis import ENTITY_TYPES, TIME_UNITS, QuestionAnalysis
from assistant.followup import content_stems
from assistant.language import parse


def _names_it(span, noun: str) -> bool:
    """The name is the one the noun stands for in this sentence: in apposition ("her publisher, Laurence King";
    "Needles, Calif., a desert town"), compounded ("publisher Laurence King") or equated with it by "be"."""
    doc = span.doc
    if span.start > 0 and doc[span.start - 1].lemma_.lower() == noun:  # "publisher Laurence King" (often misparsed)
        return True
    root = span.root
    while root.dep_ == "conj" and root.head is not root:  # "his coaches, Gene Shue and later Billy Cunningham"
        root = root.head
    named = set(_apposed(root))
    for t in doc:
        if t.lemma_.lower() != noun:
            continue
        if named & set(_apposed(t)):
            return True
        # right after the noun, with only a comma or "including" between: "several counties, including Yolo"
        start = root.left_edge.i if root.i < span.start else span.start
        between = doc[t.i + 1:start]
        if t.i < start and len(between) <= 3 and all(w.lower_ in _LINKING for w in between):
            return True
        if t.dep_ in {"nsubj", "attr"} and t.head.lemma_ == "be" and any(
                c.dep_ in {"nsubj", "attr"} and c is not t and c.i in range(span.start, span.end) for c in t.head.children):
            return True
    return False


_LINKING = frozenset({",", ":", "—", "–", "-", "including", "such", "as", "like", "namely", "the", "notably"})


def _apposed(token):
    """The token and the words it stands in apposition or compound to, up the parse."""
    yield token
    while token.dep_ in {"appos", "compound"} and token.head is not token:
        token = token.head
        yield token


def answer_entities(sentence: str, analysis: QuestionAnalysis) -> list[str]:
    """The names, dates or numbers of the expected kind a sentence holds that the question does not already name
    (all of them for a question that expects no particular kind)."""
    if analysis.answer_type is None:
        return []
    labels = ENTITY_TYPES[analysis.answer_type]
    asked = {n.lower() for n in analysis.names}
    doc = parse(sentence)
    found = [e for e in doc.ents if e.label_ in labels and e.text.lower() not in asked]
    if analysis.answer_type in {"number", "quantity"}:
        found += [doc[t.i:t.i + 1] for t in doc if t.like_num and not t.ent_type_ and t.text.lower() not in asked]
    if analysis.answer_type == "number" and analysis.unit and analysis.unit not in _ANY_COUNT:
        # "How many soldiers": a number of soldiers, not of civilians (a number that counts nothing named passes)
        # (and a measure, "265 kilometers" or "$84,000", is not a count of anything)
        found = [span for span in found if span.label_ not in {"QUANTITY", "MONEY"}
                 and (not _counts(span) or analysis.unit in _counts(span))]
    if analysis.answer_type == "quantity":
        # a measure is a number of something: "in recent years" is none, and a date ("December 2022") is a point,
        # not a stretch of time or a length (but an age is tagged a date: "He was 58.")
        found = [span for span in found if any(t.like_num for t in span)
                 and (span.label_ not in {"DATE", "TIME"} or analysis.unit == "old" or _has_unit(span))]
    if analysis.answer_type in {"number", "money", "quantity"} and analysis.times and not any(
            e.label_ in {"DATE", "TIME"} for e in doc.ents):
        return []  # "the rate ten years ago": a figure with no time of its own is not the one asked for
    if analysis.role and not content_stems(analysis.asked) <= content_stems(sentence):
        return []  # "Who is her publisher?": a sentence that never speaks of a publisher names none
    if analysis.asked and any(t.lemma_.lower() == analysis.asked for t in doc):
        # the sentence speaks of the publisher asked about: the answer is the name it gives the publisher
        found = [span for span in found if _names_it(span, analysis.asked)]
    return [span.text for span in found]


_UNITS = TIME_UNITS | frozenset({"foot", "feet", "inch", "yard", "mile", "meter", "metre", "kilometer", "kilometre",
                                   "pound", "kilogram", "ton", "acre"})


def _has_unit(span) -> bool:
    """The span names a unit of time or measure ("50 years", "6-foot-11", "18-year-old")."""
    return any(part in _UNITS for t in span for part in t.lemma_.lower().split("-"))


_ANY_COUNT = frozenset({"people", "person", "time", "one", "thing", "member", "case", "more", "other"})


def _counts(span) -> set[str]:
    """What a number counts, as lemmas of the noun and its modifiers ("two civilian deaths" → death, civilian);
    empty when it counts no noun."""
    head = span.root.head if span.root.dep_ in {"nummod", "quantmod", "compound", "amod"} else None
    if head is not None and head.pos_ in {"NOUN", "PROPN"}:
        return {head.lemma_.lower()} | {c.lemma_.lower() for c in head.children if c.dep_ in {"amod", "compound"}}
    return set()


# What answers "which …?" in technical writing as a name does in the news: an option (-f, --norc, [balance]), a macro
# (\hypersetup), a path or file (~/.octaverc, mnras.cls), an identifier (DEB_GAIN_ROOT_CMD, gnuplot_pipes, camelCase),
# a call (repeat()), a version (v7.00u, 3.18b, 2.4.1), a setting (repeat=5), code in backquotes. Not a word in
# capitals (GMT, NATO: the news is full of them) nor a bare decimal (1.5 million).
_TECHNICAL = re.compile(r"""(?x)
    (?<![\w-])--?[A-Za-z][\w-]*(?:=\S+)?
  | \\[A-Za-z@]+\*?
  | (?<![\w/])(?:~|\.{1,2})?/[\w.~/-]*\w | (?<![\w/])~[\w.-]+
  | \b[A-Za-z][\w]*_\w+\b
  | \b[a-z]+[A-Z]\w*\b
  | \bv\d+(?:\.\d+)+[a-z]?\b | \b\d+\.\d+\.\d+\b | \b\d+\.\d+[a-z]\b
  | \[[\w=,.-]+\]
  | \b\w+\(\)
  | `[^`]+`
  | \b\w[\w-]*=\w[\w.-]*
  | \b[\w.-]+\.(?:tex|sty|cls|bib|bst|py|cfg|rc|txt|md|pdf|json|ya?ml|sh|conf|ini|toml)\b
""")
# a version as a bare number ("3.18"): an answer only to "which version / release …?" (elsewhere, a figure)
_DOTTED = re.compile(r"\b\d+\.\d+\b")
_VERSION_NOUNS = frozenset({"version", "release"})
# "key=5" states a number of key ("repeat=5": five repeats)
_SETTING = re.compile(r"\b([A-Za-z_]\w*)\s*=\s*(\d[\d.,]*)")
# settings that count whatever is counted: "number=1000000" answers "How many times …?"
_COUNT_SETTINGS = frozenset({"number", "count", "num"})


def technical_answers(sentence: str, analysis: QuestionAnalysis) -> list[str]:
    """The technical names (see _TECHNICAL) a sentence holds that the question does not."""
    asked = set(analysis.words)
    found = [m.group() for m in _TECHNICAL.finditer(sentence)]
    if analysis.asked in _VERSION_NOUNS:
        found += _DOTTED.findall(sentence)
    return [t for t in found if t.lower().strip("[]`'\"()=") not in asked and t.lower() not in asked]


def _settings(sentence: str, analysis: QuestionAnalysis) -> list[str]:
    """Numbers a sentence gives as a setting of what the question counts ("repeat=5" for "How many repeats")."""
    if not analysis.unit:
        return []
    unit = content_stems(analysis.unit)
    return [m.group(2) for m in _SETTING.finditer(sentence)
            if m.group(1).lower() in _COUNT_SETTINGS or content_stems(m.group(1).replace("_", " ")) & unit]


def holds_answer(sentence: str, analysis: QuestionAnalysis) -> bool:
    """The sentence can answer the question: it holds the kind of answer the question expects, if any (a name
    asked for may be a technical one: an option, a file, a version)."""
    if analysis.answer_type is None or answer_entities(sentence, analysis):
        return True
    if analysis.answer_type == "name":
        return bool(technical_answers(sentence, analysis))
    if analysis.answer_type in {"number", "quantity"}:
        return bool(_settings(sentence, analysis))
    return False

