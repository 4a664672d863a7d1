"""Whose documents are read: the bundled article while the user has indexed nothing, then the user's only."""

from __future__ import annotations

import pytest

from store import Index, bundled_document, text_document
from store.clients import make_client
from store.collections import build_signature, open_set
from store.documents import BUNDLED_ID
from store.writes import Writer

NOTES = text_document("The lighthouse keeper logged 41 ships in March. Storms closed the harbour for a week.",
                      title="Lighthouse notes")


def _titles(index: Index) -> list[str]:
    return [d.title for d in index.documents()]


def test_the_bundled_article_is_read_until_the_user_adds_a_document_and_again_once_they_are_all_removed(
        settings, embeddings):
    index = Index(settings, embeddings)
    index.ensure_demo()
    assert index.demo and _titles(index) == [bundled_document().title]
    assert index.dense_search("How many people were killed?", 1)[0][0].document_id == BUNDLED_ID

    index.add([NOTES])
    assert not index.demo and _titles(index) == ["Lighthouse notes"]
    assert {chunk.document_id for chunk, _ in index.dense_search("How many people were killed?", 5)} == {NOTES.id}
    assert {c.document_id for c in index.all_chunks()} == {NOTES.id}
    assert index.document(BUNDLED_ID) is not None  # still readable, for a conversation that cited it

    assert index.remove(NOTES.id)
    assert index.demo and _titles(index) == [bundled_document().title]


def test_the_bundled_article_removed_stays_removed(settings, embeddings):
    index = Index(settings, embeddings)
    index.ensure_demo()
    assert index.remove(BUNDLED_ID)
    again = Index(settings, embeddings)
    again.ensure_demo()  # every start asks for it; only the first one writes it
    assert _titles(again) == [] and not again.demo and again.chunk_count() == 0


def test_a_store_an_earlier_release_made_gets_the_bundled_article_out_of_the_users_corpus(settings, embeddings):
    # the layout before corpora had pointers: the bundled article written into the user's own collections
    client = make_client(settings)
    earlier = open_set(client, settings.collection, build_signature(embeddings, settings), settings.location)
    Writer(earlier, embeddings, settings.chunk_size, settings.chunk_overlap, client.get_max_batch_size()).add(
        [bundled_document(), NOTES])
    index = Index(settings, embeddings)
    assert sorted(_titles(index)) == sorted([bundled_document().title, "Lighthouse notes"])
    index.ensure_demo()
    assert _titles(index) == ["Lighthouse notes"] and not index.demo
    assert index.remove(NOTES.id)
    assert index.demo  # the article is still there for a user who removes their last document


def test_the_bundled_article_indexed_by_the_user_is_the_users(settings, embeddings):
    index = Index(settings, embeddings)
    index.ensure_demo()
    index.add([bundled_document(), NOTES])
    Index(settings, embeddings).ensure_demo()
    assert sorted(_titles(index)) == sorted([bundled_document().title, "Lighthouse notes"]) and not index.demo


def test_chromadb_still_keeps_the_private_state_a_failed_open_is_dropped_from(tmp_path, embeddings):
    """store.clients.forget_failed_open is the one use of chromadb's private state: a store that failed to open
    must open once repaired, in the same process. This fails on the chromadb upgrade that changes it."""
    from chromadb.api.shared_system_client import SharedSystemClient

    from store import StoreError, StoreSettings

    assert isinstance(SharedSystemClient._identifier_to_system, dict)
    assert isinstance(SharedSystemClient._identifier_to_refcount, dict)
    assert hasattr(SharedSystemClient._refcount_lock, "__enter__")
    folder = tmp_path / "store"
    folder.mkdir()
    (folder / "chroma.sqlite3").write_bytes(b"\xde\xad\xbe\xef" * 1024)
    with pytest.raises(StoreError, match="cannot open the index"):
        Index(StoreSettings(store=folder), embeddings)
    (folder / "chroma.sqlite3").unlink()
    assert Index(StoreSettings(store=folder), embeddings).chunk_count() == 0
