"""`assistant index --rebuild`: every stored document re-embedded with the current model and chunking, into new
collections beside the old ones; the corpus switches over only when they are complete, so a kill at any point
leaves every document where it was."""

from __future__ import annotations

import os
import time
from pathlib import Path

from store.clients import forget_client, make_client, writing
from store.collections import (build_signature, delete_set, demo_corpus, new_set_name, pointed_set, read_documents,
                               unused_sets)
from store.config import StoreSettings
from store.encoders import OnnxEmbeddings
from store.errors import StoreError, cause, explain, is_store_failure, store_errors
from store.texts import stored_documents
from store.writes import IndexReport, Writer, write_set


def rebuild(settings: StoreSettings, embeddings: OnnxEmbeddings | None = None, progress=None) -> IndexReport:
    """Re-embed the user's corpus and the demo's from the text kept in the index. An embedded store that cannot be
    opened is moved aside (kept) and a new one started."""
    with writing(settings):
        client, moved = _open_or_move_aside(settings)
        embeddings = embeddings or OnnxEmbeddings(cache=settings.cache)
        signature = build_signature(embeddings, settings)
        report = IndexReport(moved_aside=str(moved) if moved else None)
        with store_errors(settings, "write to"):
            for corpus in (settings.collection, demo_corpus(settings.collection)):
                _rebuild_corpus(client, corpus, settings, embeddings, signature, progress, report)
        return report


def _rebuild_corpus(client, corpus: str, settings: StoreSettings, embeddings: OnnxEmbeddings, signature: dict,
                    progress, report: IndexReport) -> None:
    for unused in unused_sets(client, corpus):  # what a rebuild a kill cut short left behind
        delete_set(client, unused)
    old = pointed_set(client, corpus)
    if old is None and corpus != settings.collection:
        return  # never made (the next start makes it)
    old = old or corpus
    records, parts = read_documents(client, old)
    kept = [d for d in stored_documents(records, parts) if d is not None] if records else []  # a text with parts missing is lost
    _, written = write_set(client, corpus, new_set_name(corpus), kept,
                           lambda target: Writer(target, embeddings, settings.chunk_size, settings.chunk_overlap,
                                                 client.get_max_batch_size()),
                           signature, settings.location, progress)
    delete_set(client, old)
    report.added += written.added
    report.chunks_embedded += written.chunks_embedded


def _open_or_move_aside(settings: StoreSettings):
    try:
        return make_client(settings), None
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        if cause(exc, settings) != "damaged":
            raise StoreError(explain(exc, settings, "open")) from exc
        moved = _move_aside(settings.store)
        return make_client(settings), moved


def _move_aside(folder: Path) -> Path:
    """Rename an unreadable embedded store out of the way (kept, not deleted), forgetting its open client."""
    forget_client(folder)
    target = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(folder, target)
    return target
