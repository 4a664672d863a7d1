"""Hybrid retrieval finds the passage that answers, each stage can be switched off, and results carry offsets."""

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store import HybridRetriever, LateInteraction, RetrievalOptions, bundled_document, text_document
from store.chunking import Chunk
from store.retriever import reciprocal_rank_fusion

QUESTIONS = [
    ("How many people were killed in the clashes?", "at least 34 dead"),
    ("How far is Yevlax from Baku?", "265 kilometers west of Baku"),
    ("Who mediated the ceasefire agreement?", "Russian peacekeeping contingent"),
    ("When was the Lachin corridor cut?", "In December 2022"),
]


@pytest.fixture
def retriever(index, cross_encoder):
    index.add([bundled_document()])  # the article as one of the user's documents, beside which tests add others
    return HybridRetriever(index=index, cross_encoder=cross_encoder)


@pytest.mark.parametrize(("question", "evidence"), QUESTIONS)
def test_the_answering_passage_comes_first(retriever, question, evidence):
    [best, *_] = retriever.search(question)
    assert evidence in best.text
    assert best.text == bundled_document().text[best.start : best.end]
    assert best.title == bundled_document().title and best.document_id == "nagorno-karabakh-ceasefire"


@pytest.mark.parametrize(
    "options",
    [RetrievalOptions(rerank=False), RetrievalOptions(dense=False), RetrievalOptions(lexical=False),
     RetrievalOptions(dense=False, rerank=False), RetrievalOptions(lexical=False, rerank=False)],
    ids=["no-rerank", "lexical+rerank", "dense+rerank", "lexical-only", "dense-only"],
)
def test_every_stage_can_be_switched_off(retriever, options):
    retriever.options = options
    passages = retriever.search("How many people were killed in the clashes?", k=3)
    assert any("at least 34 dead" in p.text for p in passages)
    assert 1 <= len(passages) <= 3  # BM25 alone returns only chunks that share a term


def test_search_can_be_restricted_to_documents(retriever, index):
    notes = text_document("The clashes in Zorbland killed 12 people and injured 40.", title="Zorbland notes")
    index.add([notes])
    question = "How many people were killed in the clashes?"
    only_notes = retriever.search(question, document_ids=[notes.id])
    assert [p.document_id for p in only_notes] == [notes.id]
    only_article = retriever.search(question, document_ids=["nagorno-karabakh-ceasefire"])
    assert {p.document_id for p in only_article} == {"nagorno-karabakh-ceasefire"}


def test_no_restriction_searches_every_document_and_an_empty_one_none(retriever, index):
    question = "How many people were killed in the clashes?"
    assert retriever.search(question, document_ids=None)  # no restriction: every document
    assert retriever.search(question, document_ids=[]) == []  # restricted to nothing: nothing, in both searches
    assert index.dense_search(question, 5, []) == [] and retriever.lexical_index().search(question, 5, []) == []
    assert index.dense_search(question, 5, None) and retriever.lexical_index().search(question, 5, None)


def test_the_document_a_phrase_names_is_found_by_its_title_then_by_its_words(retriever, index):
    library = text_document("The Riverside library reopened after a renovation that cost $4.2 million.",
                            title="Riverside library reopens")
    harbour = text_document("Fishing boats returned to the harbour as the storm eased.", title="Coast news")
    index.add([library, harbour])
    scope = [library.id, harbour.id, "nagorno-karabakh-ceasefire"]
    assert retriever.document_named("library", scope) == library.id  # its title
    assert retriever.document_named("fishing", scope) == harbour.id  # its words
    assert retriever.document_named("ceasefire", scope) == "nagorno-karabakh-ceasefire"
    assert retriever.document_named("library", [harbour.id]) == harbour.id  # only the documents in scope


def test_new_documents_are_found_by_keywords_right_after_indexing(retriever, index):
    retriever.search("warm up the lexical index")
    index.add([text_document("Quuxville's mayor is Ada Lovelace-Smith.", title="Quuxville")])
    assert retriever.search("Quuxville mayor", k=1)[0].title == "Quuxville"


def test_langchain_interface_returns_documents_with_metadata(retriever):
    [first, *_] = retriever.invoke("When was the Lachin corridor cut?")
    assert "Lachin corridor" in first.page_content
    assert {"document_id", "title", "chunk_id", "start", "end", "score"} <= set(first.metadata)
    assert 0.0 <= first.metadata["score"] <= 1.0


def test_empty_query_finds_nothing(retriever):
    assert retriever.search("   ") == []


def test_reciprocal_rank_fusion_rewards_agreement():
    a, b, c = (Chunk(id=x, document_id="d", start=0, end=1, text=x) for x in "abc")
    fused = reciprocal_rank_fusion([[a, b], [b, c]])
    assert [chunk.id for chunk, _ in fused] == ["b", "a", "c"]


