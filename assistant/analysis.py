"""What a question asks for: its intent, the kind of answer it expects, what it is about, and whether it leans on
the previous turn. Read from spaCy's parse of the question, so "And Ohio?" and "Who runs it?" are understood as
people ask them.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel

from assistant.followup import content_stems
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
_TIME_UNITS = frozenset({"time", "year", "month", "week", "day", "hour", "minute", "second", "decade", "century"})
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


def _analyse(question: str, previous: QuestionAnalysis | None) -> QuestionAnalysis:
    doc = parse(question)
    words = [t for t in doc if not t.is_punct]
    lower = [t.lower_ for t in words]
    lemmas = [t.lemma_.lower() for t in words]
    focus = [t.lemma_.lower() for t in words
             if t.pos_ in {"NOUN", "PROPN", "VERB", "ADJ", "NUM"} and not t.is_stop and t.tag_ not in {"WDT", "WP", "WRB"}]
    names = [e.text for e in doc.ents]
    times = [e.text for e in doc.ents if e.label_ in {"DATE", "TIME"}]
    pronoun = any(t.lower_ in _PRONOUNS and t.pos_ in {"PRON", "DET", "ADV"} for t in words)
    has_subject = any(t.pos_ == "PROPN" for t in words) or bool(doc.ents)
    short = len(words) <= 3
    depends = pronoun or bool(_LEADS.match(question)) or (short and not has_subject)
    # (not groups: "Is he a Democrat?", "Is Basford Korean?" ask what someone is, which a document may answer
    # without the word)
    proper = [e.text for e in doc.ents if e.label_ in (ENTITY_TYPES["name"] | ENTITY_TYPES["place"]) - {"NORP"}]
    proper += [t.text for t in words[1:] if t.pos_ == "PROPN" and not t.ent_type_]
    base = dict(focus=focus, names=names, times=times, depends_on_previous=depends,
                words=[t.lower_ for t in words], proper=proper)

    if _WHAT_ELSE.match(question) and previous is not None:
        return previous.model_copy(update={"continues": True, "depends_on_previous": True})
    if _OVERVIEW.search(question) and (any(w in _OVERVIEW_NOUNS for w in lower) or set(focus) <= _SUMMARY_WORDS):
        return QuestionAnalysis(intent="overview", **{**base, "depends_on_previous": False})
    if lemmas and (lemmas[0] in _AUX_FIRST or (len(lemmas) > 1 and lemmas[0] in {"so", "and", "but"}
                                               and lemmas[1] in _AUX_FIRST)):
        return QuestionAnalysis(intent="yesno", **base)
    wh = next((k for k, t in enumerate(words) if t.tag_ in {"WDT", "WP", "WP$", "WRB"}), None)
    if wh is None:
        if previous is not None and depends:  # "And Ohio?", "And the short one?": asks what the last turn asked
            return previous.followed_by(**{**base, "depends_on_previous": True})
        return QuestionAnalysis(intent="factoid", **base)
    word, after = lower[wh], lower[wh + 1] if wh + 1 < len(lower) else ""
    if word == "why":
        return QuestionAnalysis(intent="why", **{**base, "depends_on_previous": depends or len(words) <= 3})
    if word == "how":
        if after in _HOW_MANY:
            noun = next((t for t in words[wh + 2:wh + 3] if t.pos_ in {"NOUN", "PROPN"}), None)  # "How many Armenians"
            first = noun
            while noun is not None and noun.dep_ == "compound" and noun.head.pos_ == "NOUN":
                noun = noun.head  # "How much patent time": a count of time, not of patents
            unit = noun.lemma_.lower() if noun is not None else None
            verbs = {t.lemma_.lower() for t in words[wh + 2:]} | {t.lower_ for t in words[wh + 2:]}  # "cost" is often tagged a noun
            money = after == "much" and unit is None and (verbs & _MONEY_VERBS or (
                lemmas[wh + 2:wh + 3] == ["be"] and not any(t.tag_ in {"JJR", "RBR"} for t in words)))
            # "How many years", "How much time": a stretch of time, which the tagger calls a DATE ("How many times":
            # a count of occurrences, any number)
            stretch = unit in _TIME_UNITS and not (after == "many" and unit == "time")
            kind: AnswerType = "money" if money else "quantity" if stretch else "number"
            unit_text = noun.doc[first.i:noun.i + 1].text.lower() if noun is not None else None
            return QuestionAnalysis(intent="factoid", answer_type=kind, unit=unit, unit_text=unit_text, **base)
        if after in _MEASURE:
            return QuestionAnalysis(intent="factoid", answer_type="quantity", unit=after, **base)
        return QuestionAnalysis(intent="how", **base)
    if word in {"who", "whom", "whose"}:
        noun = _asked_noun(words[wh])
        # "Who is her publisher?": a role, which the answering sentence must give (not "Who is the suspect?")
        role = noun is not None and any(c.dep_ == "poss" for c in noun.children)
        return QuestionAnalysis(intent="factoid", answer_type="name", asked=noun.lemma_.lower() if noun is not None else None,
                                role=role, **base)
    if word == "where":
        return QuestionAnalysis(intent="factoid", answer_type="place", **base)
    if word == "when":
        if after in _MODALS:  # "When can a patent be refused?" asks for the circumstances, not a date
            return QuestionAnalysis(intent="factoid", **base)
        return QuestionAnalysis(intent="factoid", answer_type="date", **base)
    # what / which: the noun they ask about decides ("What year ...", "Which agency ...", "What are the risks?")
    head = words[wh].head if words[wh].dep_ == "det" and words[wh].head.pos_ == "NOUN" else None
    if head is None and words[wh].dep_ == "attr" and words[wh].head.lemma_ == "be":  # "What is the population of X?"
        head = next((c for c in words[wh].head.children if c.dep_ == "nsubj" and c.pos_ == "NOUN"), None)
    if head is not None and head.lemma_.lower() in _FOCUS_TYPES:
        kind = _FOCUS_TYPES[head.lemma_.lower()]
        asked = head.lemma_.lower() if kind in {"name", "place"} else None
        return QuestionAnalysis(intent="factoid", answer_type=kind, asked=asked, **base)
    if word == "which" and head is None:  # the tagger often misattaches "which": its noun is the run that follows
        run = []
        for t in words[wh + 1:]:
            if not (t.pos_ in {"NOUN", "PROPN", "ADJ"} or t.tag_.startswith("NN") or t.is_title):
                break
            run.append(t)
        head = next((t for t in reversed(run) if t.pos_ in {"NOUN", "PROPN"} or t.tag_.startswith("NN")), None)
    if head is not None and word == "which" and head.lemma_.lower() not in _DOCUMENT_NOUNS:
        # "Which study shows that?", "Which Leeds pubs ...": a name, given as that (a category such as "Which
        # country" is known by its entities instead)
        return QuestionAnalysis(intent="list" if head.tag_ == "NNS" else "factoid", answer_type="name",
                                asked=head.lemma_.lower(), role=True, **base)
    if head is not None and head.tag_ == "NNS":
        return QuestionAnalysis(intent="list", **base)
    return QuestionAnalysis(intent="factoid", **base)


def _asked_noun(wh):
    """The common noun a "Who is the X?" question asks to name (its copula's subject), if any."""
    if wh.dep_ == "attr" and wh.head.lemma_ == "be":
        return next((c for c in wh.head.children if c.dep_ == "nsubj" and c.pos_ == "NOUN"), None)
    return None


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


_UNITS = _TIME_UNITS | frozenset({"foot", "feet", "inch", "yard", "mile", "meter", "metre", "kilometer", "kilometre",
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

