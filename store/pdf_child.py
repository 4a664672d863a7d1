"""Read a PDF's pages with PDFium, in a process of its own: run as `python -P store/pdf_child.py`, the PDF's bytes
on stdin, one JSON object on stdout: {"pages": [text of each page], "title": the PDF's own title (its metadata),
"headline": the largest text on the first page}.

PDFium is native code: a malformed file that crashes or hangs it costs this process, and the file it was reading,
never the indexing or the UI (`store.pdf` starts this and reads its end). Run by path with -P, so that importing
it imports nothing of the store (whose package would load the embedding stack) and no file of the current folder.
"""

from __future__ import annotations

import json
import os
import signal
import sys

HEADLINE_LINES = 3  # a title set in its largest type runs over a few lines at the most


def headline(textpage, raw) -> str:
    """The first lines set in the page's largest type (within 10 %): where a title page has its title."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count)
    if len(text) != count:  # characters outside the basic plane: the font sizes no longer line up
        return ""
    lines: list[tuple[str, float]] = []
    line, size = [], 0.0
    for index, char in enumerate(text + "\n"):
        if char in "\r\n":
            if "".join(line).strip():
                lines.append(("".join(line), size))
            line, size = [], 0.0
            continue
        line.append(char)
        if not char.isspace():
            size = max(size, raw.FPDFText_GetFontSize(textpage.raw, index) if index < count else 0.0)
    if not lines:
        return ""
    largest = max(s for _, s in lines)
    start = next(i for i, (_, s) in enumerate(lines) if s >= 0.9 * largest)
    taken = []
    for words, s in lines[start : start + HEADLINE_LINES]:
        if s < 0.9 * largest:
            break
        taken.append(words)
    return " ".join(" ".join(taken).replace("\x02", "").split())


def main() -> None:
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    fault = os.environ.get("ASSISTANT_PDF_FAULT")  # for the tests: this process dies by that signal, or hangs
    if fault:
        signal.raise_signal(signal.SIGSTOP if fault == "hang" else signal.Signals[fault])

    try:
        document = pdfium.PdfDocument(sys.stdin.buffer.read())
    except pdfium.PdfiumError as exc:  # not a PDF, damaged, or locked with a password: said, not a traceback
        json.dump({"error": str(exc)}, sys.stdout)
        return
    pages, first = [], ""
    for number in range(len(document)):
        page = document[number]
        textpage = page.get_textpage()
        pages.append(textpage.get_text_bounded())
        if number == 0:
            first = headline(textpage, raw)
        textpage.close()
        page.close()
    title = (document.get_metadata_dict().get("Title") or "").strip()
    json.dump({"pages": pages, "title": title, "headline": first}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
