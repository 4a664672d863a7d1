"""Writing documents into a collection set: embedded a bounded group at a time, undone if a write fails, and
finished by the next write if the process is killed."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel

from store.chunking import Chunk, chunk_spans, make_chunk
from store.collections import CollectionSet, open_set, point_at
from store.documents import Document
from store.encoders import OnnxEmbeddings
from store.texts import (DONE, WRITING, TextVersion, batched, drop_texts, part_count, record_metadata, recorded_text,
                         stored_documents, text_key, write_texts)

GROUP_CHUNKS = 1024  # chunks embedded together: large enough for full batches, small enough to bound memory


class IndexReport(BaseModel):
    """What one write (`Index.add`, `add_paths` or a rebuild) changed."""

    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    removed: list[str] = []  # add_paths: documents whose files left a re-indexed folder
    chunks_embedded: int = 0
    chunks_removed: int = 0
    moved_aside: str | None = None  # rebuild: where an unreadable store was moved


@dataclass
class _Planned:
    """A document to write and its chunks as spans (the chunks themselves are made a slice at a time)."""

    document: Document
    spans: list[tuple[int, int]]


@dataclass
class _GroupWrite:
    """What a group write has done so far, to undo it or to report it."""

    previous: dict  # the group's records before (metadata only)
    old_chunks: set[str]
    new_chunks: set[str] = field(default_factory=set)
    added_chunks: list[str] = field(default_factory=list)
    stale_chunks: list[str] = field(default_factory=list)


class Writer:
    """Adds and removes documents in one collection set."""

    def __init__(self, target: CollectionSet, embeddings: OnnxEmbeddings, chunk_size: int, chunk_overlap: int,
                 max_batch: int):
        self.target, self.embeddings = target, embeddings
        self.chunk_size, self.chunk_overlap, self.max_batch = chunk_size, chunk_overlap, max_batch

    def add(self, documents: Sequence[Document], progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Index documents: unchanged ones cost nothing, changed ones replace their old chunks, and documents a
        killed run left half-written are written again (their text is kept beside their record)."""
        report = IndexReport()
        given = {d.id for d in documents}
        planned = self._plan([*documents, *(d for d in self.interrupted() if d.id not in given)], report)
        total, done = sum(len(p.spans) for p in planned), 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        for group in _groups(planned):
            self._write_group(group, report, advance)
        return report

    def remove(self, document_id: str) -> bool:
        """Remove a document, its chunks and its text; False if it was not there."""
        existed = bool(self.target.documents.get(ids=[document_id], include=[])["ids"])
        self.target.chunks.delete(where={"doc": document_id})
        self.target.documents.delete(ids=[document_id])
        self.target.texts.delete(where={"doc": document_id})
        return existed

    def interrupted(self) -> list[Document]:
        """Documents whose write a killed process did not finish (their record still says `writing`)."""
        records = self.target.documents.get(where={"state": WRITING}, include=["documents", "metadatas"])
        if not records["ids"]:
            return []
        parts = self.target.texts.get(where={"doc": {"$in": records["ids"]}}, include=["documents", "metadatas"])
        return [d for d in stored_documents(records, parts) if d is not None]

    def _plan(self, documents: Sequence[Document], report: IndexReport) -> list[_Planned]:
        known = {}
        if documents:
            got = self.target.documents.get(ids=[d.id for d in documents], include=["metadatas"])
            known = {i: m["sha256"] for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        planned = []
        for document in documents:
            if known.get(document.id) == document.sha256:
                report.unchanged.append(document.id)
                continue
            planned.append(_Planned(document, chunk_spans(document.text, self.chunk_size, self.chunk_overlap)))
            (report.updated if document.id in known else report.added).append(document.id)
        return planned

    def _write_group(self, group: list[_Planned], report: IndexReport, advance: Callable[[int], None]) -> None:
        """Write a group of documents, GROUP_CHUNKS chunks at a time (a huge file costs bounded memory).

        In order: the new texts (beside the old ones); the records, marked `writing` and pointing at the new text;
        the new chunks slice by slice; the stale chunks out; the records marked `done` with their real vector; the
        old texts out. A failed write is undone, so a failed document leaves nothing behind; after a kill, the next
        `add` finds the `writing` records and writes those documents again (chunk ids are content-derived, so
        nothing is doubled and stale chunks go).
        """
        documents = [p.document for p in group]
        ids = [d.id for d in documents]
        # metadata only: reading vectors needs Chroma's vector segment, which a server can fail to open while other
        # clients write ("Error creating hnsw segment reader: Nothing found on disk")
        previous = self.target.documents.get(ids=ids, include=["metadatas"])
        earlier: dict[str, TextVersion] = {i: recorded_text(m) for i, m in zip(previous["ids"], previous["metadatas"],
                                                                               strict=True)}
        written: dict[str, TextVersion] = {d.id: (text_key(d), part_count(d)) for d in documents}
        state = _GroupWrite(previous, set(self.target.chunks.get(where={"doc": {"$in": ids}}, include=[])["ids"]))
        try:
            write_texts(self.target.texts, documents, self.max_batch)
            self._mark_writing(documents)
            centroids = self._write_chunks(group, state, advance)
            self._drop_stale_chunks(state)
            self._mark_done(group, centroids)
            drop_texts(self.target.texts, earlier, written, self.max_batch)
        except BaseException:
            self._undo(ids, state, lambda: drop_texts(self.target.texts, written, earlier, self.max_batch))
            raise
        report.chunks_embedded += sum(len(p.spans) for p in group)
        report.chunks_removed += len(state.stale_chunks)

    def _mark_writing(self, documents: list[Document]) -> None:
        placeholder = np.zeros((len(documents), self.embeddings.dimension), dtype=np.float32)
        placeholder[:, 0] = 1.0  # a record needs a vector; the real one (the chunks' mean) comes with `done`
        self.target.documents.upsert(ids=[d.id for d in documents], embeddings=placeholder,
                                     metadatas=[record_metadata(d, WRITING) for d in documents])

    def _write_chunks(self, group: list[_Planned], state: _GroupWrite, advance: Callable[[int], None]) -> np.ndarray:
        """Embed and write the group's chunks that are not stored yet; returns each document's mean vector."""
        spans = [(row, start, end) for row, planned in enumerate(group) for start, end in planned.spans]
        sums = np.zeros((len(group), self.embeddings.dimension), dtype=np.float64)
        for at in range(0, len(spans), GROUP_CHUNKS):
            rows = [row for row, _, _ in spans[at : at + GROUP_CHUNKS]]
            chunks = [make_chunk(group[row].document, start, end) for row, start, end in spans[at : at + GROUP_CHUNKS]]
            state.new_chunks.update(chunk.id for chunk in chunks)
            vectors = self.embeddings.embed([chunk.text for chunk in chunks], advance)
            np.add.at(sums, rows, vectors)
            fresh = [(chunk, vector) for chunk, vector in zip(chunks, vectors, strict=True)
                     if chunk.id not in state.old_chunks]
            for batch in batched(fresh, self.max_batch, lambda item: len(item[0].text)):
                self._put_chunks([chunk for chunk, _ in batch], np.stack([vector for _, vector in batch]))
                state.added_chunks.extend(chunk.id for chunk, _ in batch)
        return (sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float32)

    def _put_chunks(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        self.target.chunks.upsert(
            ids=[chunk.id for chunk in chunks], embeddings=vectors, documents=[chunk.text for chunk in chunks],
            metadatas=[{"doc": chunk.document_id, "start": chunk.start, "end": chunk.end} for chunk in chunks],
        )

    def _drop_stale_chunks(self, state: _GroupWrite) -> None:
        state.stale_chunks = sorted(state.old_chunks - state.new_chunks)
        for batch in batched(state.stale_chunks, self.max_batch):
            self.target.chunks.delete(ids=batch)

    def _mark_done(self, group: list[_Planned], centroids: np.ndarray) -> None:
        self.target.documents.update(ids=[p.document.id for p in group], embeddings=centroids,
                                     metadatas=[record_metadata(p.document, DONE, len(p.spans)) for p in group])

    def _undo(self, ids: list[str], state: _GroupWrite, drop_new_texts: Callable[[], None]) -> None:
        """Take back a failed group write: its new chunks out, the documents' earlier records back (or none), and
        then its new texts. If that fails too (a full disk), the records stay marked `writing`, their texts stay,
        and the next `add` finishes them."""
        previous = state.previous
        with suppress(Exception):  # the write's own error is the one to raise
            for batch in batched(state.added_chunks, self.max_batch):
                self.target.chunks.delete(ids=batch)
            if previous["ids"]:
                # Chroma merges metadata: a record that had no `text_sha` (it holds its own text) must lose it again.
                # Its vector stays the placeholder until the document is written again (nothing searches it).
                self.target.documents.update(
                    ids=previous["ids"],
                    metadatas=[{**m, "text_sha": m.get("text_sha"), "text_parts": m.get("text_parts")}
                               for m in previous["metadatas"]])
            if new := [i for i in ids if i not in set(previous["ids"])]:
                self.target.documents.delete(ids=new)
            drop_new_texts()


def write_set(client, corpus: str, name: str, documents: Sequence[Document], writer: Callable[[CollectionSet], Writer],
              signature: dict, location: str, progress: Callable[[int, int], None] | None = None
              ) -> tuple[CollectionSet, IndexReport]:
    """Write `documents` into the set `name` beside the corpus's current one, then point the corpus at it: a kill
    before the switch leaves the corpus as it was (the first start, the demo's first start and a rebuild)."""
    target = open_set(client, name, signature, location)
    report = writer(target).add(documents, progress) if documents else IndexReport()
    point_at(client, corpus, name)  # the switch: one metadata write
    return target, report


def _groups(planned: list[_Planned]) -> Iterator[list[_Planned]]:
    """Consecutive documents holding about GROUP_CHUNKS chunks together (a larger document alone)."""
    group: list[_Planned] = []
    for item in planned:
        group.append(item)
        if sum(len(p.spans) for p in group) >= GROUP_CHUNKS:
            yield group
            group = []
    if group:
        yield group
