"""The Chroma index: one collection of chunk vectors, one of whole documents, guarded against mixed models."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from functools import cache

import numpy as np
from pydantic import BaseModel

from store.chunking import Chunk, chunk_document
from store.config import StoreSettings
from store.documents import Document, bundled_document
from store.encoders import OnnxEmbeddings

SCHEMA_VERSION = 1
GROUP_CHUNKS = 1024  # chunks embedded together: large enough for full batches, small enough to bound memory


class StoreError(Exception):
    """The index cannot be used as it is; the message says what to do."""


class StoreMismatch(StoreError):
    """The index was built with another embedding model or chunking."""


class DocumentInfo(BaseModel):
    id: str
    title: str
    source: str
    chunks: int
    sha256: str
    characters: int


class Catalog(BaseModel):
    fingerprint: str
    titles: dict[str, str]


class IndexReport(BaseModel):
    """What one call to `Index.add` changed."""

    added: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    chunks_embedded: int = 0
    chunks_removed: int = 0


@cache
def _client(location: str, is_url: bool):
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False)
    if is_url:
        from urllib.parse import urlparse

        url = urlparse(location)
        port = url.port or (443 if url.scheme == "https" else 8000)
        return chromadb.HttpClient(host=url.hostname, port=port, ssl=url.scheme == "https", settings=settings)
    return chromadb.PersistentClient(path=location, settings=settings)


def make_client(settings: StoreSettings):
    """The one Chroma client of this process for the configured location: a server if a URL is set, else embedded."""
    if settings.chroma_url:
        return _client(settings.chroma_url, True)
    settings.store.mkdir(parents=True, exist_ok=True)
    return _client(str(settings.store.resolve()), False)


def _batched(items: Sequence, size: int) -> Iterable[Sequence]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


class Index:
    """Chunks of documents in Chroma, embedded with one verified model, with their documents' full text."""

    def __init__(self, settings: StoreSettings, embeddings: OnnxEmbeddings | None = None, client=None):
        self.settings = settings
        self.embeddings = embeddings or OnnxEmbeddings()
        self.client = client if client is not None else self._connect()
        self._chunks = self._open(settings.collection, space=True)
        self._documents = self._open(f"{settings.collection}-documents", space=False)
        self._max_batch = self.client.get_max_batch_size()
        self._generation = 0  # bumped by every write of this process
        self._catalog: Catalog | None = None
        self._catalog_at = 0.0
        self._catalog_generation = -1

    def _connect(self):
        try:
            client = make_client(self.settings)
            client.heartbeat()
            return client
        except Exception as exc:  # chromadb raises many types for one cause: the store is not reachable
            raise StoreError(f"cannot open the index at {self.settings.location} ({exc}); check the path or server") from exc

    @property
    def signature(self) -> dict[str, str | int]:
        """What the vectors in this index depend on."""
        return {
            "embedding_model": self.embeddings.name,
            "embedding_dimension": self.embeddings.dimension,
            "chunk_size": self.settings.chunk_size,
            "chunk_overlap": self.settings.chunk_overlap,
            "schema_version": SCHEMA_VERSION,
        }

    def _open(self, name: str, space: bool):
        configuration = {"hnsw": {"space": "cosine"}} if space else None
        # embedding_function=None: never let Chroma fall back to its default model, which it would download
        collection = self.client.get_or_create_collection(
            name, embedding_function=None, metadata=self.signature, configuration=configuration
        )
        recorded = {key: (collection.metadata or {}).get(key) for key in self.signature}
        if recorded != self.signature:
            built = ", ".join(f"{k}={v}" for k, v in recorded.items() if v != self.signature[k])
            wanted = ", ".join(f"{k}={self.signature[k]}" for k, v in recorded.items() if v != self.signature[k])
            raise StoreMismatch(
                f"the index at {self.settings.location} was built with {built}, but this run uses {wanted}; "
                "rebuild it with: assistant index --rebuild"
            )
        return collection

    # --- reading -------------------------------------------------------------------------

    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, by title."""
        got = self._documents.get(include=["metadatas"])
        infos = [DocumentInfo(id=i, **m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]
        return sorted(infos, key=lambda d: (d.title.lower(), d.id))

    def document(self, document_id: str) -> Document | None:
        """The document with its full text as indexed, or None."""
        got = self._documents.get(ids=[document_id], include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        meta = got["metadatas"][0]
        return Document(id=document_id, title=meta["title"], text=got["documents"][0], source=meta["source"])

    def catalog(self, max_age: float = 1.0) -> Catalog:
        """Titles of the indexed documents and a fingerprint that changes with any change to them.

        Read from Chroma at most every `max_age` seconds (other processes' changes show up that late);
        this process's own changes show up at once.
        """
        now = time.monotonic()
        if self._catalog is None or self._catalog_generation != self._generation or now - self._catalog_at > max_age:
            got = self._documents.get(include=["metadatas"])
            rows = sorted(f"{i}:{m['sha256']}:{m['chunks']}" for i, m in zip(got["ids"], got["metadatas"], strict=True))
            self._catalog = Catalog(
                fingerprint=hashlib.sha256("\n".join(rows).encode()).hexdigest(),
                titles={i: m["title"] for i, m in zip(got["ids"], got["metadatas"], strict=True)},
            )
            self._catalog_at, self._catalog_generation = now, self._generation
        return self._catalog

    def chunk_count(self) -> int:
        return self._chunks.count()

    def all_chunks(self, page: int = 5000) -> list[Chunk]:
        """Every chunk in the index (for the lexical index), read page by page."""
        chunks: list[Chunk] = []
        offset = 0
        while True:
            got = self._chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                chunks.append(Chunk(id=cid, document_id=meta["doc"], start=meta["start"], end=meta["end"], text=text))
            if len(got["ids"]) < page:
                return chunks
            offset += page

    def dense_search(self, query: str, k: int, document_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """The k chunks nearest to the query, with cosine similarity."""
        vector = self.embeddings.embed([self.embeddings.spec.query_prefix + query])
        where = {"doc": {"$in": list(document_ids)}} if document_ids else None
        got = self._chunks.query(
            query_embeddings=vector, n_results=k, where=where, include=["documents", "metadatas", "distances"]
        )
        return [
            (Chunk(id=cid, document_id=meta["doc"], start=meta["start"], end=meta["end"], text=text), 1.0 - dist)
            for cid, text, meta, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]

    # --- writing -------------------------------------------------------------------------

    def ensure_bundled(self) -> None:
        """Index the bundled article if it is not there yet."""
        if not self._documents.get(ids=[bundled_document().id], include=[])["ids"]:
            self.add([bundled_document()])

    def add(self, documents: Sequence[Document], progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Index documents: unchanged ones cost nothing, changed ones replace their old chunks.

        `progress(done, total)` is told how many chunks are embedded so far. A document that fails leaves no chunks.
        """
        report = IndexReport()
        known = {}
        if documents:
            got = self._documents.get(ids=[d.id for d in documents], include=["metadatas"])
            known = {i: m["sha256"] for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        pending: list[tuple[Document, list[Chunk]]] = []
        for document in documents:
            if known.get(document.id) == document.sha256:
                report.unchanged.append(document.id)
                continue
            chunks = chunk_document(document, self.settings.chunk_size, self.settings.chunk_overlap)
            pending.append((document, chunks))
            (report.updated if document.id in known else report.added).append(document.id)

        total = sum(len(chunks) for _, chunks in pending)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        group: list[tuple[Document, list[Chunk]]] = []
        for item in pending:
            group.append(item)
            if sum(len(c) for _, c in group) >= GROUP_CHUNKS:
                self._write_group(group, report, advance)
                group = []
        if group:
            self._write_group(group, report, advance)
        return report

    def _write_group(self, group, report: IndexReport, advance: Callable[[int], None]) -> None:
        """Embed a group of documents together, then write them with a few large Chroma calls.

        New chunks go in first, stale ones out next, and the document records last; if any write fails,
        the chunks this call added are deleted again, so a failed document leaves nothing behind.
        """
        self._generation += 1
        rows = [(document, chunk) for document, chunks in group for chunk in chunks]
        vectors = self.embeddings.embed([chunk.text for _, chunk in rows], advance)
        report.chunks_embedded += len(rows)
        old = set(self._chunks.get(where={"doc": {"$in": [d.id for d, _ in group]}}, include=[])["ids"])
        fresh = [i for i, (_, chunk) in enumerate(rows) if chunk.id not in old]
        stale = sorted(old - {chunk.id for _, chunk in rows})
        try:
            for part in _batched(fresh, self._max_batch):
                self._chunks.upsert(
                    ids=[rows[i][1].id for i in part],
                    embeddings=vectors[list(part)],
                    documents=[rows[i][1].text for i in part],
                    metadatas=[{"doc": rows[i][0].id, "start": rows[i][1].start, "end": rows[i][1].end} for i in part],
                )
            for part in _batched(stale, self._max_batch):
                self._chunks.delete(ids=list(part))
            self._documents.upsert(
                ids=[document.id for document, _ in group],
                embeddings=self._centroids(group, vectors),
                documents=[document.text for document, _ in group],
                metadatas=[
                    {"title": document.title, "source": document.source, "sha256": document.sha256,
                     "chunks": len(chunks), "characters": len(document.text), "indexed_at": time.time()}
                    for document, chunks in group
                ],
            )
        except Exception:
            for part in _batched([rows[i][1].id for i in fresh], self._max_batch):
                self._chunks.delete(ids=list(part))
            raise
        report.chunks_removed += len(stale)

    def _centroids(self, group, vectors: np.ndarray) -> np.ndarray:
        """Each document's mean chunk vector, unit length: the vector its record is stored with."""
        out = np.zeros((len(group), self.embeddings.dimension), dtype=np.float32)
        at = 0
        for row, (_, chunks) in enumerate(group):
            if chunks:
                out[row] = vectors[at : at + len(chunks)].mean(axis=0)
            at += len(chunks)
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)

    def remove(self, document_id: str) -> bool:
        """Remove a document and all its chunks; False if it was not indexed."""
        self._generation += 1
        existed = bool(self._documents.get(ids=[document_id], include=[])["ids"])
        self._chunks.delete(where={"doc": document_id})
        self._documents.delete(ids=[document_id])
        return existed


def rebuild(settings: StoreSettings, embeddings: OnnxEmbeddings | None = None, progress=None) -> IndexReport:
    """Re-embed every stored document with the current model and chunking, from the text kept in the index."""
    client = make_client(settings)
    names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    kept: list[Document] = []
    docs_name = f"{settings.collection}-documents"
    if docs_name in names:
        got = client.get_collection(docs_name, embedding_function=None).get(include=["documents", "metadatas"])
        kept = [
            Document(id=i, title=m["title"], text=t, source=m["source"])
            for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        ]
    for name in (settings.collection, docs_name):
        if name in names:
            client.delete_collection(name)
    index = Index(settings, embeddings, client)
    return index.add(kept or [bundled_document()], progress)
