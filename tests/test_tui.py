"""The chat UI driven by Textual's Pilot: whole conversations, sources and highlights, resume, cancel, errors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGenerationChunk

from store import Index, StoreSettings, bundled_document
from pilot import ask, wait_for
from tui.app import AssistantApp
from tui.screens import ConversationsScreen, DocumentScreen, DocumentsScreen, HelpScreen
from tui.widgets import TurnView

ARTICLE = bundled_document().text
SIZE = (120, 40)


def markdown_text(view: TurnView) -> str:
    """The answer as the user reads it (the rendered Markdown blocks' plain text)."""
    from textual.widgets._markdown import MarkdownBlock

    return " ".join(block._content.plain for block in view.answer.query(MarkdownBlock) if hasattr(block, "_content"))


def errors(app) -> list[str]:
    return [n.message for n in app._notifications if n.severity == "error"]


async def test_a_conversation_shows_answers_searches_sources_and_highlights(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        first = await ask(pilot, "How many people were killed in the clashes?")
        assert "34 dead" in first.turn.answer and "34 dead" in markdown_text(first)
        assert "[1]" in markdown_text(first)
        cards = app.sources.cards
        groups = first.turn.source_groups()
        assert len(cards) == sum(len(g.passages) for g in groups) >= 2  # overlapping passages joined
        titles = [str(t.render()) for t in app.sources.query(".source-title")]
        assert titles == [g.title for g in groups] and len(set(titles)) == len(titles)  # each title once
        [citation] = first.turn.citations
        highlighted = [(card, span) for card in cards for span in card.highlights]
        assert highlighted, "the cited words are highlighted in a passage"
        card, (n, start, end) = highlighted[0]
        assert n == 1 and card.source.text[start:end] == citation.text == ARTICLE[citation.start:citation.end]

        follow = await ask(pilot, "And the Azerbaijani side?")
        assert "two civilian deaths" in follow.turn.answer
        searched = str(follow.query_one(".searched").render())
        assert "And the Azerbaijani side?" in searched and "killed" in searched  # what was actually searched
        assert app.selected is follow and app.sources.turn is follow.turn

        await pilot.press("ctrl+up")  # back to the first answer: its sources return
        assert app.selected is first and app.sources.turn is first.turn


async def test_choosing_a_citation_brings_its_passage_and_opens_the_document_there(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How many people were killed in the clashes?")
        await pilot.press("f2")
        assert app.sources.citation == 1
        assert [c for c in app.sources.cards if c.has_class("-selected")]
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentScreen))
        await pilot.pause()
        assert app.screen.selected_text == view.turn.citations[0].text
        await pilot.press("escape")
        assert not isinstance(app.screen, DocumentScreen)


async def test_clicking_a_citation_marker_selects_it(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How many people were killed in the clashes?")
        view.post_message(TurnView.Selected(view, 1))  # what clicking the [1] link posts
        await pilot.pause(0.2)
        assert app.sources.citation == 1


async def test_a_conversation_resumes_after_a_restart(make_app, tmp_path):
    store = tmp_path / "kept.sqlite"
    app = make_app(conversations=store)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How many people were killed in the clashes?")
        await ask(pilot, "And the Azerbaijani side?")
        conversation = app.conversation_id
    again = make_app(conversations=store, conversation_id=conversation)
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(again.turn_views) == 2 and again.selected is not None)
        assert "two civilian deaths" in again.turn_views[-1].turn.answer
        follow = await ask(pilot, "How far is it from Baku?")  # the history is there for the follow-up
        assert follow.turn.standalone_question != "How far is it from Baku?"
    third = make_app(conversations=store)
    async with third.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: third.assistant is not None)
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: isinstance(third.screen, ConversationsScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(third.turn_views) == 3)
        assert third.conversation_id == conversation


class SlowModel(GenericFakeChatModel):
    """A fake LLM that streams two words, then waits until the test lets it go on."""

    gate: Any = None

    def _stream(self, messages, stop=None, run_manager=None, **kwargs) -> Iterator[ChatGenerationChunk]:
        for i, word in enumerate(["At ", "least ", "34 ", "people ", "died [1]."]):
            if i == 2:
                self.gate.wait(30)
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk


