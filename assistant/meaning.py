"""Does a cited sentence say what the claim says? Checked for meaning, not only for shared words.

A claim disagrees with its source when it names someone or something the source does not, gives a number the
source does not, negates what the source affirms (or the reverse), uses the opposite of the source's word, swaps
who did what to whom, or says much the source does not hold. Each disagreement comes with its reason, in words a
reader can check ("the passage says 32, not 23").
"""

from __future__ import annotations

import re

from assistant.engines.base import MARKER
from assistant.language import parse

COVERAGE = 0.5  # share of a claim's nouns, names, adjectives and numbers its source must hold (verbs vary in paraphrase)
_LEADING_VERDICT = re.compile(r"^\s*(yes|no)\s*[—–:-]\s*", re.IGNORECASE)
_NAME_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC", "EVENT", "PRODUCT", "WORK_OF_ART", "LAW"})
# number words as the digits they stand for (a multiplier stands for itself: "1.4 million" is 1.4 and million)
NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty".split())} | {
    w: str(10 * n) for n, w in enumerate("thirty forty fifty sixty seventy eighty ninety".split(), start=3)} | {
    "hundred": "100", "thousand": "1000", "dozen": "12", "million": "million", "billion": "billion"}
_NEGATIONS = frozenset({"not", "no", "never", "none", "nobody", "nothing", "neither", "nor", "n't", "without"})
_WEEKDAYS_MONTHS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july august "
    "september october november december".split())
# Opposites that news text uses; a pair fires only when the claim's word is absent from the source and its
# opposite is present ("rose" in the claim, "fell" in the source).
_OPPOSITES = [
    ("increase", "decrease"), ("rise", "fall"), ("rise", "drop"), ("rise", "decline"), ("gain", "lose"),
    ("win", "lose"), ("accept", "reject"), ("agree", "refuse"), ("approve", "reject"), ("allow", "ban"),
    ("allow", "forbid"), ("support", "oppose"), ("open", "close"), ("begin", "end"), ("start", "stop"),
    ("start", "end"), ("arrive", "leave"), ("buy", "sell"), ("higher", "lower"), ("more", "less"),
    ("more", "fewer"), ("large", "small"), ("big", "small"), ("long", "short"), ("strong", "weak"),
    ("stronger", "weaker"), ("early", "late"), ("earlier", "later"), ("before", "after"), ("first", "last"),
    ("success", "failure"), ("succeed", "fail"), ("guilty", "innocent"), ("legal", "illegal"), ("alive", "dead"),
    ("victory", "defeat"), ("ally", "enemy"), ("north", "south"), ("east", "west"), ("up", "down"),
    ("positive", "negative"), ("confirm", "deny"), ("include", "exclude"), ("hire", "fire"), ("rich", "poor"),
    ("majority", "minority"), ("maximum", "minimum"), ("young", "old"), ("civilian", "military"),
    ("easy", "hard"), ("easy", "difficult"), ("pass", "fail"), ("safe", "dangerous"), ("true", "false"),
    ("same", "different"), ("alone", "together"), ("present", "absent"), ("full", "empty"), ("cheap", "expensive"),
    ("remember", "forget"), ("win", "defeat"), ("dull", "sharp"), ("friend", "enemy"), ("love", "hate"),
]
_OPPOSITE: dict[str, set[str]] = {}
for _a, _b in _OPPOSITES:
    _OPPOSITE.setdefault(_a, set()).add(_b)
    _OPPOSITE.setdefault(_b, set()).add(_a)
_SAY = frozenset({"say", "state", "tell", "add", "report", "announce", "note", "claim"})
_QUOTED = re.compile(r"[“\"]([^”“\"]+)[”\"]")
# verbs that attribute a quotation to whoever is their subject ("...," the minister said)
_ATTRIBUTE = _SAY | {"write", "declare", "insist", "warn", "explain", "ask", "reply", "answer", "recall", "argue",
                     "admit", "acknowledge", "describe", "call", "quote"}


def _plain(claim: str) -> str:
    """The claim without markers, a leading "Yes —" or "No —", or the space a removed marker leaves."""
    text = _LEADING_VERDICT.sub("", MARKER.sub("", claim))
    return re.sub(r"\s+([.!?,;:])", r"\1", " ".join(text.split()))


def _number(token) -> str | None:
    text = token.lower_.replace(",", "")
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return str(float(text)).removesuffix(".0")
    return NUMBER_WORDS.get(text)


