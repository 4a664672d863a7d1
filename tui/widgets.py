"""The widgets of the chat screen: a turn of the conversation, the sources pane and its passages."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Markdown, Static

from assistant.turns import place
from tui.text import answer_markdown, visible

HIGHLIGHT = "bold black on yellow"
SELECTED_HIGHLIGHT = "bold black on bright_green"


class TurnView(Vertical, can_focus=False):
    """One question with the query searched for it, and the answer as it streams in."""

    class Selected(Message):
        def __init__(self, view: TurnView, citation: int | None = None):
            super().__init__()
            self.view = view
            self.citation = citation

    def __init__(self, question: str, *, literal: bool = True):
        super().__init__(classes="turn")
        self.question = question
        self.literal = literal  # the answer is the documents' own words: show it exactly
        self.turn = None  # the finished assistant.turns.Turn
        self.state = "running"
        self.partial = ""
        self._stream = None

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble("› ", (visible(self.question), "bold")), classes="question")
        yield Static(Text("searching…", style="italic"), classes="searched")
        yield Markdown("", open_links=False, classes="answer")
        yield Static("", classes="note")

    @property
    def answer(self) -> Markdown:
        return self.query_one(".answer", Markdown)

    def set_note(self, text: str, style: str = "") -> None:
        self.query_one(".note", Static).update(Text(text, style=style))

    async def stream(self, delta: str) -> None:
        """Append a fragment of an LLM's answer (the checked answer replaces it when the turn ends)."""
        if self.state != "running":
            return
        if self._stream is None:
            self._stream = Markdown.get_stream(self.answer)
        self.partial += delta
        await self._stream.write(visible(delta))

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    async def finish(self, turn) -> None:
        await self._stop_stream()
        self.turn, self.state = turn, "ok"
        self.query_one(".searched", Static).update(Text.assemble("searched: ", visible(turn.standalone_question), style="italic"))
        await self.answer.update(answer_markdown(turn.answer, self.literal))
        notes = []
        if turn.refused:
            notes.append("not answered by the documents")
        if turn.unsupported:
            notes.append(f"{len(turn.unsupported)} sentence(s) not supported: "
                         + " | ".join(f"{sentence} ({reason})" for sentence, reason in turn.flagged()))
        unverified = [c.n for c in turn.citations if not c.verified and not c.stale]
        if unverified:
            notes.append("citation " + ", ".join(f"[{n}]" for n in unverified) + " not found in the documents")
        notes += [f"citation [{c.n}] is stale: {c.stale}" for c in turn.citations if c.stale]
        unverified += [c.n for c in turn.citations if c.stale]
        self.set_note("; ".join(notes), "bold red" if turn.unsupported or unverified else "italic")
        if turn.unsupported or unverified:
            self.add_class("-unsupported")

    async def stop(self, state: str, reason: str = "") -> None:
        """The turn ended early: cancelled or failed; what was written so far stays."""
        await self._stop_stream()
        self.state = state
        self.add_class(f"-{state}")
        self.query_one(".searched", Static).update(Text(""))
        self.set_note(f"{state}{': ' + reason if reason else ''}", "bold red" if state == "failed" else "italic")

    def on_click(self) -> None:
        self.post_message(self.Selected(self))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        if event.href.startswith("cite:"):
            self.post_message(self.Selected(self, int(event.href.removeprefix("cite:"))))


class SourceCard(Static, can_focus=True):
    """A retrieved passage (overlapping ones joined): rank and score, with every span the answer cites
    highlighted; its document's title heads the group of cards above it."""

    def __init__(self, source, citations, selected: int | None):
        self.source = source
        self.citations = [c for c in citations if c.document_id == source.document_id and c.start < source.end and source.start < c.end]
        self.highlights: list[tuple[int, int, int]] = []  # (citation n, start, end) within the passage text
        for c in self.citations:
            self.highlights.append((c.n, max(c.start, source.start) - source.start, min(c.end, source.end) - source.start))
        super().__init__(self._render_text(selected), classes="source")
        if selected is not None and any(n == selected for n, _, _ in self.highlights):
            self.add_class("-selected")

    def _render_text(self, selected: int | None) -> Text:
        s = self.source
        markers = "".join(f" [{n}]" for n, _, _ in self.highlights)
        body = Text(visible(s.text))
        for n, start, end in self.highlights:
            body.stylize(SELECTED_HIGHLIGHT if n == selected else HIGHLIGHT, start, end)
        return Text.assemble((f"{s.rank}.", "bold"), (f"  {place(s.start, s.end, s.pages)}  score {s.score:.2f}", "dim"),
                             (markers, "bold yellow"), "\n", body)


class SourcesPane(VerticalScroll, can_focus=False):
    """The sources of the selected answer by document, the best first: each document's title once, then its
    passages, best first."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.turn = None
        self.citation: int | None = None
        self.locations: dict[str, str] = {}  # document id -> its path or URL, shown under its title

    def compose(self) -> ComposeResult:
        yield Static(Text("Sources of the selected answer appear here.", style="italic"), classes="placeholder")

    async def show(self, turn, citation: int | None = None) -> None:
        self.turn, self.citation = turn, citation
        await self.remove_children()
        if turn is None or not turn.sources:
            await self.mount(Static(Text("No sources for this answer.", style="italic"), classes="placeholder"))
            return
        widgets, cards = [], []
        for group in turn.source_groups():
            title = Text(visible(group.title), style="bold")
            location = self.locations.get(group.document_id, "")
            if location not in ("", "inline", "bundled"):
                title.append(f"\n{visible(location)}", style="dim not bold")
            widgets.append(Static(title, classes="source-title"))
            for passage in group.passages:
                cards.append(SourceCard(passage, turn.citations, citation))
                widgets.append(cards[-1])
        await self.mount_all(widgets)
        target = next((c for c in cards if c.has_class("-selected")), None)
        if target is not None:
            self.call_after_refresh(target.scroll_visible, top=True, animate=False)
        else:
            self.scroll_home(animate=False)

    @property
    def cards(self) -> list[SourceCard]:
        return list(self.query(SourceCard))

    def chosen_citation(self):
        """The citation brought into view (F2, a click on its marker), else the answer's first; None without any."""
        if self.turn is None:
            return None
        chosen = [c for c in self.turn.citations if c.n == self.citation] or self.turn.citations
        return chosen[0] if chosen else None

    def selected_span(self) -> tuple[str, int, int] | None:
        """(document, start, end) of the chosen citation, else of the first citation, else of the top passage."""
        if self.turn is None:
            return None
        if (chosen := self.chosen_citation()) is not None:
            return chosen.document_id, chosen.start, chosen.end
        if self.turn.sources:
            s = self.turn.sources[0]
            return s.document_id, s.start, s.end
        return None
