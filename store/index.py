"""The Chroma index: one collection of chunk vectors, one of documents and one of their texts, guarded against
mixed models."""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path
from typing import TypeVar

import numpy as np
from pydantic import BaseModel

from store.chunking import Chunk, chunk_spans, make_chunk
from store.config import StoreSettings
from store.documents import Document, LoadError, bundled_document, load_paths
from store.encoders import OnnxEmbeddings

SCHEMA_VERSION = 1
LOCK_FILE, GENERATION_FILE = "assistant-write.lock", "assistant-generation"
WRITING, DONE = "writing", "done"  # a document record's state: its chunks are being written / all written
GROUP_CHUNKS = 1024  # chunks embedded together: large enough for full batches, small enough to bound memory
# A document's text is kept in parts of this many characters, and written at most this many at a time: Chroma
# needs ~15 times a write's text in memory, so a 50 MB text written whole would cost ~0.75 GB.
TEXT_PART = 1_000_000
T = TypeVar("T")


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
    removed: list[str] = []  # add_paths: documents whose files left a re-indexed folder
    chunks_embedded: int = 0
    chunks_removed: int = 0
    moved_aside: str | None = None  # rebuild: where an unreadable store was moved


def _cause(exc: BaseException, settings: StoreSettings) -> str:
    """Why the store failed: "server", "full", "read-only" or "damaged" (anything else about the folder)."""
    if settings.chroma_url:
        return "server"
    text, code = str(exc).lower(), getattr(exc, "errno", None)
    if code == errno.ENOSPC or "disk is full" in text or _nearly_full(settings.store):
        return "full"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text or "read-only" in text:
        return "read-only"
    return "damaged"


