"""PDFs as users bring them, built for real with fpdf2 (running headers and page numbers, a word hyphenated at a
line end, a sentence over a page break, two columns, a table) and read as the product reads them: clean text a
viewer's search finds, the page of every quote, the document's own title; a PDF that crashes or hangs the reader
costs that file only."""

from __future__ import annotations

import json

import pytest
from fpdf import FPDF
from hypothesis import given
from hypothesis import strategies as st

from store import load_file
from store.chunking import sentence_spans
from store.pdf import clean_pages, pdf_title
from tests.test_script import run_assistant

BOARDING = "The boarding point lies two nautical miles west of the breakwater"
NIGHT = ("Night crews were cut from three pilots to two, which the union says leaves the port without cover when two "
         "ships arrive at once during the night shift.")


class Handbook(FPDF):
    """A manual's pages: a running header and the page number in the footer, as LaTeX and Word set them."""

    def header(self):
        self.set_font("Helvetica", "", 9)
        self.cell(0, 8, "Harbour pilots handbook - edition 2024", align="C")
        self.ln(12)

    def footer(self):
        self.set_y(-15)
        self.set_font("Helvetica", "", 9)
        self.cell(0, 10, str(self.page_no()), align="C")


def lines(pdf: FPDF, *texts: str) -> None:
    for text in texts:
        pdf.cell(0, 6, text)
        pdf.ln(6)


def handbook(path, title: str = "Harbour pilots handbook"):
    pdf = Handbook(format="A4")
    pdf.set_title(title)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 12, "Harbour pilots handbook")
    pdf.ln(16)
    pdf.set_font("Helvetica", "", 11)
    lines(pdf, "Pilots board every ship longer than eighty metres before it enters the inner",
          "harbour. The boarding point lies two nautical miles west of the break-",
          "water, and the pilot boat waits there from dawn to dusk.")
    pdf.ln(150)
    lines(pdf, "Night crews were cut from three pilots to two, which the union says leaves the")
    pdf.add_page()
    lines(pdf, "port without cover when two ships arrive at once during the night shift.")
    pdf.ln(4)
    columns = pdf.text_columns(ncols=2, gutter=8)
    with columns:
        columns.write("Tide tables are printed each spring by the harbour office and list high water for every day "
                      "of the year, with the heights in metres above chart datum.")
        columns.new_column()
        columns.write("Anchorage fees are paid at the quay office before a ship leaves the harbour, in cash or by "
                      "transfer to the port authority.")
    pdf.ln(40)
    with pdf.table(col_widths=(40, 30, 30)) as table:
        for row in (("Ship class", "Length", "Fee"), ("Coaster", "80 m", "120 EUR"), ("Tanker", "250 m", "900 EUR")):
            cells = table.row()
            for cell in row:
                cells.cell(cell)
    pdf.add_page()
    lines(pdf, "Fees are set each year by the harbour master.")
    pdf.output(str(path))
    return path


def test_a_pdf_is_read_as_clean_paragraphs_with_its_pages(tmp_path):
    document = load_file(handbook(tmp_path / "handbook.pdf"))
    text = document.text
    assert document.title == "Harbour pilots handbook"
    assert "edition 2024" not in text  # the running header, on every page
    assert "\n3\n" not in f"\n{text}\n" and not text.rstrip().endswith("3")  # the page numbers
    assert f"{BOARDING}, and the pilot boat waits there from dawn to dusk." in text  # "break-" + "water" joined
    assert "\nwater" not in text and "break-" not in text
    night = text.index(NIGHT)  # one sentence over the page break, found whole by the sentence splitter
    assert (night, night + len(NIGHT)) in [(s, e) for s, e, _ in sentence_spans(text)]
    assert document.pages(night, night + len(NIGHT)) == [1, 2]
    boarding = text.index(BOARDING)
    assert document.pages(boarding, boarding + len(BOARDING)) == [1]
    tides, fees = text.index("Tide tables are printed"), text.index("Anchorage fees are paid")
    assert tides < fees and "metres above chart datum." in text[tides:fees]  # the columns are not interleaved
    assert "Coaster 80 m 120 EUR" in text and "Tanker 250 m 900 EUR" in text  # a table row stays a row
    last = text.index("Fees are set each year")
    assert document.pages(last, last + 10) == [3] and len(document.page_starts) == 3


def test_a_file_name_in_the_metadata_is_no_title(tmp_path):
    document = load_file(handbook(tmp_path / "handbook.pdf", title="handbook.dvi"))
    assert document.title == "Harbour pilots handbook"  # the title page's largest type
    assert pdf_title("Microsoft Word - notes.docx", "") is None and pdf_title("", "") is None


