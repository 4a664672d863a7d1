"""Questions are read the way people ask them: what they want, about what, and whether they lean on the last turn."""

import pytest

from assistant.analysis import RULES, analyse
from assistant.answer_kinds import holds_answer


# Each rule of assistant.analysis.RULES with the questions that motivated it: (question, rule, intent, kind of answer)
RULE_EXAMPLES = [
    ("What is this article about?", "overview", "overview", None),
    ("What's the main point of this piece?", "overview", "overview", None),
    ("What is this opinion piece arguing?", "overview", "overview", None),
    ("Give me a short summary.", "overview", "overview", None),
    ("Did Armenia agree to the ceasefire?", "yes_no", "yesno", None),
    ("Does the water level drop when the town pumps a lot?", "yes_no", "yesno", None),  # "when" inside a yes/no question
    ("And is it safe?", "yes_no", "yesno", None),
    ("Tell me about the ceasefire.", "no_wh_word", "factoid", None),
    ("Why did the fighting start?", "why", "why", None),
    ("How many soldiers did Azerbaijan lose?", "how", "factoid", "number"),
    ("How much did the operation cost?", "how", "factoid", "money"),
    ("How long is the Lachin corridor?", "how", "factoid", "quantity"),
    ("How many years did the war last?", "how", "factoid", "quantity"),  # a stretch of time
    ("How many times has she won the title?", "how", "factoid", "number"),  # a count of occurrences, not of time
    ("How are crews fighting it?", "how", "how", None),
    ("Who brokered it?", "who", "factoid", "name"),
    ("Where will the talks be held?", "where", "factoid", "place"),
    ("When did it open?", "when", "factoid", "date"),
    ("When can a patent be refused?", "when", "factoid", None),  # asks for the circumstances, not a date
    ("In what year did the war end?", "what_or_which", "factoid", "date"),
    ("What is the population of Baku?", "what_or_which", "factoid", "number"),  # the noun asked about decides
    ("Which study shows that?", "what_or_which", "factoid", "name"),
    ("What was her job at the prison?", "what_or_which", "factoid", None),
    ("What happened with Greece?", "what_or_which", "factoid", None),  # a question about one thing, not an overview
    ("What other kinds of mismanagement does the writer list?", "what_or_which", "list", None),
]
# the rules that read a question by the last turn's: (first question, follow-up, rule, intent, kind of answer)
FOLLOW_UP_EXAMPLES = [
    ("What is this article about?", "What else?", "more_of_the_same", "overview", None),
    ("How many followers does Basford have?", "And sales there?", "no_wh_word", "factoid", "number"),  # an ellipsis
    ("Who brokered it?", "And the Azerbaijani side?", "no_wh_word", "factoid", "name"),
]


@pytest.mark.parametrize(("question", "rule", "intent", "answer_type"), RULE_EXAMPLES)
def test_each_rule_reads_the_questions_that_motivated_it(question, rule, intent, answer_type):
    analysis = analyse(question)
    assert (analysis.rule, analysis.intent, analysis.answer_type) == (rule, intent, answer_type)


@pytest.mark.parametrize(("first", "question", "rule", "intent", "answer_type"), FOLLOW_UP_EXAMPLES)
def test_a_follow_up_is_read_by_the_last_turn(first, question, rule, intent, answer_type):
    analysis = analyse(question, analyse(first))
    assert (analysis.rule, analysis.intent, analysis.answer_type) == (rule, intent, answer_type)
    assert analysis.depends_on_previous


def test_every_rule_has_its_examples():
    shown = {example[1] for example in RULE_EXAMPLES} | {example[2] for example in FOLLOW_UP_EXAMPLES}
    assert shown == {rule.__name__.lstrip("_") for rule in RULES}


def test_follow_ups_that_lean_on_the_last_turn_are_told_from_those_that_name_their_subject():
    first = analyse("How many followers does Basford have?")
    assert analyse("And sales there?", first).answer_type == "number"  # an ellipsis asks what the last turn asked
    assert analyse("Why?", first).depends_on_previous
    assert analyse("Who runs it?", first).depends_on_previous
    assert not analyse("Where will the reintegration talks be held?", first).depends_on_previous
    assert analyse("What else?", analyse("What is this article about?")).continues


