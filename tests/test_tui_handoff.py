"""Handing an answer or a citation to the user's other tools: copied to the clipboard with its source, or opened in
their own editor or pager at the cited line (Pilot tests, and the pure functions that decide what is handed)."""

from __future__ import annotations

import contextlib
import stat

from pdf import make_pdf
from pilot import ask, wait_for
from tui.app import AssistantApp
from tui.handoff import OutsideCommand, citation_clipping, line_at, viewer_command

SIZE = (120, 40)
LIGHTHOUSE = """\
# Lighthouse notes

The Vellmar lighthouse stands on the northern cape of the island.

The Vellmar lighthouse keeper lit the lamp 9,400 times.
"""


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]


def recorder(folder, name: str):
    """A stand-in editor or pager: it writes its arguments, one a line, to `name`.argv and copies the file it was
    given (its last argument) to `name`.text."""
    script = folder / name
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{folder}/{name}.argv"\n'
                      f'for last; do :; done\ncp "$last" "{folder}/{name}.text"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def terminal_hands_over(app, monkeypatch) -> None:
    """What a real terminal does for App.suspend (the headless test driver cannot): the program runs, then the UI
    comes back."""
    monkeypatch.setattr(app, "suspend", contextlib.nullcontext)


# --- the clipboard --------------------------------------------------------------------------------------------


async def test_f4_copies_the_selected_answer_and_f5_the_chosen_citation_with_its_source(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How many people were killed in the clashes?")
        [citation] = view.turn.citations
        await pilot.press("f4")
        assert app.clipboard == f"{view.turn.answer}\n\n[1] “{citation.text}” — {citation.title}"
        assert "Copied the answer." in notices(app)
        await pilot.press("f2", "f5")
        assert app.clipboard == f"{citation.text}\n— {citation.title}"  # the bundled article has no path to name
        assert "Copied citation [1] with its source." in notices(app)


async def test_copying_before_any_answer_is_selected_says_what_to_do(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press("f4")
        await pilot.press("f5")
        assert notices(app)[-2:] == ["Select an answer first (Ctrl+↑, Ctrl+↓ or a click)."] * 2
        assert app.clipboard == ""


async def test_copy_the_answer_from_the_command_palette(make_app):
    from textual.command import CommandPalette

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How many people were killed in the clashes?")
        await pilot.press("ctrl+p", *"Copy the answer")
        await pilot.pause(0.3)
        await pilot.press("down", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, CommandPalette))
        await wait_for(pilot, lambda: app.clipboard.startswith(view.turn.answer))


async def test_a_pdf_citation_is_copied_with_its_path_and_page_after_a_restart_too(own_store, tmp_path):
    memo = tmp_path / "memo.pdf"
    memo.write_bytes(make_pdf(["The bridge reopens on Monday.", "Tolls stay at two euros."], title="Bridge memo"))
    app = AssistantApp(own_store, paths=[memo])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        view = await ask(pilot, "When does the bridge reopen?")
        citation = view.turn.citations[0]
        await pilot.press("f5")
        assert app.clipboard == f"{citation.text}\n— Bridge memo, {memo.resolve()}, page 1"
        conversation = app.conversation_id
    again = AssistantApp(own_store, conversation_id=conversation)  # the path is known without indexing again
    async with again.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: again.selected is not None)
        await pilot.press("f5")
        assert again.clipboard == f"{citation.text}\n— Bridge memo, {memo.resolve()}, page 1"


def test_a_citation_across_two_pages_is_copied_with_both_and_its_path():
    from assistant.turns import Citation

    quote = Citation(document_id="d", start=10, end=40, text="the quote, exactly", pages=[3, 4], n=2,
                     title="Annual report", verified=True)
    assert citation_clipping(quote, "/home/u/report.pdf") == \
        "the quote, exactly\n— Annual report, /home/u/report.pdf, pages 3–4"
    assert citation_clipping(quote, "inline") == "the quote, exactly\n— Annual report, pages 3–4"


# --- the editor and the pager ----------------------------------------------------------------------------------


def test_the_program_is_visual_then_editor_then_pager_then_less():
    everything = {"VISUAL": "nvim", "EDITOR": "nano", "PAGER": "less -R"}
    assert viewer_command("/d/a.md", 5, everything, editable=True) == \
        OutsideCommand(["nvim", "+5", "/d/a.md"], "$VISUAL")
    assert viewer_command("/d/a.md", 5, {**everything, "VISUAL": " "}, editable=True).argv == ["nano", "+5", "/d/a.md"]
    assert viewer_command("/d/a.md", 5, {"PAGER": "less -R"}, editable=True) == \
        OutsideCommand(["less", "-R", "+5", "/d/a.md"], "$PAGER")
    assert viewer_command("/d/a.md", 5, {}, editable=True) == OutsideCommand(["less", "+5", "/d/a.md"], None)
    assert viewer_command("/d/a.md", 5, {"EDITOR": "emacs -nw"}, editable=True).argv == \
        ["emacs", "-nw", "+5", "/d/a.md"]


