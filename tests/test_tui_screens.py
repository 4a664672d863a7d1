"""The documents and conversations screens, driven by Textual's Pilot: a web page indexed from the UI, the documents
a conversation answers from (kept across a restart), a document removed after a confirmation; conversations
searched, renamed and deleted."""

from __future__ import annotations

import re

import pytest
from textual.widgets import Input, Label, OptionList, ProgressBar, SelectionList, Static

from pilot import ask, wait_for
from tui.app import AssistantApp
from tui.screens import ConfirmScreen, ConversationsScreen, DocumentScreen, DocumentsScreen, PromptScreen
from web_pages import ARTICLE_TITLE, PageServer

SIZE = (120, 40)


@pytest.fixture(scope="module")
def server():
    with PageServer() as running:
        yield running


def status(app) -> str:
    return str(app.query_one("#status", Static).render())


def notified(app, words: str) -> bool:
    return any(words in n.message for n in app._notifications)


async def open_screen(pilot, key: str, screen: type):
    await pilot.press(key)
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, screen))
    await pilot.pause()
    return pilot.app.screen


async def test_a_web_page_is_indexed_from_the_ui_and_answered_from(own_store, server):
    app = AssistantApp(own_store)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press(*f"/index {server.url('/article')}", "enter")
        await wait_for(pilot, lambda: notified(app, f"Indexed 1 document(s): {ARTICLE_TITLE}"))
        view = await ask(pilot, "How many pilots joined the strike?")
        assert "41 of the port's 46 pilots" in view.turn.answer
        heading = str(app.sources.query(".source-title").first().render())
        assert heading == f"{ARTICLE_TITLE}\n{server.url('/article')}"  # the page's title, then its URL
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentScreen))
        assert str(app.screen.query_one(".document-source").render()) == server.url("/article")
        await pilot.press("escape")
        await pilot.press(*f"/index {server.url('/report.pdf')}", "enter")
        await wait_for(pilot, lambda: any("is application/pdf, not a web page" in n.message
                                          for n in app._notifications if n.severity == "error"))
        assert app.is_running


async def test_the_documents_screen_chooses_what_the_conversation_answers_from_and_it_is_kept(
        own_store, server, tmp_path):
    notes = tmp_path / "lighthouse.txt"
    notes.write_text("The lighthouse keeper logged 41 ships in March. Storms closed the harbour for a week.",
                     encoding="utf-8")
    app = AssistantApp(own_store)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        screen = await open_screen(pilot, "f3", DocumentsScreen)
        assert any("bundled demo article" in str(label.render()) for label in screen.query(Label))
        await pilot.press("a")  # add: a URL, with the progress bar of the chat screen
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*server.url("/article"), "enter")
        await wait_for(pilot, lambda: notified(app, "Indexed 1 document"))
        await pilot.press(*f"/index {notes}", "enter")
        await wait_for(pilot, lambda: notified(app, "lighthouse"))
        await wait_for(pilot, lambda: "demo" not in status(app))

        screen = await open_screen(pilot, "f3", DocumentsScreen)
        listing = screen.query_one(SelectionList)
        rows = [str(listing.get_option_at_index(i).prompt) for i in range(listing.option_count)]
        assert len(rows) == 2 and all(re.search(r" passages? · 20\d\d-\d\d-\d\d \d\d:\d\d", row) for row in rows)
        page = next(i for i, row in enumerate(rows) if ARTICLE_TITLE in row)
        listing.highlighted = page
        await pilot.pause()
        assert str(screen.query_one("#highlighted").render()) == f"{ARTICLE_TITLE}\n{server.url('/article')}"
        assert listing.selected == [listing.get_option_at_index(i).value for i in range(2)]  # all: every document
        listing.highlighted = 1 - page
        await pilot.press("space", "u")  # uncheck the notes: answer from the page only
        await wait_for(pilot, lambda: app.screen is app.screen_stack[0] and f"“{ARTICLE_TITLE}”" in status(app))
        view = await ask(pilot, "How many ships did the lighthouse keeper log?")
        assert all(s.title == ARTICLE_TITLE for s in view.turn.sources)
        conversation, chosen = app.conversation_id, app.documents
    again = AssistantApp(own_store, conversation_id=conversation)  # a restart: the choice is the conversation's
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: again.turn_views and again.documents is not None)
        assert again.documents == chosen
        await wait_for(pilot, lambda: again.sources.query(".source-title"))
        heading = str(again.sources.query(".source-title").first().render())
        assert heading == f"{ARTICLE_TITLE}\n{server.url('/article')}"  # where it came from, without indexing again
        await wait_for(pilot, lambda: f"“{ARTICLE_TITLE}”" in status(again))