def test_a_count_is_answered_only_by_a_number_of_the_thing_asked_about():
    soldiers = analyse("How many soldiers did Azerbaijan lose?")
    assert not holds_answer("The area is populated by some 120,000 Armenians.", soldiers)
    assert holds_answer("Azerbaijan lost 200 soldiers.", soldiers)
    assert holds_answer("The Azerbaijani side reported two civilian deaths.", analyse("How many civilians died?"))
    armenians = analyse("How many Armenians live in Nagorno-Karabakh?")  # a proper noun counted
    assert not holds_answer("The city of Yevlax has 71,000 inhabitants and is 265 kilometers west of Baku.", armenians)
    assert holds_answer("The separatist territory is populated by some 120,000 Armenians.", armenians)


def test_a_count_of_times_is_answered_by_any_number_and_by_a_setting_that_counts():
    times = analyse("How many times does timeit() run the statement by default?")
    assert holds_answer("She won it three times.", times)
    assert holds_answer("timeit(stmt='pass', number=1000000, globals=None) runs the statement.", times)
    assert not holds_answer("timeit(stmt='pass', globals=None) runs the statement in a namespace.", times)
    # a setting named for what is counted ("repeat=5" for repeats); one named for something else is no count of it
    assert holds_answer("repeat(stmt, repeat=5) returns a list.", analyse("How many repeats does repeat() do?"))
    assert not holds_answer("repeat(stmt, timeout=5) returns a list.", analyse("How many repeats does repeat() do?"))


def test_a_count_of_a_compound_noun_counts_its_head():
    patent_time = analyse("How much patent time does a drug usually have left when it reaches the market?")
    assert (patent_time.unit, patent_time.unit_text) == ("time", "patent time")
    assert holds_answer("Typically, a drug reaches the market with about 13 years left on its patent.", patent_time)


def test_a_measure_needs_a_number_and_a_figure_for_a_time_frame_needs_a_time():
    how_long = analyse("How long until Arizona runs out of water?")
    assert not holds_answer("In recent years, such withdrawals have taken on more importance in the West.", how_long)
    assert holds_answer("The state's aquifers could run dry within 30 years.", how_long)
    corridor = analyse("How long is the Lachin corridor?")
    assert not holds_answer("In December 2022, it cut the Lachin corridor, the only route to Armenia.", corridor)
    assert holds_answer("The Lachin corridor is about 5 kilometers long.", corridor)
    assert holds_answer("At 6-foot-11 he was pretty large to begin with.", analyse("How tall was he?"))
    assert holds_answer("He was 58.", analyse("How old was he?"))  # the tagger calls an age a date
    rate_then = analyse("What was the smoking rate ten years ago?")
    assert not holds_answer("Fewer than one in 50 students reported smoking cigarettes.", rate_then)
    assert holds_answer("In 2005, 12 percent of students smoked.", rate_then)


@pytest.mark.parametrize(("sentence", "holds"), [
    ("So Ms. Basford and her publisher were surprised to learn that there was a market.", False),  # names someone else
    ("Her publisher, Laurence King, printed more copies.", True),
    ("Laurence King, her publisher, printed more copies.", True),
    ("Her publisher is Laurence King.", True),
    ("The publisher Laurence King printed more copies.", True),
])
def test_a_name_asked_for_a_noun_must_be_the_one_the_sentence_gives_that_noun(sentence, holds):
    assert holds_answer(sentence, analyse("Who is her publisher?")) is holds


@pytest.mark.parametrize(("question", "answer_type", "asked", "role"), [
    ("Which study shows that?", "name", "study", True),
    ("Which Leeds pubs does he recommend?", "name", "pub", True),  # "which" misattached by the tagger
    ("Which members of Congress backed the idea?", "name", "member", True),
    ("Who is her publisher?", "name", "publisher", True),
    ("Who is the suspect?", "name", "suspect", False),  # "Maj. Hasan ... is accused of ...": not stated as such
    ("Which country is he from?", "place", "country", False),  # a category: known by its entities
    ("Which article mentions a Korean pop star?", None, None, False),  # asks which document
])
def test_which_and_a_noun_asks_for_a_name_and_a_possessed_noun_for_a_role(question, answer_type, asked, role):
    analysis = analyse(question)
    assert (analysis.answer_type, analysis.asked, analysis.role) == (answer_type, asked, role)


