"""What a question asks for: its intent, the kind of answer it expects, what it is about, and whether it leans on
the previous turn. Read from spaCy's parse of the question, so "And Ohio?" and "Who runs it?" are understood as
people ask them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from assistant.language import parse

Intent = Literal["overview", "factoid", "yesno", "why", "how", "list"]
AnswerType = Literal["name", "place", "date", "number", "money", "quantity"]

# spaCy entity labels that hold each kind of answer. en_core_web_sm confuses PERSON, ORG, GPE and NORP often,
# so a "who" question accepts any name.
ENTITY_TYPES: dict[str, frozenset[str]] = {
    "name": frozenset({"PERSON", "ORG", "GPE", "NORP", "FAC", "PRODUCT", "WORK_OF_ART", "EVENT", "LAW"}),
    "place": frozenset({"GPE", "LOC", "FAC", "ORG"}),
    "date": frozenset({"DATE", "TIME"}),
    "number": frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}),
    "money": frozenset({"MONEY"}),
    # a measure ("how long", "how far"): a quantity, or a stretch of time; the tagger calls "6-foot-11" a DATE
    "quantity": frozenset({"QUANTITY", "DATE", "TIME", "CARDINAL", "MONEY", "PERCENT"}),
}

_AUX_FIRST = frozenset({"be", "do", "have", "can", "could", "will", "would", "should", "shall", "may", "might", "must"})
_MEASURE = frozenset({"long", "far", "old", "big", "tall", "high", "large", "deep", "wide", "heavy", "fast", "often",
                      "soon", "late", "early"})
_HOW_MANY = frozenset({"many", "much"})
TIME_UNITS = frozenset({"time", "year", "month", "week", "day", "hour", "minute", "second", "decade", "century"})
_MODALS = frozenset({"can", "could", "may", "might", "must", "should", "would"})
# focus nouns that say what kind of answer a "what/which ..." question wants
_FOCUS_TYPES: dict[str, AnswerType] = {
    "year": "date", "month": "date", "day": "date", "date": "date", "time": "date", "century": "date",
    "decade": "date", "season": "date",
    "city": "place", "country": "place", "state": "place", "town": "place", "county": "place", "region": "place",
    "place": "place", "village": "place", "province": "place", "nation": "place",
    "agency": "name", "company": "name", "organization": "name", "organisation": "name", "team": "name",
    "group": "name", "university": "name", "party": "name", "firm": "name", "newspaper": "name",
    "percentage": "number", "percent": "number", "number": "number", "amount": "number", "price": "number",
    "age": "number", "score": "number", "rate": "number", "share": "number", "speed": "number", "size": "number",
    "population": "number", "total": "number", "distance": "quantity", "length": "quantity", "height": "quantity",
    "weight": "quantity", "cost": "money", "salary": "money", "fee": "money", "budget": "money",
    # what technical writing names in a form of its own (a path, an identifier, a version: see _TECHNICAL); not an
    # option, a package or a backend, which are often plain words ("onecolumn", "biber")
    "file": "name", "directory": "name", "folder": "name", "path": "name", "variable": "name", "macro": "name",
    "function": "name", "flag": "name", "version": "name", "release": "name",
}
# "how much" with these verbs asks for a sum of money
_MONEY_VERBS = frozenset({"cost", "pay", "spend", "charge", "earn", "raise", "sell", "owe", "lose", "price", "worth"})
_OVERVIEW_NOUNS = frozenset({"article", "story", "piece", "text", "document", "report", "column", "essay", "this",
                             "it", "post", "paper", "op-ed", "manual", "guide", "template", "readme", "documentation",
                             "spec", "specification", "faq", "deck", "slides", "handbook", "tutorial", "presentation",
                             "book", "pdf", "file", "page"})
_OVERVIEW = re.compile(
    r"\b(what'?s|what is|what are)\b.*\b(about|arguing|saying)\s*\??$"
    r"|\bmain (point|idea|argument|takeaway)s?\b|\b(sum|summ?ari[sz]e|summary|gist|overview|tl;?dr)\b"
    r"|\bwhat (does|do) (the |this )?(article|story|piece|text|document|writer|author) (say|argue)\s*\??$",
    re.IGNORECASE)
# the words of a request for a summary that say nothing of its subject ("Give me a short summary.")
_SUMMARY_WORDS = frozenset({"summary", "summarise", "summarize", "sum", "short", "brief", "quick", "overview", "gist",
                            "main", "point", "idea", "argument", "takeaway", "give", "tell", "write", "tl;dr"})
_WHAT_ELSE = re.compile(r"^\s*(and\s+)?(what|anything) else\b|^\s*(tell me )?more\b|^\s*go on\b", re.IGNORECASE)
_PRONOUNS = frozenset({"he", "she", "it", "they", "them", "him", "her", "his", "hers", "its", "their", "theirs",
                       "this", "that", "these", "those", "there", "then", "former", "latter"})
_LEADS = re.compile(r"^\s*(and|so|but|what about|how about|then|also)\b", re.IGNORECASE)


class QuestionAnalysis(BaseModel):
    """One question, as the engines need it."""

    intent: Intent = "factoid"
    answer_type: AnswerType | None = None  # None: a description, not a name, date or number
    unit: str | None = None  # the thing counted or measured, as a lemma ("soldier" in "How many soldiers ...", "long")
    unit_text: str | None = None  # ... as the question says it ("soldiers")
    focus: list[str] = []  # content lemmas: what the question is about
    names: list[str] = []  # names and numbers the question itself holds (an answer must add something)
    words: list[str] = []  # the question's own words, lower-cased (a technical answer must add one)
    proper: list[str] = []  # the names it uses (of people, places, things, software; not of groups): documents that
    # answer it hold them
    times: list[str] = []  # the question's own time frame ("ten years ago", "in 2014"): the answer must have one
    asked: str | None = None  # the noun a name is asked for, as a lemma ("publisher" in "Who is her publisher?")
    role: bool = False  # ... a role the answering sentence must state ("her publisher", "which study"), not a category
    depends_on_previous: bool = False  # a pronoun, an ellipsis, a bare "Why?": it leans on the last turn
    continues: bool = False  # "What else?": more of what the last answer gave
    documents_named: list[str] = []  # how the question names the documents it is about ("the Wi-Fi article": "Wi-Fi")
    this_document: bool = False  # "this document", "the same paper": the one the conversation is about
    asks: str | None = None  # the question without the phrase that names its document, when it has one
    parts: list[str] = []  # a question that asks two things ("What is it for, and what does it cost?"): each
    rule: str | None = None  # the rule that read it (one of RULES, by name): `assistant ask --explain` shows it

    @property
    def bare(self) -> bool:
        """It leans on the last turn and has at most one content word of its own ("And the short one?", "Why so
        few?"): alone it says almost nothing."""
        return self.depends_on_previous and len(self.focus) <= 1

    def followed_by(self, **own) -> QuestionAnalysis:
        """The analysis of an elliptic follow-up ("And Ohio?"): what this question asked for, with the follow-up's
        own words; not the documents this one named."""
        inherited = self.model_dump(include={"intent", "answer_type", "unit", "unit_text", "asked", "role"})
        return QuestionAnalysis(**{**inherited, **own})


# nouns that name a document when they are modified ("the Greece article", "the Darryl Dawkins obituary")
_DOCUMENT_NOUNS = frozenset({"article", "story", "piece", "report", "obituary", "column", "essay", "op-ed", "editorial",
                             "review", "interview", "profile", "post", "document", "paper", "feature", "file",
                             "manual", "guide", "template", "readme", "documentation", "doc", "docs", "spec",
                             "specification", "faq", "deck", "slide", "slides", "handbook", "tutorial", "howto",
                             "presentation", "book", "pdf"})
_QUANTIFIERS = frozenset({"many", "few", "several", "multiple", "numerous", "various", "other", "more", "most", "both",
                          "each", "every", "all", "some", "any", "next", "previous", "last", "first", "same"})
# a file named as such: "biblatex.pdf", "mnras_guide.pdf"
_FILE_NAME = re.compile(r"(?<![\w/.-])[\w.-]+\.(?:pdf|html?|md|markdown|txt)\b", re.IGNORECASE)
# the document being talked about: "this document", "the same paper", "this manual"
_THIS_DOCUMENT = re.compile(r"\b(?:this|that|the same)\s+(?:" + "|".join(sorted(_DOCUMENT_NOUNS)) + r")\b", re.IGNORECASE)
_TURN_TO = re.compile(r"^\s*(?:and\s+)?(?:back to|switching to|switch to|turning to|turn to|over to|now to|on to)\s+"
                      r"(?:the\s+)?(?P<named>[^:,;?—–]+?)\s*[:,;—–]\s*(?P<rest>\S.*)$", re.IGNORECASE)


def named_documents(question: str) -> tuple[list[str], str]:
    """The phrases with which a question names the documents it is about, and the question without the one that
    only says where to look: "In the Wi-Fi article, how far ...?" → (["Wi-Fi"], "how far ...?"); "Back to Greece:
    who ...?" → (["Greece"], "who ...?"). A bare "the article" names none: it is the one being talked about."""
    files = _FILE_NAME.findall(question)
    if files:  # "what is biblatex.pdf about?" asks what the document is about
        return files, _FILE_NAME.sub("the document", question)
    turned = _TURN_TO.match(question)
    if turned:  # "Back to the Greece article: who ...?" asks "who ...?"; in "Back to Greece: who ...?" the topic stays
        nested, _ = named_documents(turned["named"])
        return (nested, turned["rest"]) if nested else ([turned["named"].strip()], question)
    doc = parse(question)
    named: list[str] = []
    cut: tuple[int, int] | None = None
    for t in doc:
        if t.lemma_.lower() not in _DOCUMENT_NOUNS or t.tag_ in {"WDT", "WP"}:
            continue
        # ("How many columns", "two papers": counted, not named)
        modifiers = [c for c in t.lefts if c.dep_ in {"compound", "amod", "nmod", "poss", "nummod"}
                     and not (c.is_stop or c.tag_ == "CD" or c.lower_ in _QUANTIFIERS)]
        if not modifiers:
            continue
        named.append(doc[modifiers[0].left_edge.i:t.i].text)
        # (the tagger often makes a leading "In the X story," the root, and the question a clause of it)
        if t.dep_ == "pobj" and t.head.pos_ == "ADP" and t.head.lower_ in {"in", "from", "of"} and cut is None:
            start, end = t.head.i, t.i + 1
            if end < len(doc) and doc[end].text in {",", ":", ";"}:
                end += 1
            cut = (start, end)
    if cut is None:
        return named, question
    kept = [t for t in doc if not cut[0] <= t.i < cut[1]]
    if not any(t.pos_ in {"NOUN", "PROPN", "VERB", "ADJ", "NUM"} and not t.is_stop for t in kept):
        return named, question  # "What is in the Mueller report?": the phrase is what is asked about
    rest = re.sub(r"\s+([?.!,;:])", r"\1", (doc[:cut[0]].text_with_ws + doc[cut[1]:].text).strip())
    rest = re.sub(r"^(and|so|but)\b\s*,?\s*", "", rest, flags=re.IGNORECASE) if cut[0] <= 1 else rest
    return named, rest[:1].upper() + rest[1:]


# where a question starts to ask a second thing: a wh-word after a comma, a conjunction or a question mark
_SECOND_ASK = re.compile(r"(?:\s*[,;]\s*(?:and|or|but)?|\s+(?:and|or|but)|\?)\s+"
                         r"(?=(?:what|when|where|who|whom|whose|why|which|how)\b)", re.IGNORECASE)
_PART_WORDS = 3  # each part asks something of its own ("What did he say, and why?" asks one thing)


def question_parts(question: str) -> list[str]:
    """The questions a question asks, when it asks more than one ("When was it built, and how much did it
    cost?"), each of at least three words; otherwise none."""
    parts = [p.strip(" ,;") for p in _SECOND_ASK.split(question)]
    if len(parts) < 2 or any(len(re.findall(r"\w+", p)) < _PART_WORDS for p in parts):
        return []
    return [p[:1].upper() + p[1:] + ("" if p.endswith("?") else "?") for p in parts]


def analyse(question: str, previous: QuestionAnalysis | None = None) -> QuestionAnalysis:
    """The analysis of `question`; `previous` is the last turn's, which an elliptic follow-up inherits."""
    named, asks = named_documents(question)
    analysis = _analyse(asks, previous)
    # the documents named are this question's words, whatever it inherits ("What else?" names none); a question that
    # names its document is about that document, not the last turn's
    if named and analysis.intent != "overview" and _OVERVIEW.search(question) and set(analysis.focus) <= _SUMMARY_WORDS:
        analysis = analysis.model_copy(update={"intent": "overview", "answer_type": None})
    return analysis.model_copy(update={"documents_named": named, "asks": asks if asks != question else None,
                                       "parts": question_parts(asks),
                                       "depends_on_previous": analysis.depends_on_previous and not named,
                                       "this_document": bool(_THIS_DOCUMENT.search(question)) and not named})


@dataclass
class _Reading:
    """A question as the rules read it: its parse, and the fields every analysis of it shares."""

    question: str
    words: list  # its tokens, without punctuation
    lower: list[str]
    lemmas: list[str]
    focus: list[str]
    shared: dict  # focus, names, times, depends_on_previous, words, proper
    wh: int | None  # the index in `words` of its wh-word ("who", "which", "how"), if it has one

    @property
    def leans(self) -> bool:
        return self.shared["depends_on_previous"]

    def analysis(self, **own) -> QuestionAnalysis:
        return QuestionAnalysis(**{**self.shared, **own})


def _read(question: str) -> _Reading:
    doc = parse(question)
    words = [t for t in doc if not t.is_punct]
    focus = [t.lemma_.lower() for t in words
             if t.pos_ in {"NOUN", "PROPN", "VERB", "ADJ", "NUM"} and not t.is_stop and t.tag_ not in {"WDT", "WP", "WRB"}]
    # (not groups: "Is he a Democrat?", "Is Basford Korean?" ask what someone is, which a document may answer
    # without the word)
    proper = [e.text for e in doc.ents if e.label_ in (ENTITY_TYPES["name"] | ENTITY_TYPES["place"]) - {"NORP"}]
    proper += [t.text for t in words[1:] if t.pos_ == "PROPN" and not t.ent_type_]
    shared = dict(focus=focus, names=[e.text for e in doc.ents],
                  times=[e.text for e in doc.ents if e.label_ in {"DATE", "TIME"}],
                  depends_on_previous=_leans_on_previous(question, doc, words), words=[t.lower_ for t in words],
                  proper=proper)
    return _Reading(question=question, words=words, lower=[t.lower_ for t in words],
                    lemmas=[t.lemma_.lower() for t in words], focus=focus, shared=shared,
                    wh=next((k for k, t in enumerate(words) if t.tag_ in {"WDT", "WP", "WP$", "WRB"}), None))


def _leans_on_previous(question: str, doc, words) -> bool:
    """A pronoun ("Who runs it?"), a lead word ("And Ohio?", "So what?") or a short question without a subject of
    its own ("Why not?"): it leans on the last turn."""
    pronoun = any(t.lower_ in _PRONOUNS and t.pos_ in {"PRON", "DET", "ADV"} for t in words)
    has_subject = any(t.pos_ == "PROPN" for t in words) or bool(doc.ents)
    return pronoun or bool(_LEADS.match(question)) or (len(words) <= 3 and not has_subject)


# --- the rules, in the order they are tried: the first that decides gives the intent and the kind of answer ---

def _more_of_the_same(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"What else?", "Tell me more": more of what the last answer gave."""
    if _WHAT_ELSE.match(q.question) and previous is not None:
        return previous.model_copy(update={"continues": True, "depends_on_previous": True})
    return None


def _overview(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"What is this article about?", "Give me a short summary.": the document as a whole."""
    if _OVERVIEW.search(q.question) and (any(w in _OVERVIEW_NOUNS for w in q.lower) or set(q.focus) <= _SUMMARY_WORDS):
        return q.analysis(intent="overview", depends_on_previous=False)
    return None


def _yes_no(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"Did Armenia agree?", "And is it safe?": an auxiliary first (a "when" inside it does not ask for a date)."""
    lemmas = q.lemmas
    if lemmas and (lemmas[0] in _AUX_FIRST or (len(lemmas) > 1 and lemmas[0] in {"so", "and", "but"}
                                               and lemmas[1] in _AUX_FIRST)):
        return q.analysis(intent="yesno")
    return None


def _no_wh_word(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"And Ohio?", "And the short one?": an ellipsis asks what the last turn asked; otherwise a plain request
    ("Tell me about the ceasefire")."""
    if q.wh is not None:
        return None
    if previous is not None and q.leans:
        return previous.followed_by(**{**q.shared, "depends_on_previous": True})
    return q.analysis(intent="factoid")


def _why(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"Why did the fighting start?"; a bare "Why?" or "Why so few?" leans on the last turn."""
    if q.lower[q.wh] != "why":
        return None
    return q.analysis(intent="why", depends_on_previous=q.leans or len(q.words) <= 3)


def _how(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"How many soldiers …?" a number (of soldiers), "How much did it cost?" money, "How many years …?" a stretch
    of time, "How long is the corridor?" a measure; "How are crews fighting it?" a description."""
    if q.lower[q.wh] != "how":
        return None
    after = _after_wh(q)
    if after in _HOW_MANY:
        return _how_many(q, after)
    if after in _MEASURE:
        return q.analysis(intent="factoid", answer_type="quantity", unit=after)
    return q.analysis(intent="how")


def _how_many(q: _Reading, after: str) -> QuestionAnalysis:
    """What "how many/much" counts: its noun ("How many Armenians", "How much patent time": time, not patents),
    and whether it asks for money, a stretch of time or a number."""
    words, lemmas, wh = q.words, q.lemmas, q.wh
    noun = next((t for t in words[wh + 2:wh + 3] if t.pos_ in {"NOUN", "PROPN"}), None)
    first = noun
    while noun is not None and noun.dep_ == "compound" and noun.head.pos_ == "NOUN":
        noun = noun.head
    unit = noun.lemma_.lower() if noun is not None else None
    verbs = {t.lemma_.lower() for t in words[wh + 2:]} | {t.lower_ for t in words[wh + 2:]}  # "cost" is often tagged a noun
    money = after == "much" and unit is None and (verbs & _MONEY_VERBS or (
        lemmas[wh + 2:wh + 3] == ["be"] and not any(t.tag_ in {"JJR", "RBR"} for t in words)))
    # "How many years", "How much time": a stretch of time, which the tagger calls a DATE ("How many times": a count
    # of occurrences, any number)
    stretch = unit in TIME_UNITS and not (after == "many" and unit == "time")
    kind: AnswerType = "money" if money else "quantity" if stretch else "number"
    unit_text = noun.doc[first.i:noun.i + 1].text.lower() if noun is not None else None
    return q.analysis(intent="factoid", answer_type=kind, unit=unit, unit_text=unit_text)


def _who(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"Who brokered it?" a name; "Who is her publisher?" a role the answering sentence must state (not "Who is
    the suspect?")."""
    if q.lower[q.wh] not in {"who", "whom", "whose"}:
        return None
    noun = _asked_noun(q.words[q.wh])
    role = noun is not None and any(c.dep_ == "poss" for c in noun.children)
    return q.analysis(intent="factoid", answer_type="name", asked=noun.lemma_.lower() if noun is not None else None,
                      role=role)


def _where(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"Where will the talks be held?": a place."""
    return q.analysis(intent="factoid", answer_type="place") if q.lower[q.wh] == "where" else None


def _when(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis | None:
    """"When did it open?" a date; "When can a patent be refused?" the circumstances, not a date."""
    if q.lower[q.wh] != "when":
        return None
    if _after_wh(q) in _MODALS:
        return q.analysis(intent="factoid")
    return q.analysis(intent="factoid", answer_type="date")


def _what_or_which(q: _Reading, previous: QuestionAnalysis | None) -> QuestionAnalysis:
    """What / which: the noun they ask about decides ("What year …?" a date, "What is the population of X?" a
    number, "Which study shows that?" a name given as that, "What are the risks?" a list); otherwise a description."""
    wh, word = q.words[q.wh], q.lower[q.wh]
    head = wh.head if wh.dep_ == "det" and wh.head.pos_ == "NOUN" else None
    if head is None and wh.dep_ == "attr" and wh.head.lemma_ == "be":  # "What is the population of X?"
        head = next((c for c in wh.head.children if c.dep_ == "nsubj" and c.pos_ == "NOUN"), None)
    if head is not None and head.lemma_.lower() in _FOCUS_TYPES:
        kind = _FOCUS_TYPES[head.lemma_.lower()]
        return q.analysis(intent="factoid", answer_type=kind, asked=head.lemma_.lower() if kind in {"name", "place"} else None)
    if word == "which" and head is None:  # the tagger often misattaches "which": its noun is the run that follows
        run = []
        for t in q.words[q.wh + 1:]:
            if not (t.pos_ in {"NOUN", "PROPN", "ADJ"} or t.tag_.startswith("NN") or t.is_title):
                break
            run.append(t)
        head = next((t for t in reversed(run) if t.pos_ in {"NOUN", "PROPN"} or t.tag_.startswith("NN")), None)
    if head is not None and word == "which" and head.lemma_.lower() not in _DOCUMENT_NOUNS:
        # "Which Leeds pubs …": a name, given as that (a category such as "Which country" is known by its entities)
        return q.analysis(intent="list" if head.tag_ == "NNS" else "factoid", answer_type="name",
                          asked=head.lemma_.lower(), role=True)
    if head is not None and head.tag_ == "NNS":
        return q.analysis(intent="list")
    return q.analysis(intent="factoid")


def _after_wh(q: _Reading) -> str:
    return q.lower[q.wh + 1] if q.wh + 1 < len(q.lower) else ""


RULES = (_more_of_the_same, _overview, _yes_no, _no_wh_word, _why, _how, _who, _where, _when, _what_or_which)


def rule_description(name: str) -> str:
    """What the rule of that name reads, with its examples, on one line."""
    rule = next(r for r in RULES if r.__name__.lstrip("_") == name)
    return " ".join(rule.__doc__.split())


def explanation(analysis: QuestionAnalysis) -> list[tuple[str, str]]:
    """How a question was read, as (what, how) lines for a person: the rule that read it, then what it decided."""
    kind = analysis.answer_type or "a description"
    if analysis.unit_text or analysis.unit:
        kind += f" (of {analysis.unit_text or analysis.unit})"
    lines = [("rule", f"{analysis.rule}: {rule_description(analysis.rule)}" if analysis.rule else "none"),
             ("intent", analysis.intent), ("expects", kind), ("about", ", ".join(analysis.focus) or "nothing of its own")]
    if analysis.asked:
        lines.append(("names", f"the {analysis.asked}" + (", a role the answering sentence must state" if analysis.role else "")))
    leans = "no"
    if analysis.continues:
        leans = "yes: more of what the last answer gave"
    elif analysis.depends_on_previous:
        leans = "yes, and says almost nothing alone" if analysis.bare else "yes"
    lines.append(("leans on the last turn", leans))
    if analysis.parts:
        lines.append(("parts", " | ".join(analysis.parts)))
    if analysis.documents_named:
        lines.append(("documents named", ", ".join(analysis.documents_named)))
    return lines


def _analyse(question: str, previous: QuestionAnalysis | None) -> QuestionAnalysis:
    reading = _read(question)
    for rule in RULES:  # the last always decides
        analysis = rule(reading, previous)
        if analysis is not None:
            break
    return analysis.model_copy(update={"rule": rule.__name__.lstrip("_")})


def _asked_noun(wh):
    """The common noun a "Who is the X?" question asks to name (its copula's subject), if any."""
    if wh.dep_ == "attr" and wh.head.lemma_ == "be":
        return next((c for c in wh.head.children if c.dep_ == "nsubj" and c.pos_ == "NOUN"), None)
    return None
