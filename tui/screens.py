"""Modal screens: the whole document at a cited span, the conversations, the documents, a prompt, a
confirmation, and the help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Markdown, OptionList, SelectionList, Static, TextArea
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection
from textual.widgets.text_area import Selection as TextSelection

from assistant.console import shortened, when
from assistant.turns import place
from tui.commands import help_table, key_of
from tui.text import visible


def help_markdown() -> str:
    """The help: how to ask and read an answer, then every command (`tui.commands.COMMANDS`)."""
    return f"""\
# Help

Ask a question about the documents and press **Enter**. Follow-ups ("And the other side?") are understood
from the conversation; the line under each question shows what was actually searched.

Each answer cites its evidence as **[n]**: click a marker, or press **{key_of("next_citation")}**, to bring its
passage into view in the sources pane, where the quoted words are highlighted. **{key_of("open_document")}**
opens the whole document at that span; **{key_of("open_outside")}** opens it in your own `$EDITOR` at that line (a
PDF's, HTML file's or web page's text, as indexed, in `$PAGER`). **{key_of("copy_citation")}** copies the quote
with its source, **{key_of("copy_answer")}** the whole answer.

{help_table()}
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]
    AUTO_FOCUS = "#dialog"

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Markdown(help_markdown(), id="help")

    def action_dismiss(self) -> None:
        self.dismiss(None)


class DocumentScreen(ModalScreen[None]):
    """The whole document, read-only, scrolled to the cited span and with it selected."""

    BINDINGS = [Binding("escape,q", "dismiss", "Close")]
    AUTO_FOCUS = "#document"

    def __init__(self, title: str, text: str, start: int, end: int, source: str = "", pages: list[int] | None = None):
        super().__init__()
        self.doc_title, self.text, self.start, self.end = title, visible(text), start, end
        self.pages = pages or []
        self.source = source if source not in ("", "inline", "bundled") else ""  # a path or a URL

    def _location(self, offset: int) -> tuple[int, int]:
        row = self.text.count("\n", 0, offset)
        return row, offset - (self.text.rfind("\n", 0, offset) + 1)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text.assemble((visible(self.doc_title), "bold"),
                                      (f"  {place(self.start, self.end, self.pages)}  (Esc closes)", "dim")))
            if self.source:
                yield Label(Text(visible(self.source), style="dim"), classes="document-source")
            yield TextArea(self.text, read_only=True, soft_wrap=True, show_line_numbers=False, id="document")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_blink = False  # a steady cursor at the quote (and stable snapshots)
        area.selection = TextSelection(self._location(self.start), self._location(self.end))
        area.focus()
        self.call_after_refresh(area.scroll_cursor_visible, center=True, animate=False)

    @property
    def selected_text(self) -> str:
        return self.query_one(TextArea).selected_text

    def action_dismiss(self) -> None:
        self.dismiss(None)