@pytest.mark.parametrize(("question", "sentence", "holds"), [
    # a role the sentence never speaks of is not answered by the names it gives
    ("Which router do they pick for a small apartment?", "The Wirecutter picked some routers for small apartments.", False),
    ("Which study shows that?", "Promotional materials say coloring “has been shown to be a stress reliever.”", False),
    ("Which study shows that?", "A 2014 study, the Coloring Project, found lower stress.", True),
    # names given for a noun in a list after it, or after "including"
    ("Which counties?", "Firefighters are deployed across several counties, including Colusa and Lake.", True),
    ("Who were those coaches?", "He resisted the entreaties of his coaches, Gene Shue and later Billy Cunningham.", True),
])
def test_a_name_for_a_role_or_list_is_linked_to_its_noun(question, sentence, holds):
    assert holds_answer(sentence, analyse(question)) is holds


def test_a_follow_up_with_at_most_one_word_of_its_own_leans_on_the_last_turn():
    first = analyse("In the Wi-Fi article, how far away was the long-range test?")
    for bare in ("And the short one?", "Why so few?", "What's his advice?"):
        analysis = analyse(bare, first)
        assert analysis.bare, bare
    assert not analyse("How big is the village where Black Sheep is?", first).depends_on_previous
    assert not analyse("Give me an example of it behaving in a way nobody expected.", first).bare  # words of its own


@pytest.mark.parametrize(("question", "named", "asks"), [
    ("In the Wi-Fi article, how far away was the long-range test?", ["Wi-Fi"], "How far away was the long-range test?"),
    ("And in the wildfire article, how much of the fire is contained?", ["wildfire"], "How much of the fire is contained?"),
    ("What's the desert town in the water piece?", ["water"], "What's the desert town?"),
    ("In the Darryl Dawkins obituary, where was he born?", ["Darryl Dawkins"], "Where was he born?"),
    # named as what the question is about: the words stay in the question
    ("Do the freshman survey story and the coloring book story say similar things about screens?",
     ["freshman survey", "coloring book"], None),
    ("Back to Greece: who's going to keep an eye on the government?", ["Greece"], None),
    ("Switching to the drug patent piece: who is Benjamin Roin?", ["drug patent"], "who is Benjamin Roin?"),
    ("What is in the Mueller report?", ["Mueller"], None),
    # "the article", "that article", "which article": the one being talked about, or a question about them all
    ("Does that article mention Bernie Sanders?", [], None),
    ("Which article mentions a Korean pop star?", [], None),
    ("What's this article about?", [], None),
])
def test_a_question_that_names_its_document_is_told_apart_from_what_it_asks(question, named, asks):
    analysis = analyse(question)
    assert (analysis.documents_named, analysis.asks) == (named, asks)


def test_an_ellipsis_inherits_what_the_last_question_asked_but_not_the_document_it_named():
    first = analyse("In the Wi-Fi article, how far away was the long-range test?")
    follow_up = analyse("And the short one?", first)
    assert (follow_up.answer_type, follow_up.unit) == ("quantity", "far")
    assert (follow_up.documents_named, follow_up.asks, follow_up.depends_on_previous) == ([], None, True)
    more = analyse("What else?", first)  # more of the same, but not asked as the last question's words
    assert more.continues and (more.documents_named, more.asks) == ([], None)


@pytest.mark.parametrize(("question", "proper"), [
    ("What about Tokyo?", ["Tokyo"]),
    ("What is George Bush's view of his brother?", ["George Bush's"]),
    # a group someone belongs to is what the question asks about, not whom: a document may answer it without it
    ("Is he a Democrat?", []),
    ("Is he a republican or a democrat?", []),
])
def test_the_names_a_document_must_hold_are_those_of_people_places_and_things_not_groups(question, proper):
    assert analyse(question).proper == proper


@pytest.mark.parametrize(("question", "parts"), [
    ("What's it for, and what does it cost?", ["What's it for?", "What does it cost?"]),
    ("When was it built and how much did it cost?", ["When was it built?", "How much did it cost?"]),
    ("Where is the plant? When did it open?", ["Where is the plant?", "When did it open?"]),
    ("And how many of them said they often felt depressed?", []),  # a follow-up's "And", not a second question
    ("What did he say, and why?", []),  # "why" asks about the same thing
    ("How and when did it happen?", []),
    ("Which players were traded, and when?", []),
])
def test_a_question_that_asks_two_things_is_split_into_its_parts(question, parts):
    assert analyse(question).parts == parts