async def test_escape_cancels_a_streaming_answer_and_keeps_what_was_written(make_app, tmp_path):
    gate = threading.Event()
    model = SlowModel(messages=iter([]), gate=gate)
    app = make_app("fake", chat_model=model, conversations=tmp_path / "c.sqlite")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"How many people were killed?", "enter")
        await wait_for(pilot, lambda: app.turn_views and app.turn_views[-1].partial == "At least ")
        view = app.turn_views[-1]
        await pilot.press(*"typing goes on")  # the input stays usable while the answer streams
        await pilot.press("escape")
        gate.set()
        await wait_for(pilot, lambda: not app.is_answering)
        assert view.state == "cancelled" and "cancelled" in str(view.query_one(".note").render())
        assert "At least" in markdown_text(view)
        assert app.query_one("#question").value == "typing goes on"
        [stored] = app.assistant.turns(app.conversation_id)
        assert stored.status == "cancelled" and stored.answer == "At least "


class DownModel(GenericFakeChatModel):
    def _stream(self, *args, **kwargs):
        raise ConnectionError("cannot reach the model server at http://127.0.0.1:9")

    def _generate(self, *args, **kwargs):
        raise ConnectionError("cannot reach the model server at http://127.0.0.1:9")


async def test_an_unreachable_engine_is_a_notification_and_the_conversation_goes_on(make_app):
    app = make_app("fake", chat_model=DownModel(messages=iter([])))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How many people were killed in the clashes?")
        assert view.state == "failed"
        assert any("cannot reach the model server" in e and "/engine extractive" in e for e in errors(app))
        assert app.query_one("#question").value == "How many people were killed in the clashes?"  # kept to retry
        app.query_one("#question").value = ""
        await pilot.press(*"/engine extractive", "enter")
        await wait_for(pilot, lambda: app.assistant.engine.name == "extractive")
        again = await ask(pilot, "How many people were killed in the clashes?")
        assert again.state == "ok" and "34 dead" in again.turn.answer
        stored = app.assistant.turns(app.conversation_id)
        assert [t.status for t in stored] == ["failed", "ok"]


