"""Modal screens: the whole document at a cited span, past conversations, a path prompt, and the help."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Markdown, OptionList, TextArea
from textual.widgets.option_list import Option
from textual.widgets.text_area import Selection

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
opens the whole document at that span.

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

    def __init__(self, title: str, text: str, start: int, end: int):
        super().__init__()
        self.doc_title, self.text, self.start, self.end = title, visible(text), start, end

    def _location(self, offset: int) -> tuple[int, int]:
        row = self.text.count("\n", 0, offset)
        return row, offset - (self.text.rfind("\n", 0, offset) + 1)

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text.assemble((visible(self.doc_title), "bold"),
                                      (f"  characters {self.start}–{self.end}  (Esc closes)", "dim")))
            yield TextArea(self.text, read_only=True, soft_wrap=True, show_line_numbers=False, id="document")

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        area.cursor_blink = False  # a steady cursor at the quote (and stable snapshots)
        area.selection = Selection(self._location(self.start), self._location(self.end))
        area.focus()
        self.call_after_refresh(area.scroll_cursor_visible, center=True, animate=False)

    @property
    def selected_text(self) -> str:
        return self.query_one(TextArea).selected_text

    def action_dismiss(self) -> None:
        self.dismiss(None)


class ConversationsScreen(ModalScreen[str | None]):
    """Past conversations, most recent first; Enter resumes one."""

    BINDINGS = [Binding("escape", "dismiss_none", "Close")]
    AUTO_FOCUS = "OptionList"

    def __init__(self, conversations):
        super().__init__()
        self.conversations = conversations

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(Text("Resume a conversation (Enter), or Esc", style="bold"))
            if self.conversations:
                yield OptionList(*[
                    Option(Text.assemble(f"{c.id}  {c.turns:>3} turns  ", visible(c.first_question)), id=c.id)
                    for c in self.conversations
                ])
            else:
                yield Label(Text("No stored conversations yet.", style="italic"))

    def on_mount(self) -> None:
        if self.conversations:
            self.query_one(OptionList).highlighted = 0

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class PromptScreen(ModalScreen[str | None]):
    """One line of input (a path), Enter to accept, Esc to cancel."""

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    AUTO_FOCUS = "#prompt"

    def __init__(self, prompt: str, value: str = ""):
        super().__init__()
        self.prompt, self.value = prompt, value

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="small"):
            yield Label(Text(self.prompt, style="bold"))
            yield Input(self.value, id="prompt")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
