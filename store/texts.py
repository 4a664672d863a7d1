"""A document's record and its full text, kept in parts beside the chunks: what a rebuild and the document view
read back.

A document's text is kept in parts of TEXT_PART characters, and written at most that many at a time: Chroma needs
~15 times a write's text in memory, so a 50 MB text written whole would cost ~0.75 GB. Parts are keyed by the
text's hash, so a document's earlier text stays readable until its record points at the new one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

from store.documents import Document

TEXT_PART = 1_000_000
WRITING, DONE = "writing", "done"  # a document record's state: its chunks are being written / all written
T = TypeVar("T")

TextVersion = tuple[str | None, int | None]  # a record's text: its key and how many parts hold it


def text_key(document: Document) -> str:
    """What a document's record and its text parts share: which version of the text they hold."""
    return document.sha256[:16]


def part_count(document: Document) -> int:
    return max(1, -(-len(document.text) // TEXT_PART))


def record_metadata(document: Document, state: str, chunks: int = 0) -> dict:
    """A document record's metadata: `writing` (no hash yet, so it never counts as indexed) or `done`, and which
    text parts hold its text."""
    return {"title": document.title, "source": document.source, "sha256": document.sha256 if state == DONE else "",
            "chunks": chunks, "characters": len(document.text), "indexed_at": time.time() if state == DONE else 0.0,
            "state": state, "text_sha": text_key(document), "text_parts": part_count(document),
            "page_starts": json.dumps(document.page_starts) if document.page_starts else ""}


def recorded_text(metadata: dict) -> TextVersion:
    return metadata.get("text_sha"), metadata.get("text_parts")


def _part_id(document_id: str, key: str, number: int) -> str:
    return f"{document_id}@{key}#{number}"


def batched(items: Iterable[T], size: int, characters: Callable[[T], int] | None = None) -> Iterator[list[T]]:
    """Consecutive runs of at most `size` items and, if `characters` is given, of at most TEXT_PART characters
    (an item larger than that alone). Items are taken as needed, so a generator is never held whole."""
    batch: list[T] = []
    held = 0
    for item in items:
        cost = characters(item) if characters else 0
        if batch and (len(batch) == size or held + cost > TEXT_PART):
            yield batch
            batch, held = [], 0
        batch.append(item)
        held += cost
    if batch:
        yield batch


def write_texts(texts, documents: Sequence[Document], max_batch: int) -> None:
    """Write the documents' texts into the `texts` collection, in parts, beside any earlier version."""
    parts = (
        (_part_id(document.id, text_key(document), number), document.text[at : at + TEXT_PART],
         {"doc": document.id, "text_sha": text_key(document), "part": number})
        for document in documents for number, at in enumerate(range(0, max(1, len(document.text)), TEXT_PART))
    )
    for batch in batched(parts, max_batch, lambda part: len(part[1])):
        texts.upsert(ids=[i for i, _, _ in batch], embeddings=np.ones((len(batch), 1), dtype=np.float32),
                     documents=[t for _, t, _ in batch], metadatas=[m for _, _, m in batch])


def drop_texts(texts, versions: dict[str, TextVersion], kept: dict[str, TextVersion], max_batch: int) -> None:
    """Delete the parts of `versions` (document id -> text version) unless `kept` holds the same version. Part ids
    follow from the records, so nothing is read."""
    unused = [_part_id(document_id, key, number) for document_id, (key, count) in versions.items()
              if key and kept.get(document_id, (None, None))[0] != key for number in range(count or 0)]
    for batch in batched(unused, max_batch):
        texts.delete(ids=batch)


def stored_documents(records: dict, parts: dict | None) -> list[Document | None]:
    """The documents of records got from the documents collection (with documents and metadatas), each with its
    text joined from its parts (got from the texts collection); a record written before texts were kept in parts
    holds its own. None for a document whose parts are not all there (another process is replacing them)."""
    keys = {i: m.get("text_sha") for i, m in zip(records["ids"], records["metadatas"], strict=True)}
    found: dict[str, list[tuple[int, str]]] = {}
    for text, meta in zip(parts["documents"], parts["metadatas"], strict=True) if parts else ():
        if keys.get(meta["doc"]) == meta["text_sha"]:
            found.setdefault(meta["doc"], []).append((meta["part"], text))
    documents: list[Document | None] = []
    for i, meta, legacy in zip(records["ids"], records["metadatas"], records["documents"], strict=True):
        pieces = sorted(found.get(i, []))
        if keys[i] and len(pieces) != meta.get("text_parts"):
            documents.append(None)
            continue
        text = "".join(piece for _, piece in pieces) if keys[i] else (legacy or "")
        documents.append(Document(id=i, title=meta["title"], text=text, source=meta["source"],
                                  page_starts=tuple(json.loads(meta.get("page_starts") or "[]"))))
    return documents
