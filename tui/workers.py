"""The chat UI's background work: every call into the `Assistant` runs here, in a thread worker, and reports
back to the UI thread with `call_from_thread` -- a worker never touches a widget itself.

`AssistantWork` is the worker half of `tui.app.AssistantApp`; the `_loaded`, `_show_turns`, `_finished`,
`_failed`, `_progress`, `_fetching` and `_update_status` it calls back are the app's.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work
from textual.worker import get_current_worker

from tui.handoff import line_at, viewer_command
from tui.screens import ConversationsScreen, DocumentScreen, DocumentsScreen
from tui.widgets import TurnView

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from assistant.service import Assistant

FETCH_TELL_EVERY = 0.1  # seconds between two updates of a page's download on screen


class AssistantWork:
    """The thread workers of the chat app; they wait for the assistant to be built before they use it."""

    assistant: Assistant | None
    load_error: str | None
    conversation_id: str | None
    documents: list[str] | None
    paths: list[Path]
    _assistant_ready: threading.Event
    _no_answer: threading.Event
    _catalog: list  # store.DocumentInfo
    _stop_watching: threading.Event
    watching: list[Path]
    _demo: bool

    # --- start-up ----------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="load")
    def _start(self) -> None:
        try:
            assistant = self._load()
            assistant.warm_up()
        except Exception as exc:  # the store or a model failed: say so, keep the window
            self.load_error = str(exc) or type(exc).__name__
            self.call_from_thread(self._loaded)
            self._assistant_ready.set()
            return
        self.assistant = assistant
        try:
            self._catalog = assistant.index.documents()
            self._demo = assistant.index.demo
        except Exception as exc:  # the store went away: the documents screen shows none, each turn says why
            logger.warning("could not list the indexed documents: %s", exc)
            self._catalog, self._demo = [], False
        if self.conversation_id:
            self.documents = assistant.documents_of(self.conversation_id)
        self.call_from_thread(self._loaded)
        if self.paths:
            self._index_paths(self.paths, restrict=True)
        if self.conversation_id:
            turns = assistant.turns(self.conversation_id)
            if turns:
                self.call_from_thread(self._show_turns, self.conversation_id, turns)
            else:
                self.call_from_thread(self.notify, f"No stored conversation {self.conversation_id}: it starts now.")
        self._assistant_ready.set()
        if assistant.settings.watch:  # (after the catalog is read above: the watch's own reading comes later)
            self._watch(assistant.settings.watch)
        while not self._no_answer.wait(0.1):  # a question asked meanwhile goes first, encoding what it needs itself
            if get_current_worker().is_cancelled:
                return
        try:
            assistant.prepare(self.documents)
        except Exception as exc:  # the store went away: each turn will say so
            logger.warning("could not prepare the conversation's documents: %s", exc)

    # --- answering ---------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="answer")
    def _answer(self, view: TurnView, question: str) -> None:
        try:
            self._answer_turn(view, question)
        finally:
            self.call_from_thread(self._answer_ended)

    def _answer_turn(self, view: TurnView, question: str) -> None:
        from assistant.engines.base import TurnCancelled
        from assistant.service import new_conversation_id

        worker = get_current_worker()
        self._assistant_ready.wait()
        if self.assistant is None:
            self.call_from_thread(self._failed, view, question, f"the assistant did not start: {self.load_error}")
            return
        if worker.is_cancelled:
            return
        if self.conversation_id is None:
            self.conversation_id = new_conversation_id()
            self.call_from_thread(self._update_status)
        conversation = self.conversation_id

        def on_token(delta: str) -> None:
            if not worker.is_cancelled:
                self.call_from_thread(view.stream, delta)

        try:
            _, turn = self.assistant.ask(question, conversation, self.documents, on_token=on_token,
                                         should_stop=lambda: worker.is_cancelled)
        except TurnCancelled:  # the assistant kept the partial answer as a cancelled turn
            return
        except Exception as exc:  # engine unreachable, store failure…: the turn fails, the conversation goes on
            self.call_from_thread(self._failed, view, question, str(exc) or type(exc).__name__)
            return
        self.call_from_thread(self._finished, view, turn)

    # --- documents ---------------------------------------------------------------------

    def _indexed_document(self, document: str):
        """The document with its text as indexed (store.Document), or None after telling the user why not."""
        try:
            found = self.assistant.index.document(document)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot open the document: {exc}", severity="error")
            return None
        if found is None:
            self.call_from_thread(self.notify, f"The document {document} is no longer in the index.", severity="error")
        return found

    @work(thread=True, exit_on_error=False, group="document")
    def _open_document(self, document: str, title: str, start: int, end: int) -> None:
        found = self._indexed_document(document)
        if found is None:
            return
        self.call_from_thread(self.push_screen, DocumentScreen(title, found.text, start, end, found.source,
                                                               found.pages(start, end)))

    @work(thread=True, exit_on_error=False, group="document")
    def _open_outside(self, document: str, start: int) -> None:
        """Open the document at the line of `start` in the user's own program: a .txt or .md file itself in their
        editor; any other text (a PDF's, a web page's) as indexed, copied to a scratch file, in their pager, since
        a line of extracted text is no line of the PDF or HTML it came from."""
        found = self._indexed_document(document)
        if found is None:
            return
        line = line_at(found.text, start)
        path = found.verbatim_file
        if path is not None and not path.is_file():
            self.call_from_thread(self.notify, f"{path} is gone; showing its text as it was indexed.",
                                  severity="warning")
            path = None
        if path is not None:
            indexed = next((d.indexed_at for d in self._catalog if d.id == document), 0.0)
            if indexed and path.stat().st_mtime > indexed:
                self.call_from_thread(self.notify, f"{path.name} changed since it was indexed, so line {line} may "
                                      "have moved; /index it again to cite it as it is now.", severity="warning")
            command, scratch = viewer_command(str(path), line, os.environ, editable=True), None
        else:
            scratch = tempfile.mkdtemp(prefix="assistant-")
            copy = Path(scratch) / f"{found.id}.txt"
            try:
                copy.write_text(found.text, encoding="utf-8")
            except OSError as exc:
                shutil.rmtree(scratch, ignore_errors=True)
                self.call_from_thread(self.notify, f"Cannot write the text to {scratch} ({exc.strerror}); free some "
                                      "space there or set $TMPDIR to another folder.", severity="error")
                return
            command = viewer_command(str(copy), line, os.environ, editable=False)
        self.call_from_thread(self._run_outside, command, scratch)

    @work(thread=True, exit_on_error=False, group="index")
    def _index(self, paths: list[str | Path]) -> None:
        self._assistant_ready.wait()
        if self.assistant is not None:
            self._index_paths(paths, restrict=self.documents is not None)

    def _index_paths(self, paths: Sequence[str | Path], restrict: bool) -> None:
        self.call_from_thread(self._progress, 0)

        def progress(done: int, total: int) -> None:
            self.call_from_thread(self._progress, done, total)

        last_told = 0.0

        def fetching(url: str, got: int, declared: int | None) -> None:
            nonlocal last_told
            now = time.monotonic()
            if got in (0, declared) or now - last_told >= FETCH_TELL_EVERY:  # the UI thread is not flooded
                last_told = now
                self.call_from_thread(self._fetching, url, got, declared)

        try:
            result = self.assistant.add_paths(paths, progress, fetching)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Indexing failed, nothing was half-written: {exc}", severity="error",
                                  timeout=15)
            self._refresh_catalog()
            return
        finally:
            self.call_from_thread(self._progress, None)
        ids = [doc_id for doc_id, _ in result.documents]
        if restrict and ids:
            self._use_documents(list(dict.fromkeys((self.documents or []) + ids)))
        elif restrict and self.documents is None and result.failures:
            # `assistant chat missing.txt`: nothing to restrict to; say what it answers from instead
            self.call_from_thread(self.notify, "None of the given files could be indexed: answering from every "
                                  "indexed document.", severity="warning", timeout=15)
        if result.documents:
            titles = ", ".join(title for _, title in result.documents[:3]) + ("…" if len(result.documents) > 3 else "")
            self.call_from_thread(self.notify, f"Indexed {len(result.documents)} document(s): {titles} "
                                  f"({len(result.added)} new, {len(result.updated)} updated, "
                                  f"{len(result.removed)} gone from the folder, {result.chunks} chunks embedded).")
        for failure in result.failures:
            self.call_from_thread(self.notify, failure, title="Not indexed", severity="error", timeout=15)
        self._refresh_catalog()  # the bundled article steps aside for the user's first document; greet

    @work(thread=True, exit_on_error=False, group="watch")
    def _watch(self, paths: list[Path]) -> None:
        """Keep the `watch` setting's files and folders indexed as they change, until the app ends."""
        names = ", ".join(path.name or str(path) for path in paths)

        def changed(result) -> None:
            told = [f"{len(result.added)} new", f"{len(result.updated)} changed", f"{len(result.removed)} removed"]
            self.call_from_thread(self.notify, f"{names}: {', '.join(told)} ({result.chunks} chunks embedded).",
                                  title="Kept in step")
            for failure in result.failures:
                self.call_from_thread(self.notify, failure, title="Not indexed", severity="error", timeout=15)
            self._refresh_catalog()

        def ready() -> None:
            self.watching = paths
            self.call_from_thread(self.notify, f"Watching {names}: changed files are indexed again as you save them.")

        try:
            self.assistant.watch(paths, changed, self._stop_watching, ready)
        except Exception as exc:  # a folder gone, too many files for inotify, the store failing: the chat goes on
            self.call_from_thread(self.notify, f"Cannot watch {names}: {exc}", severity="error", timeout=15)

    # --- conversations -----------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="history")
    def _list_conversations(self, search: str = "") -> None:
        self._assistant_ready.wait()
        if self.assistant is None:
            return
        try:
            conversations = self.assistant.conversations()
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot list the conversations: {exc}", severity="error")
            return
        self.call_from_thread(self.push_screen, ConversationsScreen(conversations, search), self._conversation_chosen)

    def _conversation_chosen(self, choice: tuple | None) -> None:
        if choice is None:
            return
        if choice[0] == "resume":
            self._resume(choice[1])
        else:
            self._change_conversation(*choice)

    @work(thread=True, exit_on_error=False, group="history")
    def _change_conversation(self, action: str, conversation_id: str, title: str = "") -> None:
        """Rename or delete a stored conversation, then show the list again."""
        try:
            if action == "rename":
                self.assistant.rename(conversation_id, title)
                self.call_from_thread(self.notify, f"Renamed conversation {conversation_id}.")
            else:
                self.assistant.delete(conversation_id)
                self.call_from_thread(self.notify, f"Deleted conversation {conversation_id}.")
                if conversation_id == self.conversation_id:  # the one on screen: what follows starts a new one
                    self.call_from_thread(self.action_new_conversation)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot {action} the conversation: {exc}", severity="error")
        self._list_conversations()

    @work(thread=True, exit_on_error=False, group="history")
    def _resume(self, conversation_id: str) -> None:
        self._assistant_ready.wait()
        if self.assistant is None:
            return
        turns = self.assistant.turns(conversation_id)
        if not turns:
            self.call_from_thread(self.notify, f"No conversation {conversation_id}; /history lists them.", severity="error")
            return
        self.documents = self.assistant.documents_of(conversation_id)
        self.call_from_thread(self._show_turns, conversation_id, turns)

    # --- the documents screen ------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="documents")
    def _list_documents(self) -> None:
        self._assistant_ready.wait()
        if self.assistant is None:
            return
        try:
            documents, demo = self.assistant.index.documents(), self.assistant.index.demo
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot list the documents: {exc}", severity="error")
            return
        self.call_from_thread(self.push_screen, DocumentsScreen(documents, self.documents, demo), self._documents_chosen)

    def _documents_chosen(self, choice: tuple | None) -> None:
        if choice is None:
            return
        action, value = choice
        if action == "add":
            self._index([value])
        elif action == "remove":
            self._remove_document(value)
        else:
            self._answer_from(value)

    @work(thread=True, exit_on_error=False, group="documents")
    def _answer_from(self, documents: list[str] | None) -> None:
        self._use_documents(documents)
        self._refresh_catalog()

    def _use_documents(self, documents: list[str] | None) -> None:
        """Answer from these documents from now on (None: every one), and keep that with the conversation."""
        self.documents = documents
        try:
            if self.conversation_id and self.assistant.turns(self.conversation_id):
                self.assistant.set_documents(self.conversation_id, documents)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot keep the conversation's documents: {exc}", severity="error")

    @work(thread=True, exit_on_error=False, group="documents")
    def _remove_document(self, document_id: str) -> None:
        try:
            removed = self.assistant.index.remove(document_id)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot remove the document: {exc}", severity="error")
            return
        if self.documents is not None and document_id in self.documents:
            self._use_documents([d for d in self.documents if d != document_id] or None)
        self.call_from_thread(self.notify, "Removed it from the index." if removed else "It was no longer indexed.")
        self._refresh_catalog()
        self._list_documents()

    def _refresh_catalog(self) -> None:
        """Read again what the conversation answers from, for the greeting and the status line."""
        try:
            self._catalog = self.assistant.index.documents()
            self._demo = self.assistant.index.demo
        except Exception:  # the store went away: the next turn says so
            return
        self.call_from_thread(self._catalog_changed)

    @work(thread=True, exit_on_error=False, group="export")
    def _export(self, path: Path) -> None:
        from assistant.transcript import transcript_markdown

        conversation = self.conversation_id
        try:
            turns = self.assistant.turns(conversation)
            path = path.expanduser()
            path.write_text(transcript_markdown(conversation, turns) + "\n", encoding="utf-8")
        except OSError as exc:
            self.call_from_thread(self.notify, f"Cannot write {path}: {exc.strerror or exc}; choose another path.",
                                  severity="error")
            return
        self.call_from_thread(self.notify, f"Wrote the transcript to {path.resolve()}.")

    # --- engines -----------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="engine")
    def _switch_engine(self, name: str) -> None:
        self._assistant_ready.wait()
        if self.assistant is None:
            return
        try:
            self.assistant.switch_engine(name)
        except Exception as exc:
            self.call_from_thread(self.notify, f"Cannot use the {name} engine: {exc}", severity="error", timeout=15)
            return
        self.call_from_thread(self._update_status)
        self.call_from_thread(self.notify, f"Answers now come from the {name} engine.")
