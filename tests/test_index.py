"""The Chroma index, embedded and on a real server: idempotent, replacing, guarded against mixed models."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from store import (Document, Index, OnnxEmbeddings, StoreError, StoreMismatch, StoreSettings, bundled_document, rebuild,
                   text_document)
from store.chunking import chunk_document
from store.models import BGE_SMALL_EN


def _chunk_ids(index: Index, document_id: str) -> set[str]:
    return {c.id for c in index.all_chunks() if c.document_id == document_id}


def test_indexing_the_bundled_article(index):
    index.ensure_demo()
    [info] = index.documents()
    assert info.id == "nagorno-karabakh-ceasefire" and info.chunks == index.chunk_count() > 5
    stored = index.document(info.id)
    assert stored.text == bundled_document().text
    for chunk in index.all_chunks():
        assert chunk.text == stored.text[chunk.start : chunk.end]


def test_reindexing_an_unchanged_document_adds_nothing(index):
    first = index.add([bundled_document()])
    before = _chunk_ids(index, "nagorno-karabakh-ceasefire")
    again = index.add([bundled_document()])
    assert first.added == ["nagorno-karabakh-ceasefire"] and first.chunks_embedded == len(before)
    assert again.unchanged == ["nagorno-karabakh-ceasefire"] and again.chunks_embedded == 0
    assert _chunk_ids(index, "nagorno-karabakh-ceasefire") == before


def test_a_changed_document_replaces_its_chunks_without_stale_ones(index):
    original = bundled_document()
    index.add([original])
    edited = Document(id=original.id, title=original.title, text=original.text.replace("at least 34 dead", "at least 40 dead"))
    report = index.add([edited])
    assert report.updated == [original.id] and report.chunks_removed >= 1
    chunks = [c for c in index.all_chunks() if c.document_id == original.id]
    assert any("at least 40 dead" in c.text for c in chunks)
    assert not any("at least 34 dead" in c.text for c in chunks)
    assert index.documents()[0].chunks == len(chunks) == index.chunk_count()
    assert index.document(original.id).text == edited.text


def test_a_document_that_fails_to_store_leaves_no_chunks(index):
    index.add([bundled_document()])
    before = index.chunk_count()
    doomed = text_document("The harbour opened in May. Ships arrived daily. " * 40, title="Harbour")

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    index.corpus.documents.upsert = fail  # the last write of a document fails, after its chunks went in
    with pytest.raises(RuntimeError):
        index.add([doomed])
    assert index.chunk_count() == before
    assert not _chunk_ids(index, doomed.id)


def test_a_long_text_is_kept_in_parts_read_back_exactly_and_its_old_parts_go(index, monkeypatch):
    monkeypatch.setattr("store.texts.TEXT_PART", 1000)  # parts of 1,000 characters, so the article takes several
    original = bundled_document()
    notes = text_document("Zorbland's capital is Quux. " * 10, title="Notes")
    index.add([original, notes])
    parts = -(-len(original.text) // 1000) + 1
    assert index.document(original.id).text == original.text and index.corpus.texts.count() == parts

    edited = Document(id=original.id, title=original.title, text=original.text[:2500] + " The talks resumed.")
    index.add([edited])
    assert index.document(original.id).text == edited.text
    assert index.corpus.texts.count() == 3 + 1  # the earlier text's parts are gone

    index.corpus.texts.delete(ids=[index.corpus.texts.get(where={"doc": original.id}, limit=1)["ids"][0]])  # damage it
    with pytest.raises(StoreError, match=r"incomplete .* index its file again"):
        index.document(original.id)

    index.remove(original.id)
    assert index.corpus.texts.count() == 1 and index.document(notes.id).text == notes.text


def test_a_store_from_before_texts_were_kept_in_parts_still_reads_updates_and_rebuilds(settings, embeddings):
    index = Index(settings, embeddings)
    original = bundled_document()
    index.add([original])
    # the record as the previous release wrote it: the text in the record itself, and no parts
    vector = index.corpus.documents.get(ids=[original.id], include=["embeddings"])["embeddings"]
    index.corpus.documents.update(ids=[original.id], embeddings=vector, documents=[original.text],
                            metadatas=[{"text_sha": None, "text_parts": None}])
    index.corpus.texts.delete(where={"doc": original.id})
    assert index.document(original.id).text == original.text

    def fail(*args, **kwargs):
        raise RuntimeError("disk full")

    edited = Document(id=original.id, title=original.title, text=original.text.replace("34 dead", "40 dead"))
    upsert, index.corpus.chunks.upsert = index.corpus.chunks.upsert, fail
    with pytest.raises(RuntimeError):
        index.add([edited])
    assert index.document(original.id).text == original.text  # a failed update leaves the old record as it was
    index.corpus.chunks.upsert = upsert
    index.add([edited])
    assert index.document(original.id).text == edited.text

    resized = settings.model_copy(update={"chunk_size": 300, "chunk_overlap": 50})
    rebuild(resized, embeddings)
    assert Index(resized, embeddings).document(original.id).text == edited.text


def test_a_50_mb_file_indexes_in_bounded_memory(tmp_path):
    # benchmarks/bigfile.py with a stand-in embedder (the real model would take an hour) and large chunks (so
    # Chroma writes 6,500 chunks rather than 130,000): what is left is loading, chunking and writing the text
    script = Path(__file__).parents[1] / "benchmarks" / "bigfile.py"
    run = subprocess.run([sys.executable, str(script), "--megabytes", "50", "--chunk-size", "8000", "--json",
                          "--file", str(tmp_path / "big.txt")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    figures = json.loads(run.stdout)
    assert figures["megabytes"] >= 50 and figures["text_read_back"] is True
    assert figures["progress"] == [figures["chunks"], figures["chunks"]] and figures["chunks"] > 6000
    # holding the text, its chunk spans and one slice of chunks; writing the text whole took ~800 MB more
    assert figures["peak_mb"] - figures["peak_after_load_mb"] < 250, figures


def test_removing_a_document_removes_its_chunks(index):
    notes = text_document("Zorbland's capital is Quux.", title="Notes")
    index.add([bundled_document(), notes])
    assert index.remove(notes.id) is True
    assert [d.id for d in index.documents()] == ["nagorno-karabakh-ceasefire"]
    assert not _chunk_ids(index, notes.id)
    assert index.remove(notes.id) is False


def test_another_model_is_refused_with_the_way_to_rebuild(settings, embeddings):
    Index(settings, embeddings).ensure_demo()
    other = OnnxEmbeddings(BGE_SMALL_EN.__class__(**{**BGE_SMALL_EN.__dict__, "name": "some-other-model"}))
    with pytest.raises(StoreMismatch) as caught:
        Index(settings, other)
    assert "some-other-model" in str(caught.value) and "assistant index --rebuild" in str(caught.value)


def test_other_chunking_is_refused_and_rebuild_reembeds_every_document(settings, embeddings):
    notes = text_document("Zorbland's capital is Quux. " * 30, title="Notes")
    Index(settings, embeddings).add([bundled_document(), notes])
    resized = settings.model_copy(update={"chunk_size": 300, "chunk_overlap": 50})
    with pytest.raises(StoreMismatch, match="chunk_size=300"):
        Index(resized, embeddings)
    report = rebuild(resized, embeddings)
    assert sorted(report.added) == sorted(["nagorno-karabakh-ceasefire", notes.id])
    index = Index(resized, embeddings)
    assert index.document(notes.id).text == notes.text
    assert all(len(c.text) <= 300 for c in index.all_chunks())


def test_collections_never_use_chromas_default_embedding_function(index):
    index.ensure_demo()
    for collection in (index.corpus.chunks, index.corpus.documents, index.corpus.texts):
        assert collection._embedding_function is None
        with pytest.raises(Exception):
            collection.query(query_texts=["anything"], n_results=1)  # would need a downloaded model


def test_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_STORE", str(tmp_path / "elsewhere"))
    assert StoreSettings().store == tmp_path / "elsewhere"
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", "http://127.0.0.1:9")
    assert StoreSettings().location == "http://127.0.0.1:9"
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", "localhost")
    with pytest.raises(ValueError, match="http://HOST:PORT"):
        StoreSettings()


def test_reindexing_a_folder_embeds_only_new_and_changed_files_and_drops_vanished_ones(index, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in {"a.txt": "Alpha rose. " * 40, "b.txt": "Bravo fell. " * 40, "c.md": "# Charlie\n\nCharlie stayed."}.items():
        (folder / name).write_text(text, encoding="utf-8")
    documents, first, failures = index.add_paths([folder])
    assert not failures and len(first.added) == 3
    ids = {Path(d.source).name: d.id for d in documents}

    (folder / "b.txt").write_text("Bravo fell, then rose again. " * 30, encoding="utf-8")  # changed
    (folder / "c.md").unlink()                                                              # gone
    (folder / "d.txt").write_text("Delta arrived late.", encoding="utf-8")                 # new
    documents, second, failures = index.add_paths([folder])

    assert not failures
    assert second.unchanged == [ids["a.txt"]]
    assert second.updated == [ids["b.txt"]]
    assert second.removed == [ids["c.md"]]
    assert len(second.added) == 1
    changed = [d for d in documents if Path(d.source).name in ("b.txt", "d.txt")]
    assert second.chunks_embedded == sum(len(chunk_document(d)) for d in changed)  # a.txt cost nothing
    assert sorted(Path(d.source).name for d in index.documents()) == ["a.txt", "b.txt", "d.txt"]
    assert {c.document_id for c in index.all_chunks()} == {d.id for d in index.documents()}


def test_a_file_given_and_inside_a_folder_given_is_indexed_once(index, tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.md").write_text("# Alpha\n\nThe alpha boat sails at dawn.", encoding="utf-8")
    documents, report, failures = index.add_paths([folder, folder / "a.md"])  # (was: "cannot write to the index")
    assert not failures and len(documents) == 1 and len(report.added) == 1
    assert index.chunk_count() == len(chunk_document(documents[0]))


def test_a_path_given_from_the_home_folder_is_indexed(index, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "notes.txt").write_text("Echo returned home on Friday.", encoding="utf-8")
    documents, report, failures = index.add_paths(["~/notes.txt"])  # as typed in the UI: no shell to expand it
    assert not failures and len(report.added) == 1
    assert documents[0].source == str((tmp_path / "notes.txt").resolve())
