"""HTML pages as text: the article or documentation, without the page's chrome, and without silent loss; each
block (a paragraph, a list item, a table row) a paragraph of its own.

trafilatura finds the article and leaves the menus, sidebars and footers out. On documentation pages it can
leave out too much (a definition list, a whole section), so its text is checked against the page's own visible
text (menus, headers, footers, asides, scripts taken out): when it keeps less than COVERAGE of those words, the
page's visible text is kept instead, block by block. Before either, what is not content goes: permalink anchors
(the ¶ after every Sphinx or Texinfo heading) and navigation bars ("Next: …, Previous: …, Up: … [Contents]").
"""

from __future__ import annotations

import re

from dataclasses import dataclass

COVERAGE = 0.6  # the share of the visible content's words the article extractor must keep
_ANCHOR_TEXT = {"¶", "#", "§", "🔗", "link"}
_NAV_WORDS = re.compile(r"\b(?:Next|Previous|Prev|Up|Top):")
_BLOCKS = {"p", "li", "pre", "dd", "dt", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "blockquote", "caption",
           "figcaption", "div", "section", "article", "table", "ul", "ol", "dl", "br"}
_CHROME = ("//script|//style|//noscript|//template|//nav|//header|//footer|//aside|//form|//*[@role='navigation']"
           "|//*[contains(concat(' ', normalize-space(@class), ' '), ' nav-panel ')]"
           "|//*[contains(concat(' ', normalize-space(@class), ' '), ' sphinxsidebar ')]"
           "|//*[contains(concat(' ', normalize-space(@class), ' '), ' related ')]")


@dataclass(frozen=True)
class HtmlText:
    """A page's content as text, and its title (None: none found)."""

    text: str
    title: str | None


def _pruned(html: str | bytes):
    """The page's tree without permalink anchors, and a copy of it without its chrome either (None if the page
    does not parse)."""
    import copy

    import lxml.html

    try:
        tree = lxml.html.fromstring(html)
    except (ValueError, lxml.etree.ParserError):
        return None, None
    for anchor in tree.xpath("//a"):
        if (anchor.text_content() or "").strip() in _ANCHOR_TEXT or "headerlink" in (anchor.get("class") or ""):
            anchor.drop_tree()
    # the source's line breaks inside a paragraph are spaces (a quote then reads as one line), but not in code
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        in_pre = any(a.tag == "pre" for a in element.iterancestors())
        if element.text and not in_pre and element.tag not in ("pre", "textarea"):
            element.text = _one_line(element.text)
        if element.tail and not in_pre:  # (the tail stands in the parent, after the element)
            element.tail = _one_line(element.tail)
    _join_definitions(tree)
    content = copy.deepcopy(tree)
    for element in content.xpath(_CHROME):
        element.drop_tree()
    return tree, content


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\x7f")


def _one_line(text: str) -> str:
    """Text with its runs of white space one space, and without the control characters XML cannot hold."""
    return re.sub(r"\s+", " ", _NOT_XML.sub("", text))


def _join_definitions(tree) -> None:
    """A definition list's terms go into their definition ("--norc, -f — Don't run any startup files"), so that
    a term (an option, a function's signature) and what is said of it are read, and quoted, together."""
    for definition in tree.xpath("//dd"):
        terms = []
        previous = definition.getprevious()
        while previous is not None and previous.tag == "dt":
            terms.insert(0, " ".join(previous.text_content().split()))
            earlier = previous.getprevious()
            previous.drop_tree()
            previous = earlier
        if terms:
            lead = " ".join(terms) + " — "
            # the definition's first paragraph, if it opens with one, else the definition itself
            opens = len(definition) and definition[0].tag == "p" and not (definition.text or "").strip()
            target = definition[0] if opens else definition
            target.text = _one_line(lead + (target.text or ""))


def visible_text(content) -> str:
    """The text of a tree, a line per block (a paragraph, a list item, a table row with its cells apart)."""
    pieces: list[str] = []

    def walk(element) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _BLOCKS:
            pieces.append("\n")
        if element.text and tag not in ("script", "style"):
            pieces.append(element.text)
        for child in element:
            walk(child)
            if child.tail:
                pieces.append(child.tail)
        if tag in ("td", "th"):
            pieces.append(" | ")
        if tag in _BLOCKS:
            pieces.append("\n")

    walk(content)
    lines = (" ".join(line.split()).strip(" |") for line in "".join(pieces).split("\n"))
    return "\n\n".join(line for line in lines if line)


def _navigation(line: str) -> bool:
    """A navigation bar's line: "Next: …, Previous: …, Up: … [Contents][Index]"."""
    return len(_NAV_WORDS.findall(line)) >= 2 or line.rstrip().endswith(("[Contents][Index]", "[Index]"))


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def html_document(html: str | bytes, url: str | None = None) -> HtmlText:
    """A page's content as text and its title: trafilatura's article, or the page's visible text where the
    article keeps less than COVERAGE of it; navigation lines and permalink marks removed."""
    import lxml.html
    import trafilatura  # deferred: it pulls in lxml and friends

    tree, content = _pruned(html)  # bytes are decoded by lxml as the page's own <meta charset> says
    cleaned = lxml.html.tostring(tree, encoding="unicode") if tree is not None else html
    text = trafilatura.extract(cleaned, url=url, include_comments=False, include_tables=True, favor_recall=True) or ""
    meta = trafilatura.extract_metadata(cleaned, default_url=url)
    if content is not None:
        visible = visible_text(content)
        seen = _words(visible)
        if seen and len(_words(text) & seen) < COVERAGE * len(seen):
            text = visible
    # a block a paragraph (a table row, a list item, a line of code): sentences never run from one into the next;
    # but a line that stops mid-sentence goes on with the next one ("on many Unix-like" / "operating systems")
    blocks: list[str] = []
    for line in (x.strip() for x in text.split("\n")):
        if not line or _navigation(line):
            continue
        if blocks and line[:1].islower() and not re.search(r"[.!?:;]\W*$", blocks[-1]):
            blocks[-1] += " " + line
        else:
            blocks.append(line)
    text = "\n\n".join(blocks)
    title = " ".join((meta.title if meta and meta.title else "").replace("¶", "").split()) or None
    return HtmlText(text, title)