async def test_bad_questions_warn_and_keep_the_text(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        app.query_one("#question").value = "x" * 3000
        await pilot.press("enter")
        await pilot.pause()
        assert app.query_one("#question").value == "x" * 3000
        assert any("keep it under" in n.message for n in app._notifications)
        assert app.turn_views == []
        app.query_one("#question").value = ""
        await pilot.press(*"/nonsense", "enter")
        assert any("no command /nonsense" in n.message for n in app._notifications)


async def test_markup_and_escape_sequences_in_a_document_are_shown_literally(embeddings, cross_encoder, tmp_path):
    from assistant.service import Assistant, AssistantSettings

    hostile = tmp_path / "hostile.txt"
    hostile.write_text(
        "Zorblax Harbour report.\n\nThe [bold]harbour master[/bold] of Zorblax counted 417 ships "
        "[@click=app.quit]this morning[/]. \x1b[31mRed alert\x1b[0m was declared at Zorblax Harbour.\n",
        encoding="utf-8",
    )
    settings = StoreSettings(store=tmp_path / "store")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite"),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    app = AssistantApp(load, paths=[hostile])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        view = await ask(pilot, "How many ships did the harbour master of Zorblax count?")
        assert app.is_running and view.state == "ok"
        assert "[@click=app.quit]" in view.turn.answer
        shown = markdown_text(view)
        assert "[bold]harbour master[/bold]" in shown and "[@click=app.quit]this morning[/]" in shown
        card_text = app.sources.cards[0].render().plain
        assert "[bold]harbour master[/bold]" in card_text and "\u241b[31mRed alert" in card_text
        assert "\x1b" not in card_text and "\x1b" not in shown
        await pilot.click(TurnView)  # clicking around the literal [@click=…] text does not run it
        assert app.is_running


async def test_index_command_adds_a_document_and_reports_bad_paths(embeddings, cross_encoder, tmp_path):
    from assistant.service import Assistant, AssistantSettings

    note = tmp_path / "notes.md"
    note.write_text("# Lighthouse notes\n\nThe Vellmar lighthouse keeper lit the lamp 9,400 times.\n", encoding="utf-8")
    settings = StoreSettings(store=tmp_path / "store")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite"),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    app = AssistantApp(load)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press(*f"/index {note}", "enter")
        await wait_for(pilot, lambda: any("Indexed 1 document" in n.message for n in app._notifications))
        view = await ask(pilot, "How many times did the Vellmar lighthouse keeper light the lamp?")
        assert "9,400" in view.turn.answer
        await pilot.press(*f"/index {tmp_path / 'missing.txt'}", "enter")
        await wait_for(pilot, lambda: any("does not exist" in e for e in errors(app)))
        assert app.is_running


async def test_export_help_and_palette(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "How many people were killed in the clashes?")
        target = tmp_path / "out.md"
        await pilot.press(*f"/export {target}", "enter")
        await wait_for(pilot, target.exists)
        text = target.read_text(encoding="utf-8")
        assert "How many people were killed in the clashes?" in text and "at least 34 dead" in text
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert {"New conversation", "Conversations", "Documents", "Export transcript", "Add a document",
                "Engine: extractive", "Help"} <= titles
        await pilot.press("ctrl+n")
        assert app.turn_views == [] and app.conversation_id is None


async def test_a_damaged_store_is_a_notification_with_the_way_out_and_the_ui_keeps_running(tmp_path, cross_encoder):
    import os

    from assistant.service import Assistant, AssistantSettings
    from processes import run_assistant

    store = tmp_path / "store"
    made = run_assistant("docs", env={**os.environ, "ASSISTANT_STORE": str(store)})
    assert made.returncode == 0, made.stderr
    with (store / "chroma.sqlite3").open("r+b") as database:
        database.write(b"\x00garbage" * 512)

    settings = AssistantSettings(engine="extractive", conversations=tmp_path / "c.sqlite")
    app = AssistantApp(lambda: Assistant(StoreSettings(store=store), settings, cross_encoder=cross_encoder))
    async with app.run_test(size=SIZE) as pilot:
        # (the error is set before the UI is told: wait for what the user sees)
        await wait_for(pilot, lambda: any("cannot open the index" in e for e in errors(app)))
        assert app.load_error is not None
        assert any("cannot open the index" in e and "assistant index --rebuild" in e for e in errors(app))
        app.query_one("#question").value = "How many people were killed?"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(errors(app)) >= 2)
        assert app.is_running and app.query_one("#question").value == "How many people were killed?"
        await pilot.press("f1")  # the UI still answers the keyboard
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_a_contradicting_claim_is_flagged_with_its_reason_in_the_ui(make_app):
    model = GenericFakeChatModel(messages=iter([AIMessage("The Karabakh separatists reported 23 deaths [1].")]))
    app = make_app("fake", chat_model=model)
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How many deaths did the separatists report?")
        note = str(view.query_one(".note").render())
        assert "not supported" in note and "23 deaths" in note and "the passage says 32" in note
        assert view.has_class("-unsupported")


async def test_a_launch_path_that_cannot_be_indexed_leaves_every_document_to_answer_from(
        embeddings, cross_encoder, tmp_path):
    from assistant.service import Assistant, AssistantSettings

    settings = StoreSettings(store=tmp_path / "store")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite"),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    app = AssistantApp(load, paths=[tmp_path / "missing.txt"])  # `assistant chat missing.txt`
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: any("answering from every indexed document" in n.message
                                          for n in app._notifications))
        assert any("does not exist" in e for e in errors(app))
        assert app.documents is None
        view = await ask(pilot, "How many people were killed in the clashes?")
        assert "34" in view.turn.answer and not view.turn.refused  # the bundled article, not nothing


async def test_the_demo_article_is_said_to_be_one_and_steps_aside_for_the_users_first_document(
        embeddings, cross_encoder, tmp_path):
    from assistant.service import Assistant, AssistantSettings

    settings = StoreSettings(store=tmp_path / "store")
    notes = tmp_path / "lighthouse.txt"
    notes.write_text("The lighthouse keeper logged 41 ships in March. Storms closed the harbour for a week.",
                     encoding="utf-8")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite"),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    app = AssistantApp(load)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.conversation.query(".welcome"))
        from textual.widgets import Static

        welcome = str(app.conversation.query_one(".welcome").render())
        assert "bundled demo article" in welcome and "steps aside" in welcome
        assert "demo article" in str(app.query_one("#status", Static).render())
        await pilot.press(*"/index " + str(notes), "enter")
        await wait_for(pilot, lambda: any("Indexed 1 document" in n.message for n in app._notifications))
        await pilot.pause()
        assert "demo" not in str(app.query_one("#status", Static).render())
        view = await ask(pilot, "How many people were killed in the clashes?")
        assert "34" not in view.turn.answer  # the article's 34 dead are no longer in the corpus
        assert view.turn.sources and all(s.document_id.startswith("lighthouse-") for s in view.turn.sources)


