"""The chat screen: the conversation beside the sources of the selected answer.

All retrieval and answering is the `assistant` package's; this module only shows it. The assistant is built in a
worker thread after the window is up, so the first screen appears at once; everything that touches the models,
the index or the conversation store runs in the thread workers of `tui.workers`, which report back with
`call_from_thread`. Its commands -- keys, slash forms, palette entries, help -- come from `tui.commands`; copying
and opening in the user's own programs are `tui.handoff`'s.
"""

from __future__ import annotations

import os
import select
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, ProgressBar, Static
from textual.worker import Worker

from assistant.console import URL_WIDTH, download_amount, shortened
from assistant.engines import ENGINES

from tui.commands import bindings, key_of, palette_entries, slash_action
from tui.handoff import HandoffActions
from tui.screens import HelpScreen, PromptScreen
from tui.text import visible
from tui.widgets import SourcesPane, TurnView
from tui.workers import AssistantWork

HANG_UP_GRACE = 3.0  # seconds the UI may take to shut down once its terminal is gone


class AssistantApp(AssistantWork, HandoffActions, App[None]):
    """`assistant chat`: ask, follow up, and see the evidence for every answer."""

    TITLE = "evidence-assistant"
    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#question"
    BINDINGS = bindings()

    def __init__(self, load: Callable[[], object], *, conversation_id: str | None = None,
                 paths: Sequence[str | Path] = ()):
        """`load` builds the `assistant.service.Assistant` (in a worker thread); `paths` are indexed at start-up
        and become the conversation's documents; `conversation_id` is resumed."""
        super().__init__()
        self._load = load
        self.assistant = None
        self.load_error: str | None = None
        self._assistant_ready = threading.Event()
        self.conversation_id = conversation_id
        self.paths = list(paths)
        self.documents: list[str] | None = None  # restricts retrieval (None: every indexed document)
        self.selected: TurnView | None = None
        self._answer_worker: Worker | None = None
        self._catalog: list = []  # the store.DocumentInfo of every indexed document
        self._demo = False  # answering from the bundled demo article (the user has indexed nothing)
        self._no_answer = threading.Event()  # clear while a question is answered: until its worker has really ended
        self._no_answer.set()  # (a cancelled one stops at its next step)
        self._running_view: TurnView | None = None
        self._activity = ""  # what the indexing is doing, for the status line ("fetching …", "embedding …")
        self._stop_watching = threading.Event()  # ends the watch of the `watch` setting's folders, with the app
        self.watching: list[Path] = []  # the files and folders being kept in step, once the watch is in place

    # --- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield VerticalScroll(id="conversation")
            yield SourcesPane(id="sources")
        yield ProgressBar(id="progress", show_eta=False)
        yield Input(placeholder="Ask about the documents — /help for commands", id="question")
        yield Static("", id="status")
        yield Footer()

    @property
    def conversation(self) -> VerticalScroll:
        return self.query_one("#conversation", VerticalScroll)

    @property
    def sources(self) -> SourcesPane:
        return self.query_one(SourcesPane)

    @property
    def turn_views(self) -> list[TurnView]:
        return list(self.query(TurnView))

    def on_mount(self) -> None:
        if hasattr(select, "poll") and sys.__stdin__ is not None and os.isatty(sys.__stdin__.fileno()):
            self.set_interval(1.0, self._quit_if_the_terminal_is_gone)
        self.conversation.mount(Static(Text("Loading the models and the index…"), classes="loading"))
        self._update_status()
        self._start()

    def on_unmount(self) -> None:
        self._stop_watching.set()

    def _quit_if_the_terminal_is_gone(self) -> None:
        """Quit when the terminal hangs up (its window closed, the ssh session dropped, the multiplexer killed):
        Textual's input thread would otherwise read end-of-file forever and keep a core busy. Polling for the
        hang-up reads nothing, so no keystroke is taken from the input thread."""
        poller = select.poll()
        poller.register(sys.__stdin__.fileno(), 0)  # no events asked: only hang-up and errors are reported
        if any(events & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, events in poller.poll(0)):
            self.exit()
            # Textual's shutdown writes to the terminal, which is gone: if it hangs there, leave anyway (each
            # finished turn is already stored; 129 is the exit status of a hang-up)
            last_resort = threading.Timer(HANG_UP_GRACE, os._exit, args=(129,))
            last_resort.daemon = True
            last_resort.start()

    def _update_status(self) -> None:
        parts = []
        if self.assistant is not None:
            engine = self.assistant.engine
            llm = engine.name != "extractive" and self.assistant.engine_model
            parts.append(f"{engine.name} {self.assistant.engine_model}" if llm else engine.name)
            settings = self.assistant.index.settings
            where = f"on {settings.chroma_url}" if settings.chroma_url else "embedded"
            parts.append(f"collection {settings.collection} ({where})")
        elif self.load_error:
            parts.append("not loaded")
        else:
            parts.append("loading…")
        parts.append(f"conversation {self.conversation_id or 'new'}")
        if self._demo:
            parts.append("demo article")
        elif self.documents is not None and self._catalog:
            count, total = len(self.answering_from), len(self._catalog)
            parts.append(f"answering from “{visible(self.answering_from[0].title)}”" if count == 1 else
                         f"answering from {count} documents" if count == total else
                         f"answering from {count} of {total} documents")
        if self._activity:
            parts.append(self._activity)
        self.query_one("#status", Static).update(Text(" · ".join(parts)))

    # --- start-up ----------------------------------------------------------------------

    async def _loaded(self) -> None:
        await self.conversation.query(".loading").remove()
        self.sources.locations = {d.id: d.source for d in self._catalog}  # documents indexed in an earlier session
        self._update_status()  # first: the greeting and the status line never disagree, even for a moment
        if self.load_error:
            self.notify(self.load_error, title="Cannot start the assistant", severity="error", timeout=30)
            await self.conversation.mount(Static(Text(f"Not loaded: {self.load_error}"), classes="loading"))
        elif not self.turn_views and not self.paths:  # with launch paths: greeted once they are indexed
            await self._welcome()

    @property
    def answering_from(self) -> list:
        """The DocumentInfo of each document the conversation answers from."""
        return [d for d in self._catalog if self.documents is None or d.id in self.documents]

    async def _catalog_changed(self) -> None:
        """The documents or the conversation's choice of them changed: say so in the greeting and the status."""
        self._update_status()
        self.sources.locations = {d.id: d.source for d in self._catalog}
        if self.assistant is not None and not self.turn_views:
            await self.conversation.query(".welcome").remove()
            await self._welcome()

    async def _welcome(self) -> None:
        shown = self.answering_from
        if not shown:
            return
        count = len(shown)
        lines = Text.assemble(("Ready. ", "bold"), f"Ask about {'this document' if count == 1 else f'these {count} documents'}:")
        for document in shown[:5]:
            lines.append(f"\n  • {visible(document.title)} ({document.chunks} passages)")
        if count > 5:
            lines.append(f"\n  … and {count - 5} more")
        if self._demo:
            lines.append("\nThis is the bundled demo article: it steps aside once you add documents of your own "
                         "(/index PATH).")
        lines.append(f"\nFollow-ups work: ask one, then “And …?”. {key_of('help')} for help.", style="italic")
        await self.conversation.mount(Static(lines, classes="welcome"))

    # --- asking --------------------------------------------------------------------------

    @on(Input.Submitted, "#question")
    async def _submitted(self, event: Input.Submitted) -> None:
        text = event.value
        if text.strip().startswith("/"):
            event.input.value = ""
            await self.run_command(text.strip())
            return
        from assistant.questions import QuestionError, clean_question

        try:
            question = clean_question(text)
        except QuestionError as exc:
            self.notify(f"{str(exc)[0].upper()}{str(exc)[1:]}.", severity="warning")
            return  # the text stays in the input, to fix
        if self.is_answering:
            self.notify("An answer is still being written: wait for it, or press Esc to cancel it.", severity="warning")
            return
        event.input.value = ""
        await self.conversation.query(".welcome").remove()
        view = TurnView(question)
        await self.conversation.mount(view)
        self.conversation.scroll_end(animate=False)
        self._running_view = view
        self._no_answer.clear()
        self._answer_worker = self._answer(view, question)

    @property
    def is_answering(self) -> bool:
        return not self._no_answer.is_set()

    def _answer_ended(self) -> None:
        self._no_answer.set()

    async def _finished(self, view: TurnView, turn) -> None:
        self._no_answer.set()  # the turn is saved: the next question may go, even before this one is drawn
        view.literal = turn.engine == "extractive"
        await view.finish(turn)
        await self.show_turn(view)
        self.conversation.scroll_end(animate=False)

    async def _failed(self, view: TurnView, question: str, reason: str) -> None:
        self._no_answer.set()
        await view.stop("failed", reason)
        hint = "" if self.assistant is None or self.assistant.engine.name == "extractive" else \
            " Type /engine extractive to answer offline."
        self.notify(f"{reason}.{hint}", title="The answer failed", severity="error", timeout=15)
        box = self.query_one("#question", Input)
        if not box.value:
            box.value = question  # what the user typed is kept, to ask again

    async def action_cancel(self) -> None:
        if not self.is_answering or self._running_view is None or self._running_view.state != "running":
            return
        self._answer_worker.cancel()
        await self._running_view.stop("cancelled")
        self.notify("Answer cancelled; what was written so far is kept.")

    # --- selection and sources --------------------------------------------------------------

    async def show_turn(self, view: TurnView | None, citation: int | None = None) -> None:
        for v in self.turn_views:
            v.set_class(v is view, "-selected")
        self.selected = view
        await self.sources.show(view.turn if view else None, citation)
        if view is not None:
            view.scroll_visible(animate=False)

    @on(TurnView.Selected)
    async def _turn_selected(self, event: TurnView.Selected) -> None:
        if event.view.turn is not None:
            await self.show_turn(event.view, event.citation)

    async def action_select_turn(self, step: int) -> None:
        done = [v for v in self.turn_views if v.turn is not None]
        if not done:
            return
        at = done.index(self.selected) + step if self.selected in done else len(done) - 1
        await self.show_turn(done[max(0, min(at, len(done) - 1))])

    async def action_next_citation(self) -> None:
        view = self.selected
        if view is None or view.turn is None or not view.turn.citations:
            self.notify("The selected answer has no citations.")
            return
        numbers = [c.n for c in view.turn.citations]
        current = self.sources.citation
        following = numbers[(numbers.index(current) + 1) % len(numbers)] if current in numbers else numbers[0]
        await self.show_turn(view, following)

    def action_toggle_sources(self) -> None:
        self.sources.toggle_class("-hidden")

    def cited_span(self) -> tuple[str, int, int] | None:
        """(document, start, end) of the chosen citation (see SourcesPane.selected_span), or None after saying
        what to do first."""
        span = self.sources.selected_span()
        if span is None or self.assistant is None:
            self.notify("Select an answer with sources first.")
            return None
        return span

    def action_open_document(self) -> None:
        if (span := self.cited_span()) is None:
            return
        document, start, end = span
        title = next((s.title for s in self.sources.turn.sources if s.document_id == document), document)
        self._open_document(document, title, start, end)

    # --- conversations --------------------------------------------------------------------

    async def action_new_conversation(self) -> None:
        if self.is_answering:
            self.notify("Wait for the answer, or press Esc to cancel it, before starting anew.", severity="warning")
            return
        await self.conversation.remove_children()
        self.conversation_id = None
        await self.show_turn(None)
        await self._welcome()
        self._update_status()
        self.notify("New conversation.")

    async def _show_turns(self, conversation_id: str, turns: list) -> None:
        if self.is_answering:
            self.notify("Wait for the answer, or press Esc to cancel it, before resuming.", severity="warning")
            return
        await self.conversation.remove_children()
        self.conversation_id = conversation_id
        views = []
        for turn in turns:
            view = TurnView(turn.question, literal=turn.engine == "extractive")
            await self.conversation.mount(view)
            if turn.status == "ok":
                await view.finish(turn)
            else:
                await view.answer.update(turn.answer)
                await view.stop(turn.status, turn.error or "")
            views.append(view)
        done = [v for v in views if v.turn is not None]
        await self.show_turn(done[-1] if done else None)
        self.conversation.scroll_end(animate=False)
        self._update_status()
        self.notify(f"Resumed conversation {conversation_id} ({len(turns)} turns).")

    def action_history(self) -> None:
        self._list_conversations()

    def action_documents(self) -> None:
        self._list_documents()

    def action_resume(self, conversation_id: str = "") -> None:
        """Resume `conversation_id`, or list the conversations to choose one."""
        if conversation_id:
            self._resume(conversation_id)
        else:
            self._list_conversations()

    def action_export(self, path: str = "") -> None:
        """Write the transcript to `path`, or ask where."""
        if not self.conversation_id:
            self.notify("Nothing to export yet: ask a question first.")
        elif path:
            self._export(Path(path))
        else:
            self.push_screen(PromptScreen("Export the transcript as Markdown to:",
                                          f"conversation-{self.conversation_id}.md"),
                             lambda path: self._export(Path(path)) if path else None)

    # --- engines and documents ----------------------------------------------------------------

    def action_engine(self, name: str = "") -> None:
        if name in ENGINES:
            self._switch_engine(name)
        else:
            self.notify(f"Choose an engine: /engine {' | '.join(ENGINES)}.", severity="warning")

    def action_index(self, path: str = "") -> None:
        """Index the file, folder or web page (URL) at `path`, or ask for one."""
        if path:
            self._index([path])
        else:
            self.push_screen(PromptScreen("Add to the index (a file, a folder or an http(s) URL):"),
                             lambda path: self._index([path]) if path else None)

    def _progress(self, done: int | None, total: int | None = None) -> None:
        """Show indexing progress (None: hide the bar), the chunks embedded of `total`; runs on the UI thread."""
        bar = self.query_one("#progress", ProgressBar)
        bar.set_class(done is not None, "-active")
        if done is not None:
            bar.update(total=total, progress=done)
        self._activity = ("" if done is None else f"embedding {done}/{total} chunks" if total else "indexing…")
        self._update_status()

    def _fetching(self, url: str, got: int, declared: int | None) -> None:
        """Show a web page's download: the bytes received of those it declared (if it did)."""
        self.query_one("#progress", ProgressBar).update(total=declared, progress=got)
        self._activity = f"fetching {shortened(visible(url), URL_WIDTH)}: {download_amount(got, declared)}"
        self._update_status()

    # --- commands (their table is tui.commands.COMMANDS) ----------------------------------------

    async def run_command(self, line: str) -> None:
        """Run a typed `/command [argument]`."""
        action = slash_action(line)
        if action is None:
            name = line.strip()[1:].partition(" ")[0]
            self.notify(f"There is no command /{name}; /help lists them.", severity="warning")
            return
        await self.run_action(action)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, action in palette_entries():
            yield SystemCommand(title, help_text, partial(self.run_action, action))