def test_the_bm25_index_is_saved_and_the_next_process_loads_it_instead_of_rebuilding(index, cross_encoder, monkeypatch):
    from store.lexical import LexicalIndex

    index.ensure_demo()
    first = HybridRetriever(index=index, options=RetrievalOptions(rerank=False), cross_encoder=cross_encoder)
    expected = first.search("separatist casualties in the clashes")
    [saved] = list(index.lexical_cache.iterdir())
    assert (saved / "chunks.json").exists()

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the saved BM25 index was rebuilt")

    with monkeypatch.context() as patch:
        patch.setattr(LexicalIndex, "from_pages", no_rebuild)
        again = HybridRetriever(index=index, options=RetrievalOptions(rerank=False), cross_encoder=cross_encoder)
        assert again.search("separatist casualties in the clashes") == expected

    # a change to the documents makes a new one, and the old one goes
    index.add([text_document("Casualty figures were revised by the separatist authorities.", "Revision")])
    assert any(p.title == "Revision" for p in again.search("separatist casualty figures revised"))
    assert [p.name for p in index.lexical_cache.iterdir()] != [saved.name]
    assert len(list(index.lexical_cache.iterdir())) == 1


def test_a_damaged_saved_bm25_index_is_rebuilt(index, cross_encoder):
    index.ensure_demo()
    HybridRetriever(index=index, options=RetrievalOptions(rerank=False), cross_encoder=cross_encoder).search("ceasefire")
    [saved] = list(index.lexical_cache.iterdir())
    (saved / "chunks.json").write_text("{not json", encoding="utf-8")
    fresh = HybridRetriever(index=index, options=RetrievalOptions(rerank=False), cross_encoder=cross_encoder)
    assert fresh.search("ceasefire")
    assert (saved / "chunks.json").read_text(encoding="utf-8").startswith("{\"ids\"")

    # texts cut short (a full disk, a crash while copying): their offsets no longer agree, so it is rebuilt too
    whole = (saved / "texts.bin").read_bytes()
    (saved / "texts.bin").write_bytes(whole[: len(whole) // 2])
    again = HybridRetriever(index=index, options=RetrievalOptions(rerank=False), cross_encoder=cross_encoder)
    [best, *_] = again.search("How many people were killed in the clashes?")
    assert "at least 34 dead" in best.text
    assert (saved / "texts.bin").read_bytes() == whole


@settings(max_examples=50)
@given(st.lists(st.text(), max_size=20))
def test_saved_chunk_texts_read_back_exactly(texts):
    from store.lexical import _MappedTexts

    with tempfile.TemporaryDirectory() as folder:
        blob, offsets = Path(folder) / "texts.bin", Path(folder) / "offsets.npy"
        _MappedTexts.write(texts, blob, offsets)
        mapped = _MappedTexts(blob, offsets)
        assert len(mapped) == len(texts)
        assert [mapped[i] for i in range(len(texts))] == texts


SENTENCES = [
    "Military clashes have left at least 34 dead in that region of the South Caucasus.",
    "The agreement has been reached with the mediation of the command of the Russian peacekeeping contingent.",
    "Azerbaijan's president said the operation would go on until the separatists laid down their weapons.",
]


@pytest.mark.parametrize("question, answer", [
    ("How many people were killed in the clashes?", 0),
    ("Who brokered the ceasefire?", 1),
    ("What did Aliyev demand?", 2),
])
def test_late_interaction_ranks_the_answering_sentence_first(question, answer):
    scores = LateInteraction().score(question, SENTENCES)
    assert max(range(len(SENTENCES)), key=scores.__getitem__) == answer


def test_late_interaction_keeps_a_texts_vectors_and_cuts_a_long_one_to_the_models_length():
    late = LateInteraction(keep=2)
    long = " ".join(SENTENCES * 80)  # about 2,000 tokens
    first = late.encode([SENTENCES[0], long])
    assert first[1].shape == (512, 384) and first[0].shape[0] < 40
    assert np.allclose(np.linalg.norm(first[0].astype(np.float32), axis=1), 1, atol=1e-2)
    again = late.encode([SENTENCES[0]])
    assert again[0] is first[0]  # not encoded twice
    late.encode(SENTENCES[1:])
    assert late.encode([SENTENCES[0]])[0] is not first[0]  # only the last two texts are kept


def test_a_pairs_cross_encoder_score_does_not_depend_on_the_pairs_scored_with_it(cross_encoder):
    question = "Who brokered the ceasefire?"
    together = cross_encoder.score(question, SENTENCES + [" ".join(SENTENCES * 5)])
    assert [cross_encoder.score(question, [s])[0] for s in SENTENCES] == together[:3]