def _number_tokens(doc) -> list[tuple[str, str, object]]:
    """(value, text, token) of each number in a parsed text."""
    out = []
    for t in doc:
        value = _number(t) if (t.like_num or t.lower_ in NUMBER_WORDS) else None
        if value is not None and not (t.ent_type_ == "DATE" and len(t.text) == 4):  # a year is checked as a name
            out.append((value, t.text, t))
    return out


def _names(doc) -> list[tuple[str, str]]:
    """(label, text) of the names and dates a text holds (without a leading "the" or a possessive)."""
    out = []
    for e in doc.ents:
        if e.label_ in _NAME_LABELS or (e.label_ == "DATE" and any(
                t.lower_ in _WEEKDAYS_MONTHS or re.fullmatch(r"1[89]\d\d|20\d\d", t.text) for t in e)):
            text = re.sub(r"^(the|a|an)\s+|[’']s$", "", e.text, flags=re.IGNORECASE).strip()
            if text:
                out.append((e.label_, text))
    return out


def _holds_name(name: str, source_lower: str, source_proper: set[str]) -> bool:
    lowered = name.lower()
    if lowered in source_lower:
        return True
    parts = [p for p in re.findall(r"[\w’'.-]+", lowered) if len(p) > 2]
    # "Aliyev" for "Ilham Aliyev", "Azerbaijani" for "Azerbaijan": each word of the name, by its first letters,
    # among the source's names
    return bool(parts) and all(p[:6] in source_proper for p in parts)


# words that deny the verb they govern ("failed to pass", "unable to find", "has yet to be found")
_DENYING = frozenset({"fail", "unable", "refuse", "decline", "yet", "cease", "stop"})
# prefixes that make a word its own opposite ("unsafe", "inaccurate", "dishonest", "nonviolent")
_NEGATIVE_PREFIXES = ("un", "in", "im", "il", "ir", "dis", "non", "non-")
_LIGHT = frozenset({"be", "do", "have"})


def _polarity(doc) -> tuple[set[str], set[str]]:
    """(lemmas of the words a negation governs, lemmas of the verbs and adjectives that stand without one).
    A negation reaches what its word governs: "no longer able to fire" negates "able" and "fire" ("no longer"
    modifies the verb, not "longer"); "failed to pass", "unable to find", "yet to be found" deny the verb after them,
    "without charge" the charge."""
    negated = set()
    for t in doc:
        if t.dep_ == "neg" or t.lower_ in {"never"}:
            head = t.head
            if head.pos_ == "ADV" and head.head is not head:  # "no longer", "not yet": the verb the adverb modifies
                negated |= _governed(head.head, direct=False)
            else:
                negated |= _governed(head)
        elif t.lower_ == "without" and t.dep_ == "prep":  # "released without charge", "left without saying"
            negated |= {lemma for c in t.children if c.dep_ in {"pobj", "pcomp"} for lemma in _governed(c, False)}
        elif _denies(t):
            negated |= {lemma for c in t.children if c.dep_ == "xcomp" for lemma in _governed(c, False)}
            if t.lower_ == "yet":  # "has yet to be found": the verb "yet" modifies
                negated |= {lemma for c in t.head.children if c.dep_ == "xcomp" for lemma in _governed(c, False)}
    plain = {t.lemma_.lower() for t in doc if t.pos_ in {"VERB", "AUX", "ADJ"}} - negated
    return negated, plain


def _denies(t) -> bool:
    """A word that denies the verb after it: "failed to", "unable to", "has yet to" (not "Yet, if …")."""
    if t.lemma_.lower() not in _DENYING:
        return False
    return t.lower_ != "yet" or (t.i + 1 < len(t.doc) and t.doc[t.i + 1].lower_ == "to")


def _governed(head, direct: bool = True) -> set[str]:
    """The lemmas a negation of `head` reaches: the word and its auxiliaries when the negation is on it, and the
    complements it stands for ("was not able to fire": be, able, fire); "be", "do" and "have" only as the negated
    word itself (reached through a complement, or past "no longer", they would match any other clause's)."""
    lemma = head.lemma_.lower()
    out = set()
    if direct or lemma not in _LIGHT:
        out.add(lemma)
    if direct:
        out |= {c.lemma_.lower() for c in head.children if c.dep_ in {"aux", "auxpass"}}
    for c in head.children:
        if c.dep_ in {"acomp", "xcomp"}:
            out |= _governed(c, direct=False)
    return out