async def test_a_page_that_takes_its_time_shows_its_download_and_then_clears(own_store, server):
    app = AssistantApp(own_store)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press(*f"/index {server.url('/trickle')}", "enter")
        url = server.url("/trickle")
        await wait_for(pilot, lambda: re.search(rf"fetching {re.escape(url)}: [\d.]+ (bytes|kB) of [\d.]+ kB", status(app)))
        bar = app.query_one("#progress", ProgressBar)
        assert bar.has_class("-active") and bar.total > 1000 and bar.progress < bar.total  # bytes, part-way
        await wait_for(pilot, lambda: notified(app, f"Indexed 1 document(s): {ARTICLE_TITLE}"))
        await wait_for(pilot, lambda: not bar.has_class("-active"))
        assert "fetching" not in status(app) and "embedding" not in status(app)


async def test_removing_a_document_asks_first(own_store, server):
    app = AssistantApp(own_store)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press(*f"/index {server.url('/article')}", "enter")
        await wait_for(pilot, lambda: notified(app, "Indexed 1 document"))
        await open_screen(pilot, "f3", DocumentsScreen)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")  # not removed
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentsScreen))
        assert [d.title for d in app.assistant.index.documents()] == [ARTICLE_TITLE]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: notified(app, "Removed it from the index."))
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentsScreen))  # shown again, with what is left
        assert app.assistant.index.documents()[0].source == "bundled"  # back to the demo article
        assert app.is_running


async def test_the_conversations_screen_searches_renames_and_deletes(make_assistant):
    assistant = make_assistant()
    assistant.ask("How many people were killed in the clashes?", "casualties")
    assistant.ask("Where will the reintegration talks be held?", "talks")
    app = AssistantApp(lambda: make_assistant())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)

        def listed() -> list[str]:
            options = app.screen.query_one(OptionList)
            return [options.get_option_at_index(i).id for i in range(options.option_count)]

        await open_screen(pilot, "ctrl+r", ConversationsScreen)
        assert listed() == ["talks", "casualties"]
        await pilot.press("slash", *"killed")
        await wait_for(pilot, lambda: listed() == ["casualties"])
        await pilot.press("down", "r")  # rename the one found
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        prompt = app.screen.query_one(Input)
        assert prompt.value == "How many people were killed in the clashes?"
        prompt.value = ""
        await pilot.press(*"Casualties", "enter")
        await wait_for(pilot, lambda: notified(app, "Renamed conversation casualties."))
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationsScreen))
        assert assistant.conversation("casualties").title == "Casualties"
        assert listed() == ["casualties", "talks"]  # renamed: changed last
        shown = str(app.screen.query_one(OptionList).get_option_at_index(0).prompt)
        assert shown.startswith("Casualties\n“How many people were killed in the clashes?”\n")  # and how it began
        assert str(app.screen.query_one(OptionList).get_option_at_index(1).prompt).count("\n") == 1  # not renamed: once
        await pilot.press("down", "d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: notified(app, "Deleted conversation talks."))
        await wait_for(pilot, lambda: isinstance(app.screen, ConversationsScreen))
        assert listed() == ["casualties"]
        await pilot.press("enter")  # resume it
        await wait_for(pilot, lambda: app.conversation_id == "casualties" and app.turn_views)


async def test_launched_with_files_it_greets_with_them_not_the_demo_article(own_store, tmp_path):
    first, second = tmp_path / "harbour.txt", tmp_path / "lighthouse.txt"
    first.write_text("The harbour pilots walked out on Tuesday over night shifts.", encoding="utf-8")
    second.write_text("The lighthouse keeper logged 41 ships in March.", encoding="utf-8")
    app = AssistantApp(own_store, paths=[str(first), str(second)])  # `assistant chat harbour.txt lighthouse.txt`
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.conversation.query(".welcome"))
        welcome = str(app.conversation.query_one(".welcome").render())
        assert "these 2 documents" in welcome and "• harbour" in welcome and "• lighthouse" in welcome
        assert "Nagorno" not in welcome and "demo" not in welcome
        assert "answering from 2 documents" in status(app)