class _ListScreen(ModalScreen[tuple | None]):
    """A list to act on: dismissed with what the user chose to do (None: Esc)."""

    def _confirm(self, question: str, choice: tuple) -> None:
        """Ask `question`; on yes, dismiss with `choice`."""
        self.app.push_screen(ConfirmScreen(question), lambda yes: self.dismiss(choice) if yes else None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class ConversationsScreen(_ListScreen):
    """Past conversations, most recent first, with their dates: / searches them, Enter resumes one, R renames it,
    D deletes it (after a confirmation). Dismissed with ("resume" | "rename" | "delete", id[, title])."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close"), Binding("slash", "search", "Search"),
                Binding("r", "rename", "Rename"), Binding("d,delete", "delete", "Delete"),
                Binding("down", "to_list", show=False)]
    AUTO_FOCUS = "#conversations"

    def __init__(self, conversations, search: str = ""):
        super().__init__()
        self.conversations = conversations
        self.search = search

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text("Conversations — /: search · Enter: resume · R: rename · D: delete · Esc", style="bold"))
            yield Input(self.search, placeholder="search the titles, questions and answers", id="search")
            yield OptionList(id="conversations")
            yield Label("", id="empty")

    def on_mount(self) -> None:
        self._fill(self.search)

    @property
    def shown(self) -> list:
        return [c for c in self.conversations if c.matches(self.search)]

    def _fill(self, search: str) -> None:
        self.search = search
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([
            Option(Text.assemble((visible(c.title), "bold"), "\n",
                                 *(() if c.title == c.first_question else  # renamed: what it began with, below
                                   ("“", shortened(visible(c.first_question), 90), "”\n")),
                                 (f"{when(c.updated)} · {c.turns} turn{'s' if c.turns != 1 else ''} · {c.id}", "dim")),
                   id=c.id)
            for c in self.shown
        ])
        if self.shown:
            options.highlighted = 0
        empty = ("No stored conversations yet." if not self.conversations else
                 f"No conversation holds “{visible(search)}”." if not self.shown else "")
        self.query_one("#empty", Label).update(Text(empty, style="italic"))

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_to_list(self) -> None:
        self.query_one(OptionList).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._dismiss_with("resume")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(("resume", event.option.id))

    def _highlighted(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not options.option_count:
            return None
        return options.get_option_at_index(options.highlighted).id

    def _dismiss_with(self, action: str) -> None:
        if (conversation := self._highlighted()) is not None:
            self.dismiss((action, conversation))

    def action_rename(self) -> None:
        if (conversation := self._highlighted()) is None:
            return
        current = next(c.title for c in self.conversations if c.id == conversation)
        self.app.push_screen(PromptScreen("A title for the conversation (empty: its first question):", current,
                                          allow_empty=True),
                             lambda title: self.dismiss(("rename", conversation, title)) if title is not None else None)

    def action_delete(self) -> None:
        if (conversation := self._highlighted()) is None:
            return
        title = next(c.title for c in self.conversations if c.id == conversation)
        self._confirm(f"Delete the conversation “{visible(title)}” for good?", ("delete", conversation))


SOURCE_WIDTH = 16  # the fewest characters of a path or URL worth showing in a document's line


def _middle_shortened(text: str, width: int) -> str:
    """`text` cut to `width` characters in its middle, so a path or URL keeps its start and, first, its last part."""
    if len(text) <= width:
        return text
    last = len(text) - text.rstrip("/").rfind("/")  # "/report.pdf": the file's or page's own name
    head = max(0, min((width - 1) // 3, width - 1 - last))
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


def document_lines(documents, width: int) -> list[Text]:
    """One line per document, in columns that fit `width`: its title, passages and indexing date, then its source;
    the title and the source are cut with an ellipsis so that the date always shows."""
    details = [f"{d.chunks} passage{'s' if d.chunks != 1 else ''} · {when(d.indexed_at) if d.indexed_at else 'earlier'}"
               for d in documents]
    details_width = max(map(len, details), default=0)
    room = width - details_width - 2  # what the title and the source share
    titles = [visible(d.title) for d in documents]
    sources = [visible(d.source) for d in documents]
    longest_title, longest_source = max(map(len, titles), default=0), max(map(len, sources), default=0)
    # the title takes what it needs but leaves the source a third of the room; all of it if the source cannot fit
    title_width = min(longest_title, max(room * 2 // 3, room - longest_source - 2))
    source_width = room - title_width - 2
    if source_width < SOURCE_WIDTH:
        title_width, source_width = max(1, min(longest_title, room)), 0
    lines = []
    for title, detail, source in zip(titles, details, sources, strict=True):
        line = Text.assemble((shortened(title, title_width).ljust(title_width), "bold"), "  ",
                             (detail.rjust(details_width), "dim"))
        if source_width:
            line.append(f"  {_middle_shortened(source, source_width)}", style="dim")
        lines.append(line)
    return lines


class DocumentList(SelectionList[str]):
    """The indexed documents to check, one line each (as a SelectionList shows them), laid out anew for its width."""

    def __init__(self, documents, chosen: list[str] | None):
        self.documents = documents
        super().__init__(*[Selection(line, d.id, chosen is None or d.id in chosen)
                           for d, line in zip(documents, document_lines(documents, 200), strict=True)])  # till sized

    def on_resize(self) -> None:
        # the gutter is the checkbox; the option's padding is the list's own (OptionList's private sizes, read as
        # OptionList itself reads them to lay out its lines)
        padding = self.get_component_styles("option-list--option").padding.width
        width = self.scrollable_content_region.width - self._get_left_gutter_width() - padding
        for index, line in enumerate(document_lines(self.documents, width)):
            self.replace_option_prompt_at_index(index, line)


class DocumentsScreen(_ListScreen):
    """Every indexed document with its source, passages and when it was indexed; the checked ones are those the
    conversation answers from. Space checks, U answers from the checked ones, A adds a file, folder or URL,
    D removes one (after a confirmation). Dismissed with ("use", ids) | ("add", path) | ("remove", id)."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close"), Binding("u", "use", "Answer from the checked"),
                Binding("a", "add", "Add"), Binding("d,delete", "remove", "Remove")]
    AUTO_FOCUS = "SelectionList"

    def __init__(self, documents, chosen: list[str] | None, demo: bool = False):
        super().__init__()
        self.documents, self.chosen, self.demo = documents, chosen, demo

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text.assemble(("Documents\n", "bold"),
                                      ("checked: answered from · dates: when indexed", "italic")))
            # a Static, not a Label: it wraps on a narrow terminal instead of being cut
            yield Static(Text("Space: check · U: answer from the checked · A: add · D: remove · Esc: close",
                              style="dim"))
            if self.demo:
                yield Label(Text("This is the bundled demo article: it steps aside once you add documents of your own.",
                                 style="italic"))
            yield DocumentList(self.documents, self.chosen)
            yield Static("", id="highlighted")  # what its line had to cut: the title and source in full
            if not self.documents:
                yield Label(Text("Nothing is indexed: press A to add a file, a folder or a web page.", style="italic"))

    def on_selection_list_selection_highlighted(self, event: SelectionList.SelectionHighlighted) -> None:
        document = self.documents[event.selection_index]
        self.query_one("#highlighted", Static).update(
            Text.assemble((visible(document.title), "bold"), "\n", (visible(document.source), "dim")))

    def _highlighted(self) -> str | None:
        options = self.query_one(SelectionList)
        if options.highlighted is None or not options.option_count:
            return None
        return options.get_option_at_index(options.highlighted).value

    def action_use(self) -> None:
        checked = self.query_one(SelectionList).selected
        if not checked and self.documents:
            self.notify("Check at least one document (Space) to answer from.", severity="warning")
            return
        every = {d.id for d in self.documents} <= set(checked)
        self.dismiss(("use", None if every else [d.id for d in self.documents if d.id in checked]))

    def action_add(self) -> None:
        self.app.push_screen(PromptScreen("Add to the index (a file, a folder or an http(s) URL):"),
                             lambda path: self.dismiss(("add", path)) if path else None)

    def action_remove(self) -> None:
        if (document := self._highlighted()) is None:
            return
        title = next(d.title for d in self.documents if d.id == document)
        self._confirm(f"Remove “{visible(title)}” and its passages from the index?", ("remove", document))


class ConfirmScreen(ModalScreen[bool]):
    """A yes-or-no question: Y (or Enter on Yes) confirms; N or Esc does not."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n,escape", "answer(False)", "No")]
    AUTO_FOCUS = "#no"

    def __init__(self, question: str):
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="small"):
            yield Label(Text(self.question, style="bold"))
            with Horizontal(classes="buttons"):
                yield Button("Yes (y)", id="yes", variant="error")
                yield Button("No (n)", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (a path), Enter to accept, Esc to cancel."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    AUTO_FOCUS = "#prompt"

    def __init__(self, prompt: str, value: str = "", allow_empty: bool = False):
        super().__init__()
        self.prompt, self.value, self.allow_empty = prompt, value, allow_empty

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="small"):
            yield Label(Text(self.prompt, style="bold"))
            yield Input(self.value, id="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() if self.allow_empty else event.value.strip() or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
