"""What one process derives from the models is kept for the next one, and reads back as exactly what it would
compute: the models derived from the verified files (recast on CPUs whose int8 kernels saturate, with the inner state
the sentence head reads) and documents' ColBERT sentence vectors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from store import StoreSettings
from store.chunking import sentence_spans
from store.documents import bundled_document
from store.encoders import CrossEncoder, LateInteraction
from store.models import MINILM_RERANKER
from store.onnx_int8 import derive, derived, unsaturating
from store.saved_vectors import SavedVectors

SHA = dict(MINILM_RERANKER.files)["model.onnx"]


def test_the_recast_model_is_made_once_and_then_read_back_without_the_onnx_package(tmp_path):
    path = MINILM_RERANKER.path("model.onnx")
    made = derived(path, SHA, tmp_path, recast=True)
    assert made == unsaturating(path)
    [kept] = (tmp_path / "models").glob("*.onnx")
    script = ("import sys; from store.models import MINILM_RERANKER as m; from store.onnx_int8 import derived;"
              f"data = derived(m.path('model.onnx'), {SHA!r}, __import__('pathlib').Path({str(tmp_path)!r}), recast=True);"
              "print(len(data), 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(made)), "False"]  # read back: the second-long onnx import is not paid again
    kept.write_bytes(kept.read_bytes()[:-10] + b"0123456789")  # damaged
    assert derived(path, SHA, tmp_path, recast=True) == made  # made again, and kept again
    assert kept.read_bytes() == made


def test_a_recast_model_that_cannot_be_kept_is_still_made(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    path = MINILM_RERANKER.path("model.onnx")
    assert derived(path, SHA, blocked, recast=True) == unsaturating(path)


def test_a_model_with_an_inner_state_as_output_is_kept_apart_from_the_plain_recast(tmp_path):
    path = MINILM_RERANKER.path("model.onnx")
    state = CrossEncoder().head.state
    with_state = derived(path, SHA, tmp_path, recast=False, outputs=(state,))
    plain = derived(path, SHA, tmp_path, recast=True)
    assert with_state != plain
    assert len(list((tmp_path / "models").glob("*.onnx"))) == 2
    assert derived(path, SHA, tmp_path, recast=False, outputs=(state,)) == with_state  # read back
    assert derive(path, recast=False, outputs=(state,)) == with_state


def test_an_inner_state_the_model_does_not_compute_is_refused_by_name():
    with pytest.raises(ValueError, match="no tensor named 'pooler_out'"):
        derive(MINILM_RERANKER.path("model.onnx"), recast=False, outputs=("pooler_out",))


def _sentences() -> list[str]:
    text = bundled_document().text
    return [text[s:e] for s, e, _ in sentence_spans(text)]


def test_a_documents_sentence_vectors_are_read_back_by_the_next_process_as_they_would_be_computed(tmp_path):
    sentences = _sentences()
    LateInteraction(cache=tmp_path).encode_document(sentences)
    later = LateInteraction(cache=tmp_path)  # another process: nothing in memory
    assert later.recall(sentences)
    fresh = LateInteraction()  # no cache: computes
    question = "How many people were killed in the clashes?"
    assert later.score(question, sentences) == fresh.score(question, sentences)
    assert not later.recall(sentences[:-1])  # another list of sentences: not saved


def test_a_sentences_vectors_do_not_depend_on_the_sentences_encoded_with_it():
    sentences = _sentences()
    together = LateInteraction().encode(sentences)
    alone = [LateInteraction().encode([s])[0] for s in sentences[:3]]
    assert all(np.array_equal(a, b) for a, b in zip(alone, together[:3], strict=True))


def test_damaged_saved_vectors_are_encoded_again_and_the_folder_stays_under_its_limit(tmp_path):
    saved = SavedVectors(tmp_path, dimension=4, limit=5000)
    rows = [np.ones((3, 4), dtype=np.float16), np.ones((2, 4), dtype=np.float16)]
    saved.write(["a", "b"], rows)
    assert [r.shape for r in saved.read(["a", "b"])] == [(3, 4), (2, 4)]
    [file] = tmp_path.glob("*.npz")
    file.write_bytes(b"not numpy")
    assert saved.read(["a", "b"]) is None
    for n in range(30):  # ~500 bytes each
        saved.write([f"text {n}"], [np.zeros((10, 4), dtype=np.float16)])
    assert sum(f.stat().st_size for f in tmp_path.glob("*.npz")) <= 5000
    assert saved.read(["text 29"]) is not None  # the newest stay


def test_the_first_answer_of_a_new_process_is_the_answer_a_warm_one_gives(tmp_path):
    from assistant.service import Assistant
    from assistant.settings import AssistantSettings

    store = StoreSettings(store=tmp_path / "store", cache=tmp_path / "cache")
    settings = AssistantSettings(engine="extractive", conversations=tmp_path / "conversations.sqlite")
    warm = Assistant(store, settings)
    warm.prepare()  # as the UI does once it is up; saves the sentence vectors
    question = "How many people were killed in the clashes?"
    _, first = warm.ask(question)
    _, again = warm.ask(question)
    cold = Assistant(store, settings)  # nothing in memory: reads back what the warm one saved
    _, new = cold.ask(question)
    assert "34 dead" in first.answer
    assert new.answer == again.answer == first.answer
    assert [(c.start, c.end) for c in new.citations] == [(c.start, c.end) for c in first.citations]
    assert [p.score for p in new.sources] == [p.score for p in first.sources]