def help_rows(app) -> list[list[str]]:
    """The help screen's table, row by row, as the user reads it."""
    from textual.widgets._markdown import MarkdownTableContent

    return [[cell.plain for cell in row] for row in app.screen.query_one(MarkdownTableContent).rows]


async def palette_titles(pilot, query: str) -> list[str]:
    """Open the command palette, type `query`, and read the titles of the entries it offers; Esc closes it."""
    from textual.command import CommandList, CommandPalette

    app = pilot.app
    await pilot.press("ctrl+p")
    await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*query)
    results = app.screen.query_one(CommandList)
    await wait_for(pilot, lambda: results.option_count > 0)
    await pilot.pause(0.2)
    titles = [str(results.get_option_at_index(i).prompt).split("\n")[0] for i in range(results.option_count)]
    await pilot.press("escape")
    await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))
    return titles


def test_every_command_in_the_table_names_an_action_of_the_app_and_a_key_or_slash_once():
    from textual.actions import parse

    from tui.commands import COMMANDS

    for command in COMMANDS:
        _, action, _ = parse(command.action)
        assert callable(getattr(AssistantApp, f"action_{action}", None)), command
        assert command.key or command.slash, command
    keys = [c.key for c in COMMANDS if c.key]
    names = [name for c in COMMANDS for name in c.names]
    assert len(keys) == len(set(keys)) and len(names) == len(set(names))


async def test_every_slash_command_runs_and_every_command_is_in_the_help_and_the_palette(make_app):
    from assistant.engines import ENGINES

    from tui.commands import COMMANDS, key_name
    from tui.screens import PromptScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press("f1")
        rows = help_rows(app)
        await pilot.press("escape")
        for command in COMMANDS:  # each command on a row of the help, its slash form beside its key
            assert [command.slash or "", key_name(command.key) if command.key else "", command.does] in rows
        assert any("local" in does for _, _, does in rows)

        for command in [c for c in COMMANDS if c.title]:
            titles = await palette_titles(pilot, command.title)
            expected = [f"{command.title}: {choice}" for choice in command.choices] or [command.title]
            assert set(expected) <= set(titles), (expected, titles)
        assert {f"Engine: {name}" for name in ENGINES} <= set(await palette_titles(pilot, "Engine"))

        def notified(words: str) -> Callable[[], bool]:
            return lambda: any(words in n.message for n in app._notifications)

        def shows(screen: type) -> Callable[[], bool]:
            return lambda: isinstance(app.screen, screen)

        seen = {  # what typing each slash command shows; the last one quits
            "/help": shows(HelpScreen),
            "/sources": lambda: app.sources.has_class("-hidden"),
            "/new": notified("New conversation."),
            "/history": shows(ConversationsScreen),
            "/documents": shows(DocumentsScreen),
            "/resume [ID]": shows(ConversationsScreen),
            "/export [FILE]": notified("Nothing to export yet"),
            "/engine NAME": notified("Choose an engine"),
            "/index [PATH|URL]": shows(PromptScreen),
            "/quit": lambda: not app.is_running,
        }
        assert list(seen) == [c.slash for c in COMMANDS if c.slash]
        for slash, condition in seen.items():
            app.clear_notifications()
            await pilot.press(*slash.split()[0], "enter")
            await wait_for(pilot, condition)
            if app.is_running and app.screen is not app.screen_stack[0]:
                await pilot.press("escape")
                await wait_for(pilot, lambda: app.screen is app.screen_stack[0])


async def test_engine_with_a_bad_name_lists_all_four_engines_including_local(make_app):
    from assistant.engines import ENGINES

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press(*"/engine gpt5", "enter")
        [warning] = [n.message for n in app._notifications if n.severity == "warning"]
        assert warning == "Choose an engine: /engine extractive | local | ollama | openai."
        assert all(name in warning for name in ENGINES) and "local" in ENGINES
        assert app.assistant.engine.name == "extractive"


async def test_choosing_toggle_sources_in_the_palette_hides_the_sources(make_app):
    from textual.command import CommandPalette

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press("ctrl+p", *"Toggle sources")
        await pilot.pause(0.3)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))
        await wait_for(pilot, lambda: app.sources.has_class("-hidden"))