def explain(exc: BaseException, settings: StoreSettings, action: str) -> str:
    """One sentence for a failed `action` ("open", "read", "write to") on the store: what went wrong and the way out."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    folder = settings.store
    match _cause(exc, settings):
        case "server":
            return (f"cannot {action} the index on the Chroma server at {settings.chroma_url} ({text}); check that "
                    "the server is running (chroma run --path DIR --port PORT) and that --chroma-url points at it")
        case "full":
            return (f"the disk holding the index at {folder} is full ({text}); free some space and run the command "
                    "again: documents left unfinished are finished by the next `assistant index`")
        case "read-only":
            return (f"the index folder {folder} cannot be written ({text}); make it writable, or give another "
                    "folder with --store or ASSISTANT_STORE")
    return (f"cannot {action} the index at {folder} ({text}); if it is damaged, `assistant index --rebuild` moves "
            "it aside and starts a new one")


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder if folder.exists() else folder.parent).free < 1 << 20
    except OSError:
        return False


class StoreBusy(StoreError):
    """Another process is writing to the embedded store."""


_CLIENTS: dict[str, tuple[object, str]] = {}  # embedded store folder -> (client, the store's write generation then)
_CLIENTS_LOCK = threading.RLock()
_HELD: dict[str, tuple[int, int]] = {}  # store folder -> (lock file descriptor, depth) while this process writes


def _generation(folder: Path) -> str:
    """The token the last writer of an embedded store left (empty before the first write)."""
    try:
        return (folder / GENERATION_FILE).read_text(encoding="ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


def _chroma_settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


@cache
def _server_client(url: str):
    import chromadb
    from urllib.parse import urlparse

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=_chroma_settings())


def _embedded_client(folder: Path):
    """This process's client of an embedded store, reopened when another process has written since it opened:
    an open embedded Chroma keeps serving its old vector index to queries (counts and gets are fresh)."""
    import chromadb

    key = str(folder)
    with _CLIENTS_LOCK:
        generation = _generation(folder)
        entry = _CLIENTS.get(key)
        if entry is not None and entry[1] == generation:
            return entry[0]
        if entry is not None:
            with suppress(Exception):
                entry[0].close()
        try:
            client = chromadb.PersistentClient(path=key, settings=_chroma_settings())
        except Exception:
            _forget_failed_system(key)
            raise
        _CLIENTS[key] = (client, generation)
        return client


def _forget_failed_system(key: str) -> None:
    """Chroma keeps the half-started system of a store it failed to open and hands it to the next client of
    that folder, which then fails for good; drop it so that a repaired or new store at that path can open."""
    from chromadb.api.shared_system_client import SharedSystemClient

    with SharedSystemClient._refcount_lock:
        SharedSystemClient._identifier_to_system.pop(key, None)
        SharedSystemClient._identifier_to_refcount.pop(key, None)


def make_client(settings: StoreSettings):
    """The Chroma client of this process for the configured location: a server if a URL is set, else embedded."""
    if settings.chroma_url:
        return _server_client(settings.chroma_url)
    settings.store.mkdir(parents=True, exist_ok=True)
    return _embedded_client(settings.store.resolve())


@contextmanager
def writing(settings: StoreSettings) -> Iterator[None]:
    """Hold the embedded store's write lock: one writing process at a time (a second is refused with StoreBusy,
    never left waiting or mixing its writes in); on release, readers in other processes are told to reopen.
    A Chroma server orders concurrent writers itself. Re-entrant within a process."""
    if settings.chroma_url:
        yield
        return
    folder = settings.store.resolve()
    key = str(folder)
    with _CLIENTS_LOCK:
        if key in _HELD:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth + 1)
        else:
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise StoreBusy(
                    f"another assistant process is writing to the index at {folder}; wait for it to finish, or, "
                    "for several processes at once, run a Chroma server (chroma run --path DIR) and give every "
                    "process --chroma-url http://HOST:PORT"
                ) from None
            _HELD[key] = (fd, 1)
    try:
        yield
    finally:
        with _CLIENTS_LOCK:
            fd, depth = _HELD[key]
            if depth > 1:
                _HELD[key] = (fd, depth - 1)
            else:
                del _HELD[key]
                generation = uuid.uuid4().hex
                with suppress(OSError):  # a read-only or full store cannot have been written to either
                    tmp = folder / f"{GENERATION_FILE}.{os.getpid()}"
                    tmp.write_text(generation, encoding="ascii")
                    os.replace(tmp, folder / GENERATION_FILE)
                    if key in _CLIENTS:  # this process's client saw its own writes
                        _CLIENTS[key] = (_CLIENTS[key][0], generation)
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


def _store_failure(exc: BaseException) -> bool:
    """An error of the store or of the way to it (a server down, a file unreadable), not a bug of ours."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("chromadb", "httpx", "httpcore", "sqlite3")


@contextmanager
def store_errors(settings: StoreSettings, action: str) -> Iterator[None]:
    """Turn the store's own failures into StoreError with the way out; our bugs keep their traceback."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        if not _store_failure(exc):
            raise
        raise StoreError(explain(exc, settings, action)) from exc


def _reading(method):
    """A read of the index: up to date with other processes' writes, and failing with StoreError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with store_errors(self.settings, "read"):
            self._fresh()
            return method(self, *args, **kwargs)

    return wrapper


def _text_key(document: Document) -> str:
    """What a document's record and its text parts share: which version of the text they hold."""
    return document.sha256[:16]