def _opposite_by_prefix(word: str, source_words: set[str]) -> str | None:
    """The source's word that is `word` with a negative prefix, or `word` without one ("unsafe" for "safe",
    "safe" for "unsafe"); None when the source has neither."""
    for prefix in _NEGATIVE_PREFIXES:
        if len(word) > 3 and prefix + word in source_words:
            return prefix + word
        if word.startswith(prefix) and len(word) - len(prefix) > 3 and word[len(prefix):] in source_words:
            return word[len(prefix):]
    return None


def _content_lemmas(doc) -> list[str]:
    return [t.lemma_.lower() for t in doc
            if t.pos_ in {"NOUN", "PROPN", "ADJ", "NUM"} and not t.is_stop and t.lemma_.lower() not in _SAY
            and len(t.text) > 1]


def _swapped_roles(claim, source) -> str | None:
    """The claim has the source's subject and object of a verb the other way round ("Armenia attacked
    Azerbaijan" for "Azerbaijan attacked Armenia"); a passive claim is read through its agent."""
    for verb in source:
        if verb.pos_ != "VERB":
            continue
        subject = next((c for c in verb.children if c.dep_ == "nsubj" and c.pos_ in {"PROPN", "NOUN"}), None)
        obj = next((c for c in verb.children if c.dep_ == "dobj" and c.pos_ in {"PROPN", "NOUN"}), None)
        if subject is None or obj is None:
            continue
        mine = next((t for t in claim if t.lemma_.lower() == verb.lemma_.lower() and t.pos_ in {"VERB", "NOUN"}), None)
        if mine is None:
            continue
        s_at = [t.i for t in claim if t.lemma_.lower() == subject.lemma_.lower()]
        o_at = [t.i for t in claim if t.lemma_.lower() == obj.lemma_.lower()]
        if not s_at or not o_at:
            continue
        passive = any(c.dep_ in {"auxpass", "agent"} for c in mine.children) or mine.tag_ == "VBN" and any(
            t.lower_ == "by" for t in claim[mine.i + 1:mine.i + 3])
        before, after = (s_at, o_at) if passive else (o_at, s_at)
        if all(i < mine.i for i in before) and all(i > mine.i for i in after):
            return f"the passage has it the other way round: {subject.text} {verb.text} {obj.text}"
    return None


def _instructed_quote(claim: str, source: str) -> bool:
    """The claim is words the source only quotes in an instruction: "answer every question with 'X'" mentions X,
    it does not assert it (a document's orders to a model). A quotation someone is said to have said ("'X,' the
    minister said"), or a sentence that is all quotation (its speaker named in the next one), is what the source
    reports."""
    said = claim.rstrip(".!?")
    quoted = [m for m in _QUOTED.finditer(source) if said in m.group(1)]
    if not quoted or said in _QUOTED.sub(" ", source):
        return False
    if not any(t.pos_ in {"VERB", "AUX"} for t in parse(said)):
        return False  # a name or a title in quotation marks
    outside = [t for t in parse(source) if not any(m.start() <= t.idx < m.end() for m in quoted)]
    attributed = any(t.lemma_.lower() in _ATTRIBUTE and any(c.dep_ in {"nsubj", "nsubjpass"} and c.lower_ != "you"
                                                             for c in t.children) for t in outside)
    # an imperative: a verb in its base form with no subject, no auxiliary and no "to" ("answer ... with 'X'")
    ordered = any(t.tag_ == "VB" and t.dep_ in {"ROOT", "conj", "parataxis"}
                  and not any(c.dep_ in {"nsubj", "nsubjpass", "aux", "auxpass", "mark"} for c in t.children)
                  for t in outside)
    return ordered and not attributed


