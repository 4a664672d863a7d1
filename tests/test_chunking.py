"""Chunks are exact spans of the document, cut along sentences and paragraphs."""

from hypothesis import given, settings
from hypothesis import strategies as st

from store import Document, bundled_document, chunk_document
from store.chunking import sentence_spans

PIECES = st.lists(
    st.one_of(
        st.text(min_size=1, max_size=120),
        st.sampled_from([". ", "! ", "? ", "\n\n", "\r\n\r\n", "\r\n", "  ", "é", "日本語。", "🙂", "Mr. ", "“Quote.” "]),
    ),
    max_size=60,
)



@settings(max_examples=300, deadline=None)
@given(pieces=PIECES, size=st.integers(min_value=20, max_value=600), overlap_ratio=st.floats(0, 0.9))
def test_every_chunk_is_an_exact_span_of_the_text(pieces, size, overlap_ratio):
    text = "".join(pieces)
    overlap = int(size * overlap_ratio)
    document = Document(id="d", title="t", text=text)
    chunks = chunk_document(document, size=size, overlap=overlap)
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert 0 < chunk.end - chunk.start <= size
        assert chunk.text.strip() == chunk.text
    starts = [c.start for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace()), "some text is in no chunk"
    assert len({c.id for c in chunks}) == len(chunks)


def test_sentences_are_not_cut_when_they_fit():
    document = bundled_document()
    sentences = {(s, e) for s, e, _ in sentence_spans(document.text) if e - s <= 500}
    for chunk in chunk_document(document, size=500, overlap=100):
        inside = [(s, e) for s, e in sentences if chunk.start < e and s < chunk.end]
        for s, e in inside:
            assert chunk.start <= s and e <= chunk.end, f"sentence {document.text[s:e]!r} is cut"


def test_crlf_and_unicode_text_keeps_offsets():
    text = "Première phrase.\r\nDeuxième — «citée»!\r\n\r\n日本語の文です。 Third one? Yes.\r\n"
    document = Document(id="d", title="t", text=text)
    chunks = chunk_document(document, size=30, overlap=10)
    assert [c.text for c in chunks] and all(c.text == text[c.start : c.end] for c in chunks)


def test_consecutive_chunks_overlap_by_whole_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    chunks = chunk_document(Document(id="d", title="t", text=text), size=200, overlap=60)
    for before, after in zip(chunks, chunks[1:]):
        assert after.start < before.end, "no overlap"
        assert text[after.start : after.start + 8] == "Sentence"


def test_a_paragraph_that_does_not_fit_starts_a_new_chunk():
    first = "Alpha one. " * 20  # ~220 characters
    second = "Beta two is longer. " * 16  # ~320 characters
    text = first.strip() + "\n\n" + second.strip()
    chunks = chunk_document(Document(id="d", title="t", text=text), size=400, overlap=0)
    assert chunks[0].text == first.strip()
    assert chunks[1].text.startswith("Beta two")


def test_a_sentence_longer_than_a_chunk_is_cut_at_spaces():
    text = "word " * 300 + "end."
    chunks = chunk_document(Document(id="d", title="t", text=text), size=100, overlap=0)
    assert len(chunks) > 10
    assert all(len(c.text) <= 100 and not c.text.startswith("ord") for c in chunks)


def test_chunk_ids_change_with_content_and_stay_stable_otherwise():
    document = bundled_document()
    assert [c.id for c in chunk_document(document)] == [c.id for c in chunk_document(document)]
    edited = Document(id=document.id, title=document.title, text=document.text.replace("34 dead", "35 dead"))
    changed = {c.id for c in chunk_document(edited)} - {c.id for c in chunk_document(document)}
    assert len(changed) >= 1