def _part_count(document: Document) -> int:
    return max(1, -(-len(document.text) // TEXT_PART))


def record_metadata(document: Document, state: str, chunks: int = 0) -> dict:
    """A document record's metadata: `writing` (no hash yet, so it never counts as indexed) or `done`, and which
    text parts hold its text."""
    return {"title": document.title, "source": document.source, "sha256": document.sha256 if state == DONE else "",
            "chunks": chunks, "characters": len(document.text), "indexed_at": time.time() if state == DONE else 0.0,
            "state": state, "text_sha": _text_key(document), "text_parts": _part_count(document)}


def _part_id(document_id: str, key: str, number: int) -> str:
    return f"{document_id}@{key}#{number}"


def _batched(items: Iterable[T], size: int, characters: Callable[[T], int] | None = None) -> Iterator[list[T]]:
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


class Index:
    """Chunks of documents in Chroma, embedded with one verified model, with their documents' full text."""

    def __init__(self, settings: StoreSettings, embeddings: OnnxEmbeddings | None = None, client=None):
        self.settings = settings
        self.embeddings = embeddings or OnnxEmbeddings()
        self._follows_store = client is None  # reopen when another process writes (embedded stores)
        self.client = client if client is not None else self._connect()
        self._chunks = self._open(settings.collection, space=True)
        self._documents = self._open(f"{settings.collection}-documents", space=False)
        self._texts = self._open(f"{settings.collection}-texts", space=False)
        self._max_batch = self.client.get_max_batch_size()
        self._generation = 0  # bumped by every write of this process
        self._catalog: Catalog | None = None
        self._catalog_at = 0.0
        self._catalog_generation = -1

    def _connect(self):
        with store_errors(self.settings, "open"):
            client = make_client(self.settings)
            client.heartbeat()
            return client

    def _fresh(self) -> None:
        """Before reading: if another process wrote to the embedded store since this one opened it, reopen."""
        if not self._follows_store or self.settings.chroma_url:
            return
        with store_errors(self.settings, "open"):
            client = make_client(self.settings)
        if client is not self.client:
            self.client = client
            self._chunks = self._open(self.settings.collection, space=True)
            self._documents = self._open(f"{self.settings.collection}-documents", space=False)
            self._texts = self._open(f"{self.settings.collection}-texts", space=False)
            self._catalog = None

    @property
    def lexical_cache(self) -> Path:
        """Where the BM25 index of this collection is saved: beside an embedded store, else in the user cache."""
        if self.settings.chroma_url:
            place = hashlib.sha256(f"{self.settings.chroma_url}|{self.settings.collection}".encode()).hexdigest()[:16]
            return self.settings.cache / "bm25" / place
        return self.settings.store / "assistant-bm25" / self.settings.collection

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

    @_reading
    def documents(self) -> list[DocumentInfo]:
        """Every indexed document, by title."""
        got = self._documents.get(include=["metadatas"])
        infos = [DocumentInfo(id=i, **m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]
        return sorted(infos, key=lambda d: (d.title.lower(), d.id))

    @_reading
    def document(self, document_id: str) -> Document | None:
        """The document with its full text as indexed, or None."""
        for _ in range(3):
            # the parts before the record: parts are written before the record that points at them, and the old
            # ones deleted after it, so a text another process is replacing reads whole here or on the next try
            parts = self._texts.get(where={"doc": document_id}, include=["documents", "metadatas"])
            records = self._documents.get(ids=[document_id], include=["documents", "metadatas"])
            if not records["ids"]:
                return None
            [document] = _stored_documents(records, parts)
            if document is not None:
                return document
        raise StoreError(f"the text of {document_id} is incomplete in the index at {self.settings.location}; "
                         f"index its file again with: assistant index PATH")

    @_reading
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

    @_reading
    def chunk_count(self) -> int:
        return self._chunks.count()

    def all_chunks(self, page: int = 5000) -> list[Chunk]:
        """Every chunk in the index, read page by page."""
        return [Chunk(id=i, document_id=d, start=int(a), end=int(b), text=t)
                for columns in self.chunk_pages(page) for i, d, a, b, t in zip(*columns, strict=True)]

    def chunk_pages(self, page: int = 5000) -> Iterator[tuple[list[str], list[str], list[int], list[int], list[str]]]:
        """Every chunk as columns (ids, document ids, starts, ends, texts), a page at a time: what the lexical
        index is built from without holding an object per chunk. Up to date and failing like every read."""
        self._fresh()
        offset = 0
        while True:
            with store_errors(self.settings, "read"):
                got = self._chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
            metas = got["metadatas"]
            yield (got["ids"], [sys.intern(m["doc"]) for m in metas], [m["start"] for m in metas],
                   [m["end"] for m in metas], got["documents"])
            if len(got["ids"]) < page:
                return
            offset += page

    @_reading
    def dense_search(self, query: str, k: int, document_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """The k chunks nearest to the query, with cosine similarity; `document_ids` None: of every document,
        an empty list: of none (as for the lexical index)."""
        if document_ids is not None and not document_ids:
            return []
        vector = self.embeddings.embed([self.embeddings.spec.query_prefix + query])
        where = {"doc": {"$in": list(document_ids)}} if document_ids is not None else None
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

    @_reading
    def ensure_bundled(self) -> None:
        """Index the bundled article if it is not there yet."""
        if not self._documents.get(ids=[bundled_document().id], include=[])["ids"]:
            self.add([bundled_document()])

    def add(self, documents: Sequence[Document], progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Index documents: unchanged ones cost nothing, changed ones replace their old chunks.

        `progress(done, total)` is told how many chunks are embedded so far. A document that fails leaves no chunks.
        Raises StoreBusy while another process writes to the same embedded store.
        """
        self._fresh()
        with writing(self.settings), store_errors(self.settings, "write to"):
            return self._add(documents, progress)

    def add_paths(self, paths: Sequence[Path], progress: Callable[[int, int], None] | None = None
                  ) -> tuple[list[Document], IndexReport, list[LoadError]]:
        """Index files and folders incrementally: new and changed files are embedded, unchanged ones cost a read
        and a hash, and the documents of a given folder whose files are gone from it are removed.
        Returns the documents that loaded, what changed, and one LoadError per path that gave nothing."""
        documents, failures = load_paths(paths)
        report = self.add(documents, progress)
        folders = [path.resolve() for path in paths if path.is_dir()]
        if folders:
            loaded = {d.id for d in documents}
            for info in self.documents():
                source = Path(info.source) if info.source not in ("", "inline", "bundled") else None
                if (source is not None and info.id not in loaded and not source.exists()
                        and any(source.is_relative_to(folder) for folder in folders)):
                    self.remove(info.id)
                    report.removed.append(info.id)
        return documents, report, failures

    def _add(self, documents: Sequence[Document], progress: Callable[[int, int], None] | None) -> IndexReport:
        report = IndexReport()
        # documents a killed run left half-written are written again (their text is in their record)
        given = {d.id for d in documents}
        documents = [*documents, *(d for d in self._interrupted() if d.id not in given)]
        known = {}
        if documents:
            got = self._documents.get(ids=[d.id for d in documents], include=["metadatas"])
            known = {i: m["sha256"] for i, m in zip(got["ids"], got["metadatas"], strict=True)}
        pending: list[tuple[Document, list[tuple[int, int]]]] = []  # chunks as spans: made a slice at a time
        for document in documents:
            if known.get(document.id) == document.sha256:
                report.unchanged.append(document.id)
                continue
            spans = chunk_spans(document.text, self.settings.chunk_size, self.settings.chunk_overlap)
            pending.append((document, spans))
            (report.updated if document.id in known else report.added).append(document.id)

        total = sum(len(spans) for _, spans in pending)
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            if progress:
                progress(done, total)

        group: list[tuple[Document, list[tuple[int, int]]]] = []
        for item in pending:
            group.append(item)
            if sum(len(c) for _, c in group) >= GROUP_CHUNKS:
                self._write_group(group, report, advance)
                group = []
        if group:
            self._write_group(group, report, advance)
        return report

    def _interrupted(self) -> list[Document]:
        """Documents whose write a killed process did not finish (their record still says `writing`)."""
        records = self._documents.get(where={"state": WRITING}, include=["documents", "metadatas"])
        if not records["ids"]:
            return []
        parts = self._texts.get(where={"doc": {"$in": records["ids"]}}, include=["documents", "metadatas"])
        return [d for d in _stored_documents(records, parts) if d is not None]

    def _write_group(self, group, report: IndexReport, advance: Callable[[int], None]) -> None:
        """Embed and write a group of documents, GROUP_CHUNKS chunks at a time (a huge file costs bounded memory).

        The new texts go in first (in parts, beside the old ones), then the document records, marked `writing` and
        pointing at their new text, then the new chunks slice by slice, the stale ones out, the finished records,
        and last the old texts out. If a write fails, the chunks and texts this call added are deleted again and
        the records restored, so a failed document leaves nothing behind; if the process is killed, the next `add`
        finds the `writing` records and writes those documents again (chunk ids are content-derived, so nothing
        is doubled and stale chunks go).
        """
        self._generation += 1
        ids = [d.id for d, _ in group]
        rows = [(row, start, end) for row, (_, spans) in enumerate(group) for start, end in spans]
        # metadata only: reading vectors needs Chroma's vector segment, which a server can fail to open while other
        # clients write ("Error creating hnsw segment reader: Nothing found on disk")
        before = self._documents.get(ids=ids, include=["metadatas"])
        earlier = {i: (m.get("text_sha"), m.get("text_parts")) for i, m in zip(before["ids"], before["metadatas"], strict=True)}
        written = {d.id: (_text_key(d), _part_count(d)) for d, _ in group}
        old = set(self._chunks.get(where={"doc": {"$in": ids}}, include=[])["ids"])
        new: set[str] = set()
        placeholder = np.zeros((len(group), self.embeddings.dimension), dtype=np.float32)
        placeholder[:, 0] = 1.0  # a record needs a vector; the real one (the chunks' mean) comes with `done`
        added: list[str] = []
        sums = np.zeros((len(group), self.embeddings.dimension), dtype=np.float64)
        try:
            self._write_texts([document for document, _ in group])
            self._documents.upsert(
                ids=ids, embeddings=placeholder,
                metadatas=[record_metadata(document, WRITING) for document, _ in group],
            )
            for at in range(0, len(rows), GROUP_CHUNKS):
                part = [(row, make_chunk(group[row][0], start, end)) for row, start, end in rows[at : at + GROUP_CHUNKS]]
                new.update(chunk.id for _, chunk in part)
                vectors = self.embeddings.embed([chunk.text for _, chunk in part], advance)
                np.add.at(sums, [row for row, _ in part], vectors)
                fresh = [i for i, (_, chunk) in enumerate(part) if chunk.id not in old]
                for batch in _batched(fresh, self._max_batch, lambda i: len(part[i][1].text)):
                    self._chunks.upsert(
                        ids=[part[i][1].id for i in batch],
                        embeddings=vectors[batch],
                        documents=[part[i][1].text for i in batch],
                        metadatas=[{"doc": ids[part[i][0]], "start": part[i][1].start, "end": part[i][1].end}
                                   for i in batch],
                    )
                    added.extend(part[i][1].id for i in batch)
            stale = sorted(old - new)
            for batch in _batched(stale, self._max_batch):
                self._chunks.delete(ids=batch)
            centroids = (sums / np.linalg.norm(sums, axis=1, keepdims=True).clip(min=1e-12)).astype(np.float32)
            self._documents.update(
                ids=ids, embeddings=centroids,
                metadatas=[record_metadata(document, DONE, len(spans)) for document, spans in group],
            )
            self._drop_texts(earlier, written)
        except BaseException:
            self._undo(ids, before, added, lambda: self._drop_texts(written, earlier))
            raise
        report.chunks_embedded += len(rows)
        report.chunks_removed += len(stale)

    def _write_texts(self, documents: Sequence[Document]) -> None:
        """Write the documents' texts in parts of TEXT_PART characters, keyed by the text's hash so that a
        document's earlier text stays readable until its record points at the new one."""
        parts = (
            (_part_id(document.id, _text_key(document), number), document.text[at : at + TEXT_PART],
             {"doc": document.id, "text_sha": _text_key(document), "part": number})
            for document in documents for number, at in enumerate(range(0, max(1, len(document.text)), TEXT_PART))
        )
        for batch in _batched(parts, self._max_batch, lambda part: len(part[1])):
            self._texts.upsert(ids=[i for i, _, _ in batch], embeddings=np.ones((len(batch), 1), dtype=np.float32),
                               documents=[t for _, t, _ in batch], metadatas=[m for _, _, m in batch])

    def _drop_texts(self, texts: dict[str, tuple[str | None, int | None]],
                    kept: dict[str, tuple[str | None, int | None]]) -> None:
        """Delete the parts of `texts` (document id -> its text's key and part count) unless `kept` points at the
        same text. Part ids follow from the records, so nothing is read."""
        unused = [_part_id(document_id, key, number) for document_id, (key, count) in texts.items()
                  if key and kept.get(document_id, (None, None))[0] != key for number in range(count or 0)]
        for batch in _batched(unused, self._max_batch):
            self._texts.delete(ids=batch)

    def _undo(self, ids: list[str], before: dict, added_chunks: list[str], drop_texts: Callable[[], None]) -> None:
        """Take back a failed group write: its new chunks out, the documents' earlier records back (or none), and
        then its new texts. If that fails too (a full disk), the records stay marked `writing`, their texts stay,
        and the next `add` finishes them."""
        with suppress(Exception):
            for part in _batched(added_chunks, self._max_batch):
                self._chunks.delete(ids=part)
            if before["ids"]:
                # Chroma merges metadata: a record that had no `text_sha` (it holds its own text) must lose it again.
                # Its vector stays the placeholder until the document is written again (nothing searches it).
                self._documents.update(ids=before["ids"],
                                       metadatas=[{**m, "text_sha": m.get("text_sha"), "text_parts": m.get("text_parts")}
                                                  for m in before["metadatas"]])
            if new := [i for i in ids if i not in set(before["ids"])]:
                self._documents.delete(ids=new)
            drop_texts()

    def remove(self, document_id: str) -> bool:
        """Remove a document and all its chunks; False if it was not indexed."""
        self._fresh()
        with writing(self.settings), store_errors(self.settings, "write to"):
            self._generation += 1
            existed = bool(self._documents.get(ids=[document_id], include=[])["ids"])
            self._chunks.delete(where={"doc": document_id})
            self._documents.delete(ids=[document_id])
            self._texts.delete(where={"doc": document_id})
            return existed


def _stored_documents(records: dict, parts: dict | None) -> list[Document | None]:
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
        documents.append(Document(id=i, title=meta["title"], text=text, source=meta["source"]))
    return documents


def rebuild(settings: StoreSettings, embeddings: OnnxEmbeddings | None = None, progress=None) -> IndexReport:
    """Re-embed every stored document with the current model and chunking, from the text kept in the index."""
    with writing(settings):
        return _rebuild(settings, embeddings, progress)


def _rebuild(settings: StoreSettings, embeddings: OnnxEmbeddings | None, progress) -> IndexReport:
    moved = None
    try:
        client = make_client(settings)
    except Exception as exc:
        if not _store_failure(exc):
            raise
        if _cause(exc, settings) != "damaged":
            raise StoreError(explain(exc, settings, "open")) from exc
        moved = _move_aside(settings.store)
        client = make_client(settings)
    report = _rebuild_from(client, settings, embeddings, progress)
    report.moved_aside = str(moved) if moved else None
    return report


def _move_aside(folder: Path) -> Path:
    """Rename an unreadable embedded store out of the way (kept, not deleted), forgetting its open client."""
    with _CLIENTS_LOCK:
        entry = _CLIENTS.pop(str(folder.resolve()), None)
        if entry is not None:
            with suppress(Exception):
                entry[0].close()
    target = folder.with_name(f"{folder.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(folder, target)
    return target


def _rebuild_from(client, settings: StoreSettings, embeddings: OnnxEmbeddings | None, progress) -> IndexReport:
    names = {c if isinstance(c, str) else c.name for c in client.list_collections()}
    kept: list[Document] = []
    docs_name, texts_name = f"{settings.collection}-documents", f"{settings.collection}-texts"
    if docs_name in names:
        records = client.get_collection(docs_name, embedding_function=None).get(include=["documents", "metadatas"])
        texts = client.get_collection(texts_name, embedding_function=None) if texts_name in names else None
        parts = texts.get(include=["documents", "metadatas"]) if texts is not None else None
        kept = [d for d in _stored_documents(records, parts) if d is not None]  # a text with parts missing is lost
    for name in (settings.collection, docs_name, texts_name):
        if name in names:
            client.delete_collection(name)
    index = Index(settings, embeddings, client)
    return index.add(kept or [bundled_document()], progress)
