"""Every command of the chat UI, in one table: its slash form, its key, its command-palette entry, its line in
the help, and the app action it runs. The app's BINDINGS, the slash-command dispatch, the palette and the help
screen are all read from `COMMANDS`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from textual.binding import Binding
from textual.keys import format_key

from assistant.engines import ENGINES


@dataclass(frozen=True)
class Command:
    """One thing the user can do, and every way to ask for it."""

    does: str  # the help's plain words, lower case: "start a new conversation"
    action: str  # the AssistantApp action it runs: "new_conversation" runs action_new_conversation
    slash: str | None = None  # "/export [FILE]": the command, then the argument it passes to the action
    aliases: tuple[str, ...] = ()  # other slash names for it ("exit" for "quit")
    key: str | None = None  # the Textual key that runs it
    footer: str | None = None  # the key's label in the footer; None: bound, not shown there
    title: str | None = None  # its command-palette entry; None: not in the palette
    choices: tuple[str, ...] = ()  # the palette has one entry per choice, passed to the action
    bind: bool = True  # False: Textual's App binds the key itself (Ctrl+Q, Ctrl+P)

    @property
    def names(self) -> tuple[str, ...]:
        """The names that follow the slash: its own, then its aliases."""
        return (self.slash.split()[0][1:],) + self.aliases if self.slash else ()

    @property
    def takes_argument(self) -> bool:
        return self.slash is not None and " " in self.slash


def _engine_names() -> str:
    return f"{', '.join(ENGINES[:-1])} or {ENGINES[-1]}"


# In the footer's order: the bound keys appear there as they come here.
COMMANDS: tuple[Command, ...] = (
    Command("cancel the running answer (what was written is kept)", "cancel", key="escape", footer="Cancel answer"),
    Command("keys and commands (this help)", "help", slash="/help", aliases=("?",), key="f1", footer="Help",
            title="Help"),
    Command("next citation of the selected answer", "next_citation", key="f2", footer="Next [n]"),
    Command("open the document at the selected citation", "open_document", key="ctrl+o", footer="Open doc",
            title="Open the cited document"),
    Command("open the cited passage in your $EDITOR (a PDF's, HTML file's or web page's text in $PAGER)",
            "open_outside", key="f6", title="Open the citation in $EDITOR"),
    Command("copy the selected answer, with what its citations quote, to the clipboard", "copy_answer", key="f4",
            title="Copy the answer"),
    Command("copy the chosen citation's quote with its source to the clipboard", "copy_citation", key="f5",
            title="Copy the citation"),
    Command("show / hide the sources pane", "toggle_sources", slash="/sources", key="ctrl+b", footer="Sources",
            title="Toggle sources"),
    Command("start a new conversation", "new_conversation", slash="/new", key="ctrl+n", footer="New",
            title="New conversation"),
    Command("conversations: resume, search, rename, delete", "history", slash="/history", aliases=("conversations",),
            key="ctrl+r", footer="Conversations", title="Conversations"),
    Command("documents: choose the ones answered from, add, remove", "documents", slash="/documents",
            aliases=("docs",), key="f3", footer="Documents", title="Documents"),
    Command("resume a conversation by id (without one: the list)", "resume", slash="/resume [ID]"),
    Command("write the transcript as Markdown (default conversation-ID.md)", "export", slash="/export [FILE]",
            key="ctrl+e", footer="Export", title="Export transcript"),
    Command("select the previous answer", "select_turn(-1)", key="ctrl+up"),
    Command("select the next answer", "select_turn(1)", key="ctrl+down"),
    Command(f"answer with {_engine_names()}", "engine", slash="/engine NAME", title="Engine", choices=ENGINES),
    Command("add a file, folder (.txt .md .html .pdf) or web page to the index", "index", slash="/index [PATH|URL]",
            title="Add a document"),
    Command("command palette: every command", "command_palette", key="ctrl+p", bind=False),
    Command("quit", "quit", slash="/quit", aliases=("exit",), key="ctrl+q", bind=False),
)


def bindings() -> list[Binding]:
    """The app's key bindings."""
    return [Binding(c.key, c.action, c.footer or c.does.capitalize(), show=c.footer is not None)
            for c in COMMANDS if c.key and c.bind]


def slash_action(line: str) -> str | None:
    """The action a typed `/command [argument]` runs (None: there is no such command)."""
    name, _, argument = line.strip()[1:].partition(" ")
    command = next((c for c in COMMANDS if name.lower() in c.names), None)
    if command is None:
        return None
    return f"{command.action}({argument.strip()!r})" if command.takes_argument else command.action


def palette_entries() -> Iterator[tuple[str, str, str]]:
    """(title, help, action) of each command-palette entry."""
    for c in COMMANDS:
        if c.title is None:
            continue
        if not c.choices:
            yield c.title, f"{c.slash}: {c.does}" if c.slash else c.does.capitalize(), c.action
        for choice in c.choices:
            yield f"{c.title}: {choice}", f"/{c.names[0]} {choice}", f"{c.action}({choice!r})"


def key_name(key: str) -> str:
    """A key as the help names it: "Ctrl+O", "Esc", "F1", "Ctrl+↑"."""
    *modifiers, last = key.split("+")
    shown = format_key(last)
    shown = shown.upper() if len(shown) == 1 else shown.capitalize()
    return "+".join([m.capitalize() for m in modifiers] + [shown])


def key_of(action: str) -> str:
    """The key that runs `action`, as the help names it."""
    return next(key_name(c.key) for c in COMMANDS if c.action == action and c.key)


def help_table() -> str:
    """The help's Markdown table: every command with its slash form and key."""
    rows = ["| command | key | does |", "|---|---|---|", "|  | Enter | ask the question |"]
    for c in COMMANDS:
        slash = f"`{c.slash}`".replace("|", "\\|") if c.slash else ""  # a | in a cell would end it
        rows.append(f"| {slash} | {key_name(c.key) if c.key else ''} | {c.does} |")
    return "\n".join(rows)
