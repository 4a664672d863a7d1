"""Text from documents, answers and questions made safe to show: nothing in it is ever interpreted.

Rich/Textual markup is never parsed (widgets get `rich.text.Text`, not markup strings), Markdown syntax in
the documents' own words is escaped, and control characters (terminal escape sequences included) are shown
as their Unicode "control pictures" -- one character for one, so character offsets stay valid.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MARKER = re.compile(r"\[(\d+)\]")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~=$&:])")


def visible(text: str) -> str:
    """`text` with every control character but newline and tab replaced by a visible stand-in, offsets kept."""
    text = text.replace("\r\n", " \n")
    return _CONTROL.sub(lambda m: "\u2421" if m.group() == "\x7f" else chr(0x2400 + ord(m.group())), text)


def escape_markdown(text: str) -> str:
    """Markdown that renders as exactly `text` (every ASCII punctuation that Markdown could read is escaped)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", visible(text)).replace("\n", "  \n")


def answer_markdown(answer: str, literal: bool) -> str:
    """An answer as Markdown whose `[n]` markers are links the user can choose (href `cite:n`).

    `literal` answers (the documents' own sentences) are escaped; an LLM's answer keeps its Markdown.
    """
    parts = []
    at = 0
    for match in _MARKER.finditer(answer):
        chunk = answer[at : match.start()]
        parts.append(escape_markdown(chunk) if literal else visible(chunk))
        parts.append(f"[\\[{match.group(1)}\\]](cite:{match.group(1)})")
        at = match.end()
    tail = answer[at:]
    parts.append(escape_markdown(tail) if literal else visible(tail))
    return "".join(parts)