async def test_launched_with_a_url_it_fetches_the_page_greets_with_its_title_and_answers_from_it(own_store, server):
    app = AssistantApp(own_store, paths=[server.url("/article")])  # `assistant chat URL`
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.conversation.query(".welcome"))
        welcome = str(app.conversation.query_one(".welcome").render())
        assert ARTICLE_TITLE in welcome and "Nagorno" not in welcome
        assert f"answering from “{ARTICLE_TITLE}”" in status(app)
        view = await ask(pilot, "How many pilots joined the strike?")
        assert "41 of the port's 46 pilots" in view.turn.answer
        assert {s.document_id for s in view.turn.sources} == set(app.documents)


def test_a_documents_line_keeps_its_date_whole_at_any_width():
    from store import DocumentInfo
    from tui.screens import document_lines

    library = [DocumentInfo(id="r", title="Annual report of the harbour authority on pilotage and dredging, 2025",
                            source="/home/alice/documents/harbour-authority/reports/2025/annual-report.pdf",
                            chunks=214, sha256="", characters=0, indexed_at=1.0),
               DocumentInfo(id="n", title="Lighthouse notes", source="/home/alice/lighthouse.md", chunks=1,
                            sha256="", characters=0, indexed_at=1.0)]
    for width in range(45, 160):
        lines = [line.plain for line in document_lines(library, width)]
        assert all(len(line) <= width and re.search(r"\d passages? · \d{4}-\d\d-\d\d \d\d:\d\d", line)
                   for line in lines), (width, lines)
        assert len({line.index("·") for line in lines}) == 1  # the details in a column
    wide = [line.plain for line in document_lines(library, 180)]
    assert wide[0].startswith(library[0].title) and wide[0].endswith("/home/alice/documents/harbour-authority/"
                                                                      "reports/2025/annual-report.pdf")
    narrow = document_lines(library, 110)[0].plain
    assert "…" in narrow and narrow.endswith("annual-report.pdf")  # a path keeps its file name


async def test_on_an_80_column_terminal_the_documents_screen_shows_each_date_whole(own_store, tmp_path):
    notes = tmp_path / "a-rather-long-folder-name-for-the-harbour-notes" / "lighthouse-keeper-logbook-march.txt"
    notes.parent.mkdir()
    notes.write_text("The lighthouse keeper logged 41 ships in March.", encoding="utf-8")
    app = AssistantApp(own_store, paths=[notes])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        screen = await open_screen(pilot, "f3", DocumentsScreen)
        listing = screen.query_one(SelectionList)
        [row] = [listing.get_option_at_index(i).prompt.plain for i in range(listing.option_count)]
        assert re.search(r"1 passage · \d{4}-\d\d-\d\d \d\d:\d\d$", row)
        assert len(row) <= listing.scrollable_content_region.width - 4  # beside the checkbox, nothing cut
        assert str(screen.query_one("#highlighted").render()).endswith(str(notes.resolve()))  # the path in full
