"""Claims made from real sentences: contradictions (an entity swapped, a number changed, a negation added, subject
and object swapped) and faithful restatements (the sentence, adjectives dropped, an attribution or apposition
dropped, "said" for "stated"). Used by the meaning-check test and by benchmarks/meaning.py."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

from assistant.language import parse

SWAPPABLE = {"PERSON", "ORG", "GPE", "NORP"}
_AUX_NOT = {"VBD": "did", "VBZ": "does", "VBP": "do"}


def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def entity_swaps(sentence: str, others: dict[str, list[str]], rng: random.Random) -> Iterator[str]:
    doc = parse(sentence)
    for e in doc.ents:
        if e.label_ in SWAPPABLE:
            choices = [o for o in others.get(e.label_, []) if o.lower() not in sentence.lower()
                       and not set(o.lower().split()) & set(e.text.lower().split())]
            if choices:
                yield _replace(sentence, e.start_char, e.end_char, rng.choice(choices))
                return


def number_changes(sentence: str, rng: random.Random) -> Iterator[str]:
    for m in re.finditer(r"(?<![\w.,])\d[\d,]*(?:\.\d+)?(?![\w])", sentence):
        value = m.group().replace(",", "")
        if len(value) == 4 and value.startswith(("19", "20")):
            continue  # a year: changing it is a date change, covered by entity swaps
        number = float(value)
        new = number + rng.choice([1, 2, 3, 7, 10]) if number < 20 else number * rng.choice([2, 3]) + 1
        yield _replace(sentence, m.start(), m.end(), str(int(new)) if new == int(new) else f"{new:.1f}")
        return


def negations(sentence: str) -> Iterator[str]:
    doc = parse(sentence)
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or any(c.dep_ == "neg" for c in root.children):
        return
    aux = [c for c in root.children if c.dep_ in {"aux", "auxpass"} and c.i < root.i]
    if aux:
        yield _replace(sentence, aux[0].idx + len(aux[0].text), aux[0].idx + len(aux[0].text), " not")
    elif root.lemma_ == "be":
        yield _replace(sentence, root.idx + len(root.text), root.idx + len(root.text), " not")
    elif root.tag_ in _AUX_NOT and root.pos_ == "VERB":
        yield _replace(sentence, root.idx, root.idx + len(root.text), f"{_AUX_NOT[root.tag_]} not {root.lemma_}")


def role_swaps(sentence: str) -> Iterator[str]:
    doc = parse(sentence)
    for verb in doc:
        if verb.pos_ != "VERB":
            continue
        subject = next((c for c in verb.children if c.dep_ == "nsubj" and c.pos_ in {"PROPN", "NOUN"}), None)
        obj = next((c for c in verb.children if c.dep_ == "dobj" and c.pos_ in {"PROPN", "NOUN"}), None)
        if subject is None or obj is None or subject.lemma_.lower() == obj.lemma_.lower():
            continue
        s = doc[subject.left_edge.i:subject.right_edge.i + 1]
        o = doc[obj.left_edge.i:obj.right_edge.i + 1]
        if not s.end <= verb.i < o.start:
            continue
        text = sentence
        text = _replace(text, o.start_char, o.end_char, s.text)
        text = _replace(text, s.start_char, s.end_char, o.text)
        yield text
        return


def faithful(sentence: str) -> Iterator[str]:
    yield sentence
    doc = parse(sentence)
    adjectives = [t for t in doc if t.dep_ == "amod" and t.pos_ == "ADJ" and not t.ent_type_]
    if adjectives:
        text = sentence
        for t in sorted(adjectives, key=lambda t: -t.idx):
            text = _replace(text, t.idx, t.idx + len(t.text) + 1, "")
        yield text
    if re.search(r"\bsaid\b", sentence):
        yield re.sub(r"\bsaid\b", "stated", sentence, count=1)
    attribution = re.match(r"^(.{30,}?),[^,]{3,60}\bsaid\.?$", sentence.rstrip("”\""))
    if attribution:
        yield attribution.group(1).lstrip("“\"") + "."
    for t in doc:
        if t.dep_ == "appos":
            span = doc[t.left_edge.i:t.right_edge.i + 1]
            start, end = span.start_char, span.end_char
            if sentence[start - 2:start] == ", " and sentence[end:end + 1] == ",":
                yield sentence[:start - 2] + sentence[end + 1:]
                break


def contradictions(sentence: str, others: dict[str, list[str]], rng: random.Random) -> Iterator[tuple[str, str]]:
    """(kind, claim) for each contradiction the sentence allows."""
    for claim in entity_swaps(sentence, others, rng):
        yield "entity swapped", claim
    for claim in number_changes(sentence, rng):
        yield "number changed", claim
    for claim in negations(sentence):
        yield "negation added", claim
    for claim in role_swaps(sentence):
        yield "subject and object swapped", claim


def article_entities(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in parse(text).ents:
        if e.label_ in SWAPPABLE and e.text not in out.setdefault(e.label_, []):
            out[e.label_].append(e.text)
    return out
