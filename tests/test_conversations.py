"""Managing conversations (list with dates, search, rename, delete; their documents kept across a restart) and the
sources of an answer read as evidence: by document, overlapping passages joined, scores falling with the order; how a question was read, shown on demand."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from assistant.service import ConversationError
from assistant.turns import Source, Turn
from store import bundled_document
from tests.test_script import run_assistant

ARTICLE = bundled_document().text


def test_conversations_are_listed_newest_first_with_a_date_and_found_by_their_words(make_assistant):
    assistant = make_assistant()
    older, _ = assistant.ask("How many people were killed in the clashes?")
    newer, _ = assistant.ask("Where will the reintegration talks be held?")
    listed = assistant.conversations()
    assert [c.id for c in listed] == [newer, older]
    assert listed[1].title == listed[1].first_question == "How many people were killed in the clashes?"
    assert abs((datetime.fromisoformat(listed[0].updated) - datetime.now().astimezone()).total_seconds()) < 120
    assert [c.id for c in assistant.conversations("KILLED clashes")] == [older]
    assert [c.id for c in assistant.conversations("Yevlax")] == [newer]  # a word of the answer
    assert assistant.conversations("killed Yevlax") == []  # every word must be found


def test_a_renamed_conversation_keeps_its_title_across_a_restart_and_deleting_it_is_for_good(make_assistant, tmp_path):
    store = tmp_path / "kept.sqlite"
    first = make_assistant(conversations=store)
    conversation, _ = first.ask("How many people were killed in the clashes?")
    first.rename(conversation, "  Casualties\x1b[31m  of the clashes ")
    again = make_assistant(conversations=store)
    [info] = again.conversations()
    assert info.title == "Casualties of the clashes" and info.turns == 1
    assert [c.id for c in again.conversations("casualties")] == [conversation]
    _, turn = again.ask("And the Azerbaijani side?", conversation)  # a rename is not a turn: history goes on
    assert "two civilian deaths" in turn.answer
    again.rename(conversation, "")
    assert again.conversation(conversation).title == "How many people were killed in the clashes?"
    again.delete(conversation)
    assert again.conversations() == [] and again.turns(conversation) == []
    with pytest.raises(ConversationError, match="no conversation nope; see `assistant history`"):
        again.rename("nope", "x")
    with pytest.raises(ConversationError, match="no conversation"):
        again.delete(conversation)


def test_a_conversation_remembers_its_documents_across_a_restart(make_assistant, tmp_path):
    store = tmp_path / "kept.sqlite"
    first = make_assistant(conversations=store)
    conversation, _ = first.ask("How many people were killed?", documents=[bundled_document().id])
    assert make_assistant(conversations=store).documents_of(conversation) == [bundled_document().id]
    first.set_documents(conversation, None)
    assert make_assistant(conversations=store).documents_of(conversation) is None
    assert first.documents_of("never-stored") is None


def test_history_search_rename_and_delete_from_the_command_line(tmp_path):
    env = {"ASSISTANT_CONVERSATIONS": str(tmp_path / "c.sqlite")}
    store = tmp_path / "s"
    asked = run_assistant("ask", "How far is Yevlax from Baku?", "--json", store=store, env_extra=env)
    assert asked.returncode == 0, asked.stderr
    conversation = asked.stdout.split('"conversation": "')[1].split('"')[0]
    history = run_assistant("history", store=store, env_extra=env)
    today = datetime.now().astimezone().strftime("%Y-%m-%d")
    assert conversation in history.stdout and today in history.stdout and "How far is Yevlax" in history.stdout
    renamed = run_assistant("rename", conversation, "Road distances", store=store, env_extra=env)
    assert renamed.returncode == 0 and "is now titled 'Road distances'" in renamed.stdout
    found = run_assistant("history", "--search", "road", store=store, env_extra=env)
    assert "Road distances — “How far is Yevlax from Baku?”" in found.stdout  # renamed: what it began with too
    none = run_assistant("history", "--search", "submarine", store=store, env_extra=env)
    assert none.returncode == 0 and "no conversation holds 'submarine'" in none.stdout
    deleted = run_assistant("delete", conversation, store=store, env_extra=env)
    assert deleted.returncode == 0 and f"deleted conversation {conversation}" in deleted.stdout
    assert "no conversations yet" in run_assistant("history", store=store, env_extra=env).stdout
    again = run_assistant("delete", conversation, store=store, env_extra=env)
    assert again.returncode == 2 and again.stderr.strip() == (
        f"error: no conversation {conversation}; see `assistant history` for the ids")


def _source(rank: int, start: int, end: int, score: float, document: str = "a", title: str = "A") -> Source:
    text = (ARTICLE if document == "a" else ARTICLE[::-1])[start:end]
    return Source(rank=rank, document_id=document, title=title, chunk_id=f"{document}:{start}", start=start, end=end,
                  text=text, score=score)


def test_sources_are_grouped_by_document_with_overlapping_passages_joined():
    turn = Turn(question="q", standalone_question="q", answer="a", engine="extractive", sources=[
        _source(1, 100, 400, 0.9), _source(2, 0, 300, 0.5, "b", "B"), _source(3, 350, 700, 0.4),
        _source(4, 900, 1000, 0.2), _source(5, 600, 800, 0.1),
    ])
    groups = turn.source_groups()
    assert [(g.document_id, g.title) for g in groups] == [("a", "A"), ("b", "B")]
    joined = groups[0].passages
    # numbered 1…n in the order shown: a joined passage keeps its best score, and leaves no gap in the numbers
    assert [(p.start, p.end, p.rank, p.score) for p in joined] == [(100, 800, 1, 0.9), (900, 1000, 2, 0.2)]
    assert [(p.start, p.rank) for p in groups[1].passages] == [(0, 3)]
    assert joined[0].text == ARTICLE[100:800]  # the overlap appears once


def test_the_sources_scores_fall_as_their_order_goes(make_assistant):
    for question in ("How many people were killed in the clashes?", "What is this about?", "Did they agree?"):
        _, turn = make_assistant().ask(question)
        scores = [s.score for s in turn.sources]
        assert scores == sorted(scores, reverse=True), (question, scores)


def test_explain_shows_how_a_question_and_its_follow_up_were_read(tmp_path):
    env = {"ASSISTANT_CONVERSATIONS": str(tmp_path / "c.sqlite")}
    store = tmp_path / "s"
    asked = run_assistant("ask", "How many soldiers did Azerbaijan lose?", "--explain", "--json", store=store,
                          env_extra=env)
    assert asked.returncode == 0, asked.stderr
    first = json.loads(asked.stdout)
    assert first["analysis"]["rule"] == "how" and first["analysis"]["answer_type"] == "number"
    follow_up = run_assistant("ask", "And the Armenian side?", "--explain", "--conversation", first["conversation"],
                              store=store, env_extra=env)
    assert follow_up.returncode == 0, follow_up.stderr
    shown = " ".join(follow_up.stdout.split())
    assert "rule: no_wh_word: \"And Ohio?\"" in shown  # the rule, with the examples that motivated it
    assert "expects: number (of soldiers)" in shown  # the ellipsis asks what the last turn asked
    assert "leans on the last turn: yes" in shown
    plain = run_assistant("ask", "Why?", "--conversation", first["conversation"], store=store, env_extra=env)
    assert "How the question was read" not in plain.stdout
