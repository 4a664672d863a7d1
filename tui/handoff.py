"""What the chat UI hands to other programs: an answer or a citation copied to the clipboard (OSC 52, so it works
over ssh), and a cited passage opened in the user's own editor or pager. The pure functions decide what is handed;
`HandoffActions`, the app's half, copies and runs."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from textual.app import SuspendNotSupported

from assistant.turns import page_words
from tui.commands import key_of

NO_LOCATION = ("", "inline", "bundled")  # sources that name no file or page a reader could go to


def citation_source(citation, location: str) -> str:
    """Where a citation's quote comes from, as a reader cites it: title, path or URL, then a PDF's page."""
    parts = [citation.title]
    if location not in NO_LOCATION:
        parts.append(location)
    if citation.pages:
        parts.append(page_words(citation.pages))
    return ", ".join(parts)


def citation_clipping(citation, location: str) -> str:
    """The clipboard's text for a citation: its exact quote, then a line "— " and its source."""
    return f"{citation.text}\n— {citation_source(citation, location)}"


def answer_clipping(turn, locations: Mapping[str, str]) -> str:
    """The clipboard's text for an answer: its words with their [n] markers, then what each marker cites, so the
    markers still point somewhere once pasted."""
    lines = [turn.answer]
    if turn.citations:
        lines.append("")
    for c in turn.citations:
        unfound = "" if c.verified else " (not found in the documents)"
        lines.append(f"[{c.n}] “{c.text}” — {citation_source(c, locations.get(c.document_id, ''))}{unfound}")
    return "\n".join(lines)


def line_at(text: str, offset: int) -> int:
    """The 1-based line of `text` that character `offset` stands on."""
    return text.count("\n", 0, offset) + 1


@dataclass(frozen=True)
class OutsideCommand:
    """A program to run with the terminal handed over to it."""

    argv: list[str]
    setting: str | None  # the variable that named the program ("$EDITOR"); None: the default, less

    @property
    def program(self) -> str:
        return self.argv[0]


def viewer_command(path: str, line: int, environ: Mapping[str, str], editable: bool) -> OutsideCommand:
    """The command that opens `path` at `line`: $VISUAL, $EDITOR, $PAGER, then less for a file the user may edit;
    $PAGER, then less, for a read-only copy of the indexed text."""
    for name in ("VISUAL", "EDITOR", "PAGER") if editable else ("PAGER",):
        value = environ.get(name, "").strip()
        try:
            words = shlex.split(value)  # "code --wait", "less -R": a program and its own options
        except ValueError:  # unbalanced quotes: run it as written, and the failure names the variable
            words = [value] if value else []
        if words:
            # vi, vim, nvim, nano, emacs, micro, kak, less and more all read +N as "start at line N"
            return OutsideCommand([*words, f"+{line}", path], f"${name}")
    return OutsideCommand(["less", f"+{line}", path], None)


class HandoffActions:
    """The chat app's copy and open-outside actions; `sources`, `selected`, `cited_span` and `_open_outside` are the
    app's."""

    def action_open_outside(self) -> None:
        if (span := self.cited_span()) is None:
            return
        document, start, _ = span
        self._open_outside(document, start)

    def _run_outside(self, command: OutsideCommand, scratch: str | None = None) -> None:
        """Hand the terminal to `command` until it ends, then take it back; `scratch` is a folder removed after."""
        fix = f"set {command.setting} to a program you have" if command.setting else "install less, or set $PAGER"
        try:
            with self.suspend():
                # caught inside: an exception leaving suspend() would skip its resume and keep the UI suspended
                try:
                    ended: int | OSError = subprocess.run(command.argv).returncode
                except OSError as exc:
                    ended = exc
        except SuspendNotSupported:
            self.notify(f"This terminal cannot be handed to {command.program}; "
                        f"{key_of('open_document')} shows the document here instead.", severity="warning")
            return
        finally:
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(ended, OSError):
            self.notify(f"Cannot run {command.program} ({ended.strerror or ended}); {fix}.", severity="error")
        elif ended:
            self.notify(f"{command.program} ended with status {ended}; if it does not take +LINE, set "
                        f"{command.setting or '$PAGER'} to one that does (vim, nano, emacs, less).", severity="warning")

    def _tell_to_select(self) -> None:
        self.notify(f"Select an answer first ({key_of('select_turn(-1)')}, {key_of('select_turn(1)')} or a click).")

    def action_copy_answer(self) -> None:
        view = self.selected
        if view is None or view.turn is None:
            self._tell_to_select()
            return
        self.copy_to_clipboard(answer_clipping(view.turn, self.sources.locations))
        self.notify("Copied the answer.")

    def action_copy_citation(self) -> None:
        if self.selected is None:
            self._tell_to_select()
            return
        citation = self.sources.chosen_citation()
        if citation is None:
            self.notify("The selected answer has no citations.")
            return
        self.copy_to_clipboard(citation_clipping(citation, self.sources.locations.get(citation.document_id, "")))
        self.notify(f"Copied citation [{citation.n}] with its source.")