def test_an_extracted_text_opens_in_the_pager_never_the_editor():
    everything = {"VISUAL": "nvim", "EDITOR": "nano", "PAGER": "most"}
    copy = "/tmp/x/memo.txt"
    assert viewer_command(copy, 2, everything, editable=False).argv == ["most", "+2", copy]
    assert viewer_command(copy, 2, {"EDITOR": "nano"}, editable=False).argv == ["less", "+2", copy]


def test_the_line_is_the_one_the_offset_stands_on():
    text = "one\r\ntwo\n\nfour"
    assert [line_at(text, text.index(word)) for word in ("one", "two", "four")] == [1, 2, 4]


async def test_f6_opens_a_markdown_file_in_the_editor_at_the_cited_line(own_store, tmp_path, monkeypatch):
    notes = tmp_path / "notes.md"
    notes.write_text(LIGHTHOUSE, encoding="utf-8")
    monkeypatch.setenv("EDITOR", str(recorder(tmp_path, "editor")))
    monkeypatch.delenv("VISUAL", raising=False)
    app = AssistantApp(own_store, paths=[notes])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        view = await ask(pilot, "How many times did the Vellmar lighthouse keeper light the lamp?")
        assert "9,400" in view.turn.citations[0].text
        terminal_hands_over(app, monkeypatch)
        await pilot.press("f6")
        await wait_for(pilot, (tmp_path / "editor.argv").exists)
        assert (tmp_path / "editor.argv").read_text().splitlines() == ["+5", str(notes.resolve())]
        assert app.is_running


async def test_f6_opens_a_pdfs_text_as_indexed_in_the_pager_and_removes_the_copy(own_store, tmp_path, monkeypatch):
    memo = tmp_path / "memo.pdf"
    memo.write_bytes(make_pdf(["Bridge memo", "Council notes", "The bridge reopens on Monday.", "Tolls stay at two euros."]))
    monkeypatch.setenv("EDITOR", str(recorder(tmp_path, "editor")))
    monkeypatch.setenv("PAGER", str(recorder(tmp_path, "pager")))
    app = AssistantApp(own_store, paths=[memo])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        view = await ask(pilot, "When does the bridge reopen?")
        citation = view.turn.citations[0]
        terminal_hands_over(app, monkeypatch)
        await pilot.press("f6")
        await wait_for(pilot, (tmp_path / "pager.argv").exists)
        line, copy = (tmp_path / "pager.argv").read_text().splitlines()
        assert line == "+5"  # two headings, each a paragraph of its own, come first
        shown = (tmp_path / "pager.text").read_text(encoding="utf-8")
        assert shown == app.assistant.index.document(citation.document_id).text  # the text the offsets are into
        assert citation.text.splitlines()[0] in shown.splitlines()[int(line.removeprefix("+")) - 1]
        assert not (tmp_path / "editor.argv").exists()  # a PDF is not opened in the editor
        await wait_for(pilot, lambda: not (tmp_path / copy).parent.exists())  # the scratch copy is gone


async def test_a_missing_editor_is_a_notification_naming_it_and_the_fix(own_store, tmp_path, monkeypatch):
    notes = tmp_path / "notes.md"
    notes.write_text(LIGHTHOUSE, encoding="utf-8")
    monkeypatch.setenv("VISUAL", "no-such-editor-here")
    app = AssistantApp(own_store, paths=[notes])
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        await ask(pilot, "How many times did the Vellmar lighthouse keeper light the lamp?")
        terminal_hands_over(app, monkeypatch)
        await pilot.press("f6")
        await wait_for(pilot, lambda: any("no-such-editor-here" in n for n in notices(app)))
        [told] = [n for n in notices(app) if "no-such-editor-here" in n]
        assert told.startswith("Cannot run no-such-editor-here (")
        assert told.endswith("; set $VISUAL to a program you have.")
        await pilot.press("f1")  # the UI goes on
        assert type(app.screen).__name__ == "HelpScreen"


async def test_a_terminal_that_cannot_be_handed_over_says_so_and_points_at_the_built_in_view(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:  # the headless driver cannot suspend
        await ask(pilot, "How many people were killed in the clashes?")
        await pilot.press("f6")
        await wait_for(pilot, lambda: any("cannot be handed" in n for n in notices(app)))
        assert any(n.endswith("Ctrl+O shows the document here instead.") for n in notices(app))
        assert app.is_running
