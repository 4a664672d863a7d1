"""Snapshots of the chat UI (pytest-textual-snapshot): the first screen, an answered follow-up with its
sources grouped by document, the document view with the cited span highlighted, a citation copied, the help, and
the documents (at 100 and 80 columns) and conversations screens. Update with --snapshot-update after
a deliberate change, and look at the SVGs before committing them."""

from __future__ import annotations

from pilot import ask, wait_for
from textual.widgets import Input

from store import DocumentInfo
from tui.app import AssistantApp
from tui.screens import DocumentsScreen


async def settle(pilot):
    pilot.app.clear_notifications()
    pilot.app.query_one("#question", Input).cursor_blink = False
    await pilot.pause(0.2)


def snapshot_app(make_assistant) -> AssistantApp:
    return AssistantApp(lambda: make_assistant())


async def loaded(pilot):
    """Wait for the assistant, and fix the new conversation's id so the status line is the same every run."""
    await wait_for(pilot, lambda: pilot.app._assistant_ready.is_set())
    pilot.app.conversation_id = "snapshot"


def test_first_screen(snap_compare, make_assistant):
    async def ready(pilot):
        await loaded(pilot)
        pilot.app._update_status()
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(snapshot_app(make_assistant), terminal_size=(80, 24), run_before=ready)


def test_answered_follow_up_with_sources(snap_compare, make_assistant):
    async def converse(pilot):
        await loaded(pilot)
        await ask(pilot, "How many people were killed in the clashes?")
        await ask(pilot, "And the Azerbaijani side?")
        await pilot.press("f2")
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(snapshot_app(make_assistant), terminal_size=(120, 36), run_before=converse)


def test_document_view_with_highlight(snap_compare, make_assistant):
    async def open_document(pilot):
        await loaded(pilot)
        await ask(pilot, "How many people were killed in the clashes?")
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "DocumentScreen")
        await pilot.pause(0.3)
        await settle(pilot)

    assert snap_compare(snapshot_app(make_assistant), terminal_size=(100, 30), run_before=open_document)


def test_citation_copied_with_its_source(snap_compare, make_assistant):
    async def copy_citation(pilot):
        await loaded(pilot)
        await ask(pilot, "How many people were killed in the clashes?")
        await pilot.press("f2")
        await settle(pilot)
        await pilot.press("f5")  # its notification is the picture: not cleared
        await pilot.pause(0.3)

    assert snap_compare(snapshot_app(make_assistant), terminal_size=(100, 30), run_before=copy_citation)


def test_help(snap_compare, make_assistant):
    async def help_screen(pilot):
        await loaded(pilot)
        await pilot.press("f1")
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(snapshot_app(make_assistant), terminal_size=(100, 40), run_before=help_screen)


def screen_opened_by(key: str, screen: str):
    """A run_before that presses `key` and waits for the screen named `screen`."""

    async def open_it(pilot):
        await loaded(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == screen)
        await pilot.pause()
        await settle(pilot)

    return open_it


def test_documents_screen(snap_compare, make_assistant, monkeypatch):
    monkeypatch.setattr("tui.screens.when", lambda moment: "2026-12-01 09:30")  # the same picture every day
    assert snap_compare(snapshot_app(make_assistant), terminal_size=(100, 24),
                        run_before=screen_opened_by("f3", "DocumentsScreen"))


LIBRARY = [  # documents of every kind, with the long titles and paths a real library has
    DocumentInfo(id="report", title="Annual report of the harbour authority on pilotage, tolls and dredging, 2025",
                 source="/home/alice/documents/harbour-authority/reports/2025/annual-report-final-v3.pdf", chunks=214,
                 sha256="", characters=0, indexed_at=1.0),
    DocumentInfo(id="strike", title="Port pilots strike over night shifts",
                 source="https://news.example.org/2026/11/30/port-pilots-strike-over-night-shifts-at-the-harbour",
                 chunks=9, sha256="", characters=0, indexed_at=1.0),
    DocumentInfo(id="notes", title="Lighthouse notes", source="/home/alice/notes/lighthouse.md", chunks=1, sha256="",
                 characters=0, indexed_at=1.0),
]


def test_documents_screen_fits_80_columns(snap_compare, make_assistant, monkeypatch):
    monkeypatch.setattr("tui.screens.when", lambda moment: "2026-12-08 03:41")

    async def library(pilot):
        await loaded(pilot)
        pilot.app.push_screen(DocumentsScreen(LIBRARY, ["report", "notes"]))
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DocumentsScreen))
        await pilot.pause()
        await settle(pilot)

    assert snap_compare(snapshot_app(make_assistant), terminal_size=(80, 24), run_before=library)


def test_conversations_screen(snap_compare, make_assistant, monkeypatch):
    monkeypatch.setattr("tui.screens.when", lambda moment: "2026-12-01 09:30")
    assistant = make_assistant()
    assistant.ask("How many people were killed in the clashes?", "casualties")
    assistant.ask("Where will the reintegration talks be held?", "talks")
    assistant.rename("talks", "Where the talks are held")
    assert snap_compare(snapshot_app(make_assistant), terminal_size=(100, 24),
                        run_before=screen_opened_by("ctrl+r", "ConversationsScreen"))
