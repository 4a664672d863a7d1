"""Model files are checked against recorded sha256 values; nothing is fetched."""

import dataclasses
import socket

import numpy as np
import pytest

from assistant.language import EN_CORE_WEB_SM, pipeline
from store import ModelError, OnnxEmbeddings
from store.models import BGE_SMALL_EN, COLBERT_SMALL, MINILM_RERANKER, verified_dir
from store.sentence_head import SentenceHead


def test_the_bundled_models_verify():
    for spec in (BGE_SMALL_EN, MINILM_RERANKER, COLBERT_SMALL):
        assert (verified_dir(spec) / "model.onnx").is_file()
    assert (verified_dir(EN_CORE_WEB_SM) / "meta.json").is_file()


def test_the_linguistics_pipeline_is_the_pinned_one_and_every_file_of_it_is_checked():
    folder = verified_dir(EN_CORE_WEB_SM)
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    checked = {name for name, _ in EN_CORE_WEB_SM.files}
    assert on_disk - checked <= {"README.md", "LICENSE", "LICENSES_SOURCES", "accuracy.json"}  # no code or weights unchecked
    assert pipeline().meta["version"] == "3.8.0"
    tampered = dataclasses.replace(EN_CORE_WEB_SM, files=(("ner/model", "0" * 64),))
    with pytest.raises(ModelError, match="does not match its recorded sha256"):
        verified_dir(tampered)


def test_a_file_with_another_hash_is_refused():
    tampered = dataclasses.replace(BGE_SMALL_EN, files=(("tokenizer.json", "0" * 64),))
    with pytest.raises(ModelError, match="does not match its recorded sha256"):
        verified_dir(tampered)


def test_a_missing_package_is_refused_with_the_install_command():
    missing = dataclasses.replace(BGE_SMALL_EN, distribution="no-such-package-xyz")
    with pytest.raises(ModelError, match="pip install"):
        verified_dir(missing)


def test_embeddings_are_unit_vectors_that_rank_by_meaning(embeddings):
    vectors = embeddings.embed(["The cat sat on the mat.", "A kitten rested on the rug.", "Stock markets fell."])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    query = np.array(embeddings.embed_query("Where did the cat sit?"))
    assert query @ vectors[0] > query @ vectors[2]


def test_batching_barely_changes_the_vectors(embeddings):
    # The int8 model quantizes activations per batch, so batch-mates move a vector slightly; queries run alone.
    texts = [f"Sentence {i} " + "word " * (i % 17) for i in range(70)]
    together = embeddings.embed(texts)
    alone = np.stack([embeddings.embed([t])[0] for t in texts[:5]])
    assert ((together[:5] * alone).sum(axis=1) > 0.98).all()
    assert np.array_equal(alone[0], embeddings.embed([texts[0]])[0])


def test_the_cross_encoder_prefers_the_answer(cross_encoder):
    scores = cross_encoder.score("How many people died?", ["At least 34 people died.", "The weather was sunny."])
    assert scores[0] > 0 > scores[1]


def test_the_sentence_head_scores_beside_the_cross_encoders_logit(cross_encoder):
    question = "How many people died?"
    sentences = ["At least 34 people died.", "The weather was sunny.", "People died in the attack, officials said."]
    scored = cross_encoder.score_sentences(question, sentences)
    assert [logit for logit, _ in scored] == cross_encoder.score(question, sentences)
    heads = [head for _, head in scored]
    assert heads[0] == max(heads)  # the sentence with the count
    assert heads != [logit for logit, _ in scored]


def test_a_sentence_head_fitted_on_another_model_is_refused():
    other = dataclasses.replace(MINILM_RERANKER, files=(("model.onnx", "0" * 64), *MINILM_RERANKER.files[1:]))
    with pytest.raises(ModelError, match="fitted on another model.*train_head.py"):
        SentenceHead.shipped(other)


def test_non_loopback_network_is_blocked_in_tests():
    with pytest.raises(Exception):
        socket.create_connection(("93.184.216.34", 80), timeout=2)


def test_a_fresh_embeddings_object_loads_without_network():
    assert OnnxEmbeddings().embed(["offline"]).shape == (1, 384)