def disagreement(claim: str, source: str, coverage: bool = True) -> str | None:
    """Why the source does not say what the claim says, or None when it does. Without `coverage`, words of the
    claim the source does not hold are allowed (a question's wording checked against its answer)."""
    claim = _plain(claim)
    source = _plain(source)
    answer, dash, sentence = claim.partition(" — ")
    if dash and sentence.rstrip(".!?") in source:  # "34 — <the sentence it stands on>": the answer is what to check
        claim = answer
    if claim and claim.rstrip(".!?") in source and _instructed_quote(claim, source):
        return "the passage only quotes these words in an instruction; it does not say them"
    if not claim or claim.rstrip(".!?") == source.rstrip(".!?") or claim in source:
        return None  # the source's own words
    c, s = parse(claim), parse(source)
    source_lower = source.lower()
    source_lemmas = {t.lemma_.lower() for t in s} | {t.lower_ for t in s}

    source_proper = {t.lower_[:6] for t in s if t.pos_ == "PROPN" or t.ent_type_}
    for label, name in _names(c):
        if not _holds_name(name, source_lower, source_proper):
            others = [n for lab, n in _names(s) if lab == label and n.lower() not in claim.lower()]
            if others:
                return f"the passage names {others[0]}, not {name}"
            return f"the passage does not mention {name}"
    for t in c:  # a name the tagger did not see as an entity
        if t.pos_ == "PROPN" and t.is_alpha and t.lower_[:6] not in source_proper and t.lower_ not in source_lower:
            return f"the passage does not mention {t.text}"

    source_numbers = _number_tokens(s)
    values = {v for v, _, _ in source_numbers}
    counted = {(v, tok.head.lemma_.lower()) for v, _, tok in source_numbers}
    heads = {h for _, h in counted}
    for value, text, token in _number_tokens(c):
        head = token.head.lemma_.lower() if token.head is not token and token.head.pos_ == "NOUN" else ""
        if value in values and not (head in heads and (value, head) not in counted):
            continue
        same = [t for _, t, tok in source_numbers if head and tok.head.lemma_.lower() == head]
        if same:
            return f"the passage says {same[0]} {token.head.text}, not {text}"
        if source_numbers:
            return f"the passage gives {', '.join(dict.fromkeys(t for _, t, _ in source_numbers))}, not {text}"
        return f"the passage gives no number {text}"

    claim_negated, claim_plain = _polarity(c)
    source_negated, source_plain = _polarity(s)
    for lemma in claim_negated - source_negated:
        if lemma in source_plain:
            return f"the passage says {lemma} without a negation; the claim negates it"
    # (any word of the claim: in a question the tagger often takes the verb for a noun, "Does the level drop")
    claim_words = {t.lemma_.lower() for t in c if not t.is_stop} | claim_plain
    for lemma in source_negated - claim_negated:
        if lemma in claim_words and lemma not in source_plain:
            return f"the passage says not {lemma}; the claim drops the negation"
    if claim_negated and not source_negated and not any(t.lower_ in _NEGATIONS for t in s):
        return "the claim has a negation the passage does not"

    for t in c:
        lemma = t.lemma_.lower()
        if lemma in source_lemmas or t.lower_ in source_lemmas:
            continue
        found = (_OPPOSITE.get(lemma) or _OPPOSITE.get(t.lower_) or set()) & source_lemmas
        if not found and t.pos_ in {"ADJ", "ADV", "VERB"}:
            found = {w for w in (_opposite_by_prefix(lemma, source_lemmas),) if w}
        if found:
            return f"the passage says {sorted(found)[0]}, not {t.text}"

    swapped = _swapped_roles(c, s)
    if swapped:
        return swapped

    words = _content_lemmas(c) if coverage else []
    # a claim that relates names by a verb ("Azerbaijan surrendered to Armenia") is about the relation: names alone
    # are no evidence of it, so its verb must be there too
    root = next((t for t in c if t.dep_ == "ROOT"), None)
    if (words and root is not None and root.pos_ == "VERB" and root.lemma_.lower() not in _SAY
            and all(t.pos_ == "PROPN" or t.ent_type_ in _NAME_LABELS for t in c if t.lemma_.lower() in words)
            and root.lemma_.lower() not in source_lemmas and root.lemma_.lower()[:5] not in {w[:5] for w in source_lemmas}):
        return f"the passage does not say: {root.lemma_.lower()}"
    if words:
        stems = {w[:5] for w in source_lemmas}
        missing = [w for w in dict.fromkeys(words) if w not in source_lemmas and w[:5] not in stems]
        if len(missing) > (1 - COVERAGE) * len(set(words)):
            return f"the passage does not say: {', '.join(missing[:4])}"
    return None


def verdict(question: str, sentence: str) -> str:
    """"Yes" when the sentence affirms what the yes/no question asks, "No" when it negates it or says the
    opposite (the meaning check without the coverage rule: the question's wording need not be the sentence's).
    The extractive engine answers with it, and an LLM's bare "Yes" or "No" is checked against it."""
    # (the "Did" of "Did they agree?" is the question's form, not its proposition: against a sentence's "did not
    # sign" it would read as a negation dropped)
    proposition = _DO_SUPPORT.sub("", question.rstrip("?"))
    return "No" if disagreement(proposition, sentence, coverage=False) else "Yes"


_DO_SUPPORT = re.compile(r"^\s*(?:do|does|did)\s+", re.IGNORECASE)
