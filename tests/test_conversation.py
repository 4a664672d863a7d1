"""Conversations with the extractive engine: follow-ups, citations that verify, refusals, persistence, bad input."""

import re

import pytest

from assistant.service import MAX_QUESTION, QuestionError
from store import bundled_document

ARTICLE = bundled_document().text


def test_an_answer_quotes_the_article_exactly(make_assistant):
    _, turn = make_assistant().ask("How many people were killed in the clashes?")
    assert "34" in turn.answer and not turn.refused
    assert turn.citations and all(c.verified for c in turn.citations)
    for citation in turn.citations:
        assert ARTICLE[citation.start : citation.end] == citation.text
        assert f"[{citation.n}]" in turn.answer
    for source in turn.sources:
        assert ARTICLE[source.start : source.end] == source.text
    assert [s.rank for s in turn.sources] == list(range(1, len(turn.sources) + 1))


def test_a_question_that_asks_two_things_gets_a_cited_sentence_for_each(make_assistant):
    _, turn = make_assistant().ask("When did the ceasefire come into force, and how many people were killed?")
    assert not turn.refused and len(turn.citations) >= 2 and all(c.verified for c in turn.citations)
    assert any("September 20" in c.text for c in turn.citations)  # when
    assert any(re.search(r"\b(34 dead|32 deaths)\b", c.text) for c in turn.citations)  # how many (two counts are given)


def test_the_sources_shown_are_numbered_in_the_order_shown_when_passages_are_joined(make_assistant):
    _, turn = make_assistant().ask("When did the ceasefire take effect, and how many soldiers were killed?")
    shown = [p for group in turn.source_groups() for p in group.passages]
    assert len(shown) < len(turn.sources)  # overlapping passages are shown joined
    assert [p.rank for p in shown] == list(range(1, len(shown) + 1))


def test_a_follow_up_is_searched_with_the_conversation_and_shows_what_was_searched(make_assistant):
    assistant = make_assistant()
    conversation, _ = assistant.ask("How many people were killed in the clashes?")
    _, turn = assistant.ask("And the Azerbaijani side?", conversation)
    assert "two civilian deaths" in turn.answer
    assert turn.standalone_question.startswith("And the Azerbaijani side?")
    assert "killed" in turn.standalone_question  # carried over from the previous question


def test_an_out_of_scope_question_is_refused_with_the_closest_passages(make_assistant):
    _, turn = make_assistant().ask("What is the boiling point of mercury?")
    assert turn.refused and turn.answer.startswith("The article does not say")
    assert turn.citations == [] and turn.sources


def test_a_follow_up_about_a_place_the_article_never_names_is_refused(make_assistant):
    """"And Tokyo?" leans on the last question, so it is scored joined with it and would pass on its words; but
    no sentence of the article can be about a city it never names."""
    assistant = make_assistant()
    conversation, _ = assistant.ask("How many people were killed in the clashes?")
    _, turn = assistant.ask("And in Tokyo?", conversation)
    assert turn.refused and turn.answer.startswith("The article does not say") and turn.citations == []
    _, named = assistant.ask("And in Stepanakert?", conversation)  # a city it names
    assert not named.refused


def test_a_conversation_survives_a_restart(make_assistant, tmp_path):
    store = tmp_path / "kept.sqlite"
    first = make_assistant(conversations=store)
    conversation, _ = first.ask("Where will the reintegration talks be held?")
    del first
    again = make_assistant(conversations=store)
    assert [t.question for t in again.turns(conversation)] == ["Where will the reintegration talks be held?"]
    _, turn = again.ask("How far is it from Baku?", conversation)
    assert "265 kilometers" in turn.answer
    assert [c.id for c in again.conversations()] == [conversation]


def test_conversations_do_not_share_state(make_assistant):
    assistant = make_assistant()
    first, _ = assistant.ask("How many people were killed in the clashes?")
    second, turn = assistant.ask("And the Azerbaijani side?")
    assert first != second and turn.standalone_question == "And the Azerbaijani side?"
    assert len(assistant.turns(first)) == len(assistant.turns(second)) == 1


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "the question is empty"), ("   \n\t ", "the question is empty"), ("\x1b[2J\x1b[H", "the question is empty"),
     ("x" * 100_000, f"keep it under {MAX_QUESTION:,}")],
    ids=["empty", "whitespace", "only-escapes", "100k-characters"],
)
def test_bad_questions_are_refused_and_the_conversation_is_intact(make_assistant, question, message):
    assistant = make_assistant()
    conversation, _ = assistant.ask("Who mediated the ceasefire?")
    with pytest.raises(QuestionError, match=message):
        assistant.ask(question, conversation)
    assert len(assistant.turns(conversation)) == 1


def test_control_characters_and_escape_sequences_are_removed_from_a_question(make_assistant):
    _, turn = make_assistant().ask("How many\x1b[31m people\x07 were\x00 killed\r\nin the clashes?\x1b]0;title\x07")
    assert turn.question == "How many people were killed in the clashes?"
    assert "34" in turn.answer


def test_an_article_indexed_twice_is_not_quoted_twice_in_one_answer(index, cross_encoder, tmp_path):
    from assistant.service import Assistant, AssistantSettings
    from store import text_document

    index.add([bundled_document(), text_document(ARTICLE, title="The ceasefire, saved from the web")])  # the same words, another document
    assistant = Assistant(index.settings, AssistantSettings(engine="extractive", conversations=tmp_path / "c.sqlite"),
                          index=index, cross_encoder=cross_encoder)
    _, turn = assistant.ask("How many Armenians live in Nagorno-Karabakh?")
    assert "120,000" in turn.answer
    quotes = [c.text for c in turn.citations]
    assert len(quotes) == len(set(quotes))


def test_a_turn_stored_before_spans_were_one_model_still_reads():
    from assistant.turns import Turn

    stored = {  # as an earlier release kept it: a citation's document and quote, a source's document
        "question": "How many people were killed?", "standalone_question": "How many people were killed?",
        "answer": "At least 34 dead. [1]", "engine": "extractive",
        "citations": [{"n": 1, "document": "doc", "title": "T", "start": 3, "end": 10, "quote": "34 dead",
                       "verified": True}],
        "sources": [{"rank": 1, "document": "doc", "title": "T", "chunk_id": "doc:1", "start": 0, "end": 20,
                     "text": "At least 34 dead ok.", "score": 0.9}],
    }
    turn = Turn.model_validate(stored)
    assert (turn.citations[0].document_id, turn.citations[0].text) == ("doc", "34 dead")
    assert turn.sources[0].document_id == "doc" and turn.sources[0].rank == 1
    assert Turn.model_validate(turn.model_dump()) == turn
