"""The installed `assistant` command in a real pseudo-terminal (pexpect), its screen read with pyte: launch on
the bundled article, ask, follow up, read the answers off the screen, quit, launch again and resume."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pexpect
import pyte

COMMAND = str(Path(sys.executable).parent / "assistant")
COLS, ROWS = 100, 30


class Terminal:
    def __init__(self, args: list[str], env: dict[str, str], command: str = COMMAND):
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        # poll, not select: the suite before this may hold more than 1024 descriptors (Chroma stores it opened)
        self.child = pexpect.spawn(command, args, env=env, dimensions=(ROWS, COLS), use_poll=True)

    @property
    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    @property
    def conversation(self) -> str:
        """The conversation pane's words (left of the sources pane's border), whitespace collapsed."""
        return " ".join(" ".join(line.split("▏")[0] for line in self.screen.display).split())

    def wait_for(self, pattern: str, timeout: float = 120, pane: str = "text") -> re.Match:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                self.stream.feed(self.child.read_nonblocking(65536, timeout=0.1))
            except pexpect.TIMEOUT:
                pass
            except pexpect.EOF:
                break
            found = re.search(pattern, getattr(self, pane))
            if found:
                return found
        raise AssertionError(f"{pattern!r} never appeared; the screen was:\n{self.text}")

    def quit(self) -> int:
        self.child.send("\x11")  # ctrl+q
        self.child.expect(pexpect.EOF, timeout=30)
        self.child.close()
        return self.child.exitstatus


def test_ask_follow_up_quit_and_resume_in_a_real_terminal(tmp_path):
    env = dict(os.environ, TERM="xterm-256color", ASSISTANT_STORE=str(tmp_path / "store"),
               ASSISTANT_CONVERSATIONS=str(tmp_path / "conversations.sqlite"))
    term = Terminal([], env)
    term.wait_for(r"Ready\. Ask about this document")
    term.child.send("How many people were killed in the clashes?\r")
    # "searched:" is drawn when the turn has ended (the answer's words stream in before it)
    term.wait_for(r"searched: How many people .*Military clashes have left at least 34 dead .* \[1\]", pane="conversation")
    term.child.send("And the Azerbaijani side?\r")
    term.wait_for(r"searched: And the Azerbaijani side\? .*The Azerbaijani side reported two civilian deaths", pane="conversation")
    conversation = term.wait_for(r"conversation ([0-9a-f]{12})").group(1)
    assert term.quit() == 0

    again = Terminal(["chat", "--conversation", conversation], env)
    again.wait_for(r"34 dead .* And the Azerbaijani side\? .*two civilian deaths", pane="conversation")
    assert f"conversation {conversation}" in again.text
    assert again.quit() == 0


def test_f6_hands_the_terminal_to_the_editor_at_the_cited_line_and_takes_it_back(tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Lighthouse notes\n\nThe Vellmar lighthouse stands on the northern cape of the island.\n\n"
                     "The Vellmar lighthouse keeper lit the lamp 9,400 times.\n", encoding="utf-8")
    editor = tmp_path / "editor"  # it shows what it was given, and waits, as an editor does, for the user to leave
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/argv"\necho "EDITING $*"\nread answer\n')
    editor.chmod(0o755)
    env = dict(os.environ, TERM="xterm-256color", ASSISTANT_STORE=str(tmp_path / "store"),
               ASSISTANT_CONVERSATIONS=str(tmp_path / "conversations.sqlite"), ASSISTANT_ENGINE="extractive",
               EDITOR=str(editor), PYTHONPATH=str(Path(__file__).parents[1]))  # this checkout's code, not another's
    env.pop("VISUAL", None)
    term = Terminal(["chat", str(notes)], env)
    term.wait_for(r"Ready\. Ask about this document")
    term.child.send("How many times did the Vellmar lighthouse keeper light the lamp?\r")
    term.wait_for(r"searched: .*9,400", pane="conversation")
    term.child.send("\x1b[17~")  # F6
    term.wait_for(rf"EDITING \+5 {re.escape(str(notes.resolve()))}")
    assert (tmp_path / "argv").read_text().splitlines() == ["+5", str(notes.resolve())]
    term.child.send("\r")  # the user leaves the editor
    term.child.send("\x1bOP")  # F1: the UI reads its keys again
    term.wait_for(r"keys and commands \(this help\)")
    assert term.quit() == 0


def test_the_ui_quits_when_its_terminal_goes_away(tmp_path):
    """A closed terminal window or a killed tmux session must not leave the UI behind, spinning on a dead tty.
    Launched with SIGHUP ignored (as nohup and some launchers do), so only the hang-up itself can tell it."""
    env = dict(os.environ, TERM="xterm-256color", ASSISTANT_STORE=str(tmp_path / "store"),
               ASSISTANT_CONVERSATIONS=str(tmp_path / "conversations.sqlite"), ASSISTANT_ENGINE="extractive")
    launcher = "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])"
    term = Terminal(["-c", launcher, COMMAND], env, command=sys.executable)
    term.wait_for(r"Ready\. Ask about this document")
    pid = term.child.pid
    os.close(term.child.child_fd)  # the terminal hangs up
    end = time.monotonic() + 15
    while time.monotonic() < end and _running(pid):
        time.sleep(0.2)
    running = _running(pid)
    if running:
        os.kill(pid, 9)
    assert not running, "the UI kept running after its terminal went away"


def _running(pid: int) -> bool:
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return finished == 0


def test_indexing_a_file_shows_a_progress_bar_in_a_terminal(tmp_path):
    report = tmp_path / "harbour.txt"
    report.write_text("\n\n".join(" ".join(f"Ship {n} of convoy {p} docked at berth {n % 7} after the storm."
                                           for n in range(12)) for p in range(120)), encoding="utf-8")
    env = dict(os.environ, TERM="xterm-256color", ASSISTANT_STORE=str(tmp_path / "store"))
    term = Terminal(["index", str(report)], env)
    done, total = map(int, term.wait_for(r"embedding .*━.* (\d+)/(\d+) chunks", timeout=300).groups())
    assert 0 <= done < total
    term.wait_for(rf"1 added, 0 updated, 0 unchanged, 0 removed; {total} chunks embedded", timeout=300)
    term.child.expect(pexpect.EOF, timeout=30)
    term.child.close()
    assert term.child.exitstatus == 0


def test_indexing_a_url_shows_its_download_then_its_embedding_in_a_terminal(tmp_path):
    from web_pages import PageServer

    env = dict(os.environ, TERM="xterm-256color", ASSISTANT_STORE=str(tmp_path / "store"))
    with PageServer() as server:
        url = server.url("/trickle")
        term = Terminal(["index", url], env)
        term.wait_for(rf"fetching {re.escape(url)} .*━.* [\d.]+ (bytes|kB) of [\d.]+ kB", timeout=120)
        term.wait_for(r"1 added, 0 updated, 0 unchanged, 0 removed; \d+ chunks embedded", timeout=120)
        term.child.expect(pexpect.EOF, timeout=30)
        term.child.close()
    assert term.child.exitstatus == 0