def test_the_cleaning_spells_out_ligatures_and_drops_leaders_controls_and_running_heads():
    words = "harbours pilots tides ships fees cranes quays ferries".split()
    body = [f"Line {i} of this page says something about {words[i]}, and about {{}} too, in full sentences"
            for i in range(8)]
    pages = ["\r\n".join([f"{n} INTRODUCTION {n + 4}", *(line.format(words[n]) for line in body[:4]),
                           f"The eﬀect of the speciﬁc \x00setting on page {n} is shown\x07 in the table.",
                           "1.2 Options . . . . . . . . . . 7", *(line.format(words[n]) for line in body[4:]), str(n + 4)])
             for n in range(1, 6)]
    text, starts = clean_pages(pages)
    assert "effect of the specific setting on page 2 is shown in the table." in text
    assert "1.2 Options 7" in text and ". . ." not in text
    assert "INTRODUCTION" not in text and "\x00" not in text and "\x07" not in text
    assert all(text[s:].startswith("Line 0 of this page") for s in starts)  # no running head, no page number
    assert "in full sentences 5" not in text


@given(st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300),
                min_size=1, max_size=6))
def test_page_starts_always_index_the_cleaned_text_in_order(pages):
    text, starts = clean_pages(pages)
    assert len(starts) == len(pages)
    assert list(starts) == sorted(starts) and all(0 <= s <= len(text) for s in starts)
    assert "\x02" not in text


def test_a_pdf_the_reader_crashes_or_hangs_on_costs_that_file_only(tmp_path, monkeypatch):
    """PDFium runs in a child: a native crash (a real SIGSEGV there) is one sentence naming the file, and the
    folder's other files are indexed."""
    folder = tmp_path / "docs"
    folder.mkdir()
    handbook(folder / "handbook.pdf")
    (folder / "notes.txt").write_text("The ferry to Ormsund leaves at seven.")
    done = run_assistant("index", str(folder), store=tmp_path / "s", env_extra={"ASSISTANT_PDF_FAULT": "SIGSEGV"})
    assert done.returncode == 1
    said = " ".join(done.stderr.split())
    assert f"{folder / 'handbook.pdf'}: is not a readable PDF (the PDF reader crashed on it (signal SIGSEGV" in said
    assert "Traceback" not in said
    assert [d["title"] for d in json.loads(run_assistant("docs", "--json", store=tmp_path / "s").stdout)] == ["notes"]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdf")
    store = folder / "store"
    done = run_assistant("index", str(handbook(folder / "handbook.pdf")), store=store)
    assert done.returncode == 0, done.stderr
    return store


def test_an_answer_from_a_pdf_names_its_page(indexed):
    done = run_assistant("ask", "Where is the boarding point?", store=indexed)
    assert done.returncode == 0, done.stderr
    assert "two nautical miles west of the breakwater" in done.stdout
    assert "— Harbour pilots handbook, page 1, characters" in done.stdout
    turn = json.loads(run_assistant("ask", "Where is the boarding point?", "--json", store=indexed).stdout)
    [citation] = [c for c in turn["citations"] if c["verified"]]
    assert citation["page"] == 1 and citation["pages"] == [1]
    assert all(s["page"] for s in turn["sources"])


def test_a_sentence_over_a_page_break_is_cited_with_both_pages(indexed, tmp_path):
    turn = json.loads(run_assistant("ask", "How many pilots are on a night crew now?", "--json", store=indexed).stdout)
    [citation] = [c for c in turn["citations"] if c["verified"]]
    assert citation["text"] == NIGHT and citation["pages"] == [1, 2]
    script = tmp_path / "pages.yaml"
    script.write_text("conversations:\n  - turns:\n      - ask: Where is the boarding point?\n"
                      "        expect: {page: 1}\n      - ask: Who sets the fees?\n        expect: {page: 3}\n")
    done = run_assistant("script", str(script), "--indexed", "--json", store=indexed)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [json.loads(line)["checks"]["page"] for line in done.stdout.splitlines()] == [True, True]


async def test_the_ui_names_the_page_in_the_sources_the_document_view_and_the_transcript(embeddings, cross_encoder,
                                                                                          tmp_path):
    from assistant.service import Assistant, AssistantSettings
    from assistant.transcript import transcript_markdown
    from pilot import ask, wait_for
    from store import Index, StoreSettings
    from tui.app import AssistantApp
    from tui.screens import DocumentScreen

    pdf = handbook(tmp_path / "handbook.pdf")
    settings = StoreSettings(store=tmp_path / "store")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite"),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    app = AssistantApp(load, paths=[pdf])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        view = await ask(pilot, "How many pilots are on a night crew now?")
        assert view.turn.citations[0].pages == [1, 2]
        shown = [card.render().plain for card in app.sources.cards]
        assert any("pages 1–2, characters" in text and "three pilots to two" in text for text in shown), shown
        await pilot.press("f2", "ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, DocumentScreen))
        await pilot.pause()
        label = " ".join(str(label.render()) for label in app.screen.query("Label"))
        assert "Harbour pilots handbook" in label and "pages 1–2, characters" in label
    assert "— Harbour pilots handbook, pages 1–2, characters" in transcript_markdown("c", [view.turn])
