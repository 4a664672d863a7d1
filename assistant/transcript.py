"""A conversation as a Markdown transcript, with its citations and sources."""

from __future__ import annotations

from assistant.turns import Turn, place


def transcript_markdown(conversation_id: str, turns: list[Turn]) -> str:
    lines = [f"# Conversation {conversation_id}", ""]
    for number, turn in enumerate(turns, start=1):
        lines += [f"## {number}. {turn.question}", "", f"*Searched:* {turn.standalone_question}", "", turn.answer, ""]
        if turn.status != "ok":
            lines += [f"*({turn.status}{': ' + turn.error if turn.error else ''})*", ""]
        for c in turn.citations:
            lines.append(f"- [{c.n}] “{c.text}” — {c.title}, {place(c.start, c.end, c.pages)}"
                         + ("" if c.verified else f" (stale: {c.stale})" if c.stale else " (not found in the document)"))
        if turn.sources:
            lines += ["", "Sources:", ""]
            lines += [f"{s.rank}. {s.title} ({place(s.start, s.end, s.pages)}, score {s.score:.3f})" for s in turn.sources]
        lines.append("")
    return "\n".join(lines)
