"""The index a conversation reads: the user's corpus (or, while it is empty, the bundled demo article's own), as
Chroma collections embedded with one verified model, guarded against mixed models and other processes' writes."""

from __future__ import annotations

import functools
import hashlib
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel

from store.chunking import Chunk
from store.clients import make_client, writing
from store.collections import CollectionSet, build_signature, demo_corpus, exists, first_set_name, open_set, pointed_set
from store.config import StoreSettings
from store.documents import BUNDLED_ID, Document, LoadError, bundled_document, load_paths
from store.encoders import OnnxEmbeddings
from store.errors import StoreError, store_errors
from store.texts import stored_documents
from store.writes import IndexReport, Writer, write_set


class DocumentInfo(BaseModel):
    id: str
    title: str
    source: str
    chunks: int
    sha256: str
    characters: int
    indexed_at: float = 0.0  # seconds since the epoch (0: an index written before it was recorded)


class Catalog(BaseModel):
    fingerprint: str
    titles: dict[str, str]
    sources: dict[str, str] = {}  # a document's file path or URL


def _reading(method):
    """A read of the index: up to date with other processes' writes, and failing with StoreError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with store_errors(self.settings, "read"):
            self._fresh()
            return method(self, *args, **kwargs)

    return wrapper


class Index:
    """The documents a conversation answers from: chunks in Chroma, embedded with one verified model, with their
    documents' full text.

    Two corpora live in a store: the user's (`settings.collection`) and the bundled article's (`demo_corpus`). Reads go to
    the user's; while it holds no document, to the demo's (`demo` is then True). Writes go to the user's.
    """

    def __init__(self, settings: StoreSettings, embeddings: OnnxEmbeddings | None = None, client=None):
        self.settings = settings
        self.embeddings = embeddings or OnnxEmbeddings(cache=settings.cache)
        self._follows_store = client is None  # reopen when another process writes (embedded stores)
        self.client = client if client is not None else self._connect()
        self._max_batch = self.client.get_max_batch_size()
        self._generation = 0  # bumped by every write of this process
        self._catalog: Catalog | None = None
        self._catalog_at = 0.0
        self._catalog_generation = -1
        self._demo_name = demo_corpus(settings.collection)
        self._open_corpora()

    def _connect(self):
        with store_errors(self.settings, "open"):
            client = make_client(self.settings)
            client.heartbeat()
            return client

    def _open_corpora(self) -> None:
        """Open the user's corpus and the demo's (if it was ever made), as their pointers say; a new store's corpus
        starts with a pointer, a store an earlier release made has its collections under the corpus's own name."""
        corpus = self.settings.collection
        with store_errors(self.settings, "open"):
            name = pointed_set(self.client, corpus)
            if name is None and not exists(self.client, corpus):
                name = first_set_name(corpus)
                write_set(self.client, corpus, name, [], self._writer, self.signature, self.settings.location)
            self.corpus = open_set(self.client, name or corpus, self.signature, self.settings.location)
            demo = pointed_set(self.client, self._demo_name)
            self._demo = open_set(self.client, demo, self.signature, self.settings.location) if demo else None
        self._active: CollectionSet | None = None
        self._active_at = (-1, 0.0)
        self._catalog = None

    def _fresh(self) -> None:
        """Before reading: if another process wrote to the embedded store since this one opened it, reopen."""
        if not self._follows_store or self.settings.chroma_url:
            return
        with store_errors(self.settings, "open"):
            client = make_client(self.settings)
        if client is not self.client:
            self.client = client
            self._open_corpora()

    def _writer(self, target: CollectionSet) -> Writer:
        return Writer(target, self.embeddings, self.settings.chunk_size, self.settings.chunk_overlap, self._max_batch)

    # --- which corpus is read ----------------------------------------------------------------

    @property
    def _reads(self) -> CollectionSet:
        """The user's corpus, or the demo's while the user's is empty; looked at again after every write of this
        process, and every second for a Chroma server's other clients."""
        now = time.monotonic()
        if (self._active is None or self._active_at[0] != self._generation
                or self.settings.chroma_url and now - self._active_at[1] > 1.0):
            if self.settings.chroma_url and self._active is not None:
                self._follow_server_rebuilds()
            empty = self._demo is not None and self.corpus.documents.count() == 0 and self._demo.documents.count() > 0
            self._active, self._active_at = (self._demo if empty else self.corpus), (self._generation, now)
        return self._active

    def _follow_server_rebuilds(self) -> None:
        """A Chroma server's other clients may have rebuilt a corpus (moved its pointer): open the new sets."""
        if (pointed_set(self.client, self.settings.collection) or self.settings.collection) != self.corpus.name or \
                pointed_set(self.client, self._demo_name) != (self._demo.name if self._demo else None):
            self._open_corpora()

    @property
    @_reading
    def demo(self) -> bool:
        """True while the answers come from the bundled article's own corpus (the user has indexed nothing)."""
        return self._reads is self._demo

    # --- reading -------------------------------------------------------------------------

    @property
    def lexical_cache(self) -> Path:
        """Where the BM25 index of the corpus read is saved: beside an embedded store, else in the user cache."""
        name = self._reads.name
        if self.settings.chroma_url:
            place = hashlib.sha256(f"{self.settings.chroma_url}|{name}".encode()).hexdigest()[:16]
            return self.settings.cache / "bm25" / place
        return self.settings.store / "assistant-bm25" / name

    @property
    def signature(self) -> dict[str, str | int]:
        """What the vectors in this index depend on."""
        return build_signature(self.embeddings, self.settings)

    @_reading
    def documents(self) -> list[DocumentInfo]:
        """Every document of the corpus read, by title."""
        return _infos(self._reads)

    @_reading
    def document(self, document_id: str) -> Document | None:
        """The document with its full text as indexed (from either corpus), or None."""
        for corpus in (self.corpus, self._demo):
            if corpus is not None and (document := _read_document(corpus, document_id, self.settings.location)) is not None:
                return document
        return None

    @_reading
    def catalog(self, max_age: float = 1.0) -> Catalog:
        """Titles of the documents read and a fingerprint that changes with any change to them.

        Read from Chroma at most every `max_age` seconds (other processes' changes show up that late);
        this process's own changes show up at once.
        """
        now = time.monotonic()
        if self._catalog is None or self._catalog_generation != self._generation or now - self._catalog_at > max_age:
            corpus = self._reads
            got = corpus.documents.get(include=["metadatas"])
            rows = sorted(f"{i}:{m['sha256']}:{m['chunks']}" for i, m in zip(got["ids"], got["metadatas"], strict=True))
            self._catalog = Catalog(
                fingerprint=hashlib.sha256("\n".join([corpus.name, *rows]).encode()).hexdigest(),
                titles={i: m["title"] for i, m in zip(got["ids"], got["metadatas"], strict=True)},
                sources={i: m.get("source", "") for i, m in zip(got["ids"], got["metadatas"], strict=True)},
            )
            self._catalog_at, self._catalog_generation = now, self._generation
        return self._catalog

    @_reading
    def chunk_count(self) -> int:
        return self._reads.chunks.count()

    def all_chunks(self, page: int = 5000) -> list[Chunk]:
        """Every chunk of the corpus read, page by page."""
        return [Chunk(id=i, document_id=d, start=int(a), end=int(b), text=t)
                for columns in self.chunk_pages(page) for i, d, a, b, t in zip(*columns, strict=True)]

    def chunk_pages(self, page: int = 5000) -> Iterator[tuple[list[str], list[str], list[int], list[int], list[str]]]:
        """Every chunk as columns (ids, document ids, starts, ends, texts), a page at a time: what the lexical
        index is built from without holding an object per chunk. Up to date and failing like every read."""
        with store_errors(self.settings, "read"):
            self._fresh()
            chunks = self._reads.chunks
        offset = 0
        while True:
            with store_errors(self.settings, "read"):
                got = chunks.get(include=["documents", "metadatas"], limit=page, offset=offset)
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
        got = self._reads.chunks.query(
            query_embeddings=vector, n_results=k, where=where, include=["documents", "metadatas", "distances"]
        )
        return [
            (Chunk(id=cid, document_id=meta["doc"], start=meta["start"], end=meta["end"], text=text), 1.0 - dist)
            for cid, text, meta, dist in zip(
                got["ids"][0], got["documents"][0], got["metadatas"][0], got["distances"][0], strict=True
            )
        ]

    # --- writing -------------------------------------------------------------------------

    def ensure_demo(self) -> None:
        """On a store's first start, give the bundled article its own corpus (and move it out of the user's where
        an earlier release put it). Later starts write nothing: a demo the user removed stays removed."""
        self._fresh()
        if self._demo is not None:
            return
        with writing(self.settings), store_errors(self.settings, "write to"):
            self._generation += 1
            if (name := pointed_set(self.client, self._demo_name)) is None:
                # written beside and pointed at when complete, so a kill leaves no empty demo (which would read as
                # one the user removed); one name for every first start, so concurrent ones write the same set
                name = first_set_name(self._demo_name)
                if self.corpus.name == self.settings.collection:  # made by an earlier release
                    self._move_bundled_out()
                self._demo, _ = write_set(self.client, self._demo_name, name, [bundled_document()], self._writer,
                                          self.signature, self.settings.location)
            else:
                self._demo = open_set(self.client, name, self.signature, self.settings.location)

    def _move_bundled_out(self) -> None:
        got = self.corpus.documents.get(ids=[BUNDLED_ID], include=["metadatas"])
        if got["ids"] and got["metadatas"][0].get("source") == "bundled":
            self._writer(self.corpus).remove(BUNDLED_ID)

    def add(self, documents: Sequence[Document], progress: Callable[[int, int], None] | None = None) -> IndexReport:
        """Index documents in the user's corpus: unchanged ones cost nothing, changed ones replace their old chunks.

        `progress(done, total)` is told how many chunks are embedded so far. A document that fails leaves no chunks.
        Raises StoreBusy while another process writes to the same embedded store.
        """
        self._fresh()
        with writing(self.settings), store_errors(self.settings, "write to"):
            self._generation += 1
            return self._writer(self.corpus).add(documents, progress)

    def add_paths(self, paths: Sequence[Path | str], progress: Callable[[int, int], None] | None = None,
                  fetching: Callable[[str, int, int | None], None] | None = None
                  ) -> tuple[list[Document], IndexReport, list[LoadError]]:
        """Index files, folders and web pages (an http(s) URL as a string; any other string is a path, `~` the home
        folder) incrementally: new and changed ones are embedded, unchanged ones cost a read (a fetch for a page)
        and a hash, and the documents of a given folder whose files are gone from it are removed. Nothing is
        fetched but the URLs given. `progress` is told of the embedding (see `add`), `fetching(url, bytes, declared)` of each page's download.
        Returns the documents that loaded, what changed, and one LoadError per path or URL that gave nothing."""
        from store.web import fetch_url, is_url

        urls = [p for p in paths if isinstance(p, str) and is_url(p)]
        files = [Path(p).expanduser() for p in paths if p not in urls]
        documents, failures = load_paths(files)
        for url in urls:
            told = functools.partial(fetching, url) if fetching else None
            try:
                documents.append(fetch_url(url, received=told))
            except LoadError as exc:
                failures.append(exc)
        documents = list({d.id: d for d in documents}.values())  # a file given and inside a folder given: once
        report = self.add(documents, progress)
        folders = [path.resolve() for path in files if path.is_dir()]
        if folders:
            loaded = {d.id for d in documents}
            with store_errors(self.settings, "read"):
                infos = _infos(self.corpus)
            for info in infos:
                is_file = info.source not in ("", "inline", "bundled") and not is_url(info.source)
                source = Path(info.source) if is_file else None
                if (source is not None and info.id not in loaded and not source.exists()
                        and any(source.is_relative_to(folder) for folder in folders)):
                    self.remove(info.id)
                    report.removed.append(info.id)
        return documents, report, failures

    def remove(self, document_id: str) -> bool:
        """Remove a document and all its chunks, from the user's corpus or the demo's; False if it was in neither."""
        self._fresh()
        with writing(self.settings), store_errors(self.settings, "write to"):
            self._generation += 1
            if self._writer(self.corpus).remove(document_id):
                return True
            return self._demo is not None and self._writer(self._demo).remove(document_id)


def _infos(corpus: CollectionSet) -> list[DocumentInfo]:
    got = corpus.documents.get(include=["metadatas"])
    infos = [DocumentInfo(id=i, **m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]
    return sorted(infos, key=lambda d: (d.title.lower(), d.id))


def _read_document(corpus: CollectionSet, document_id: str, location: str) -> Document | None:
    for _ in range(3):
        # the parts before the record: parts are written before the record that points at them, and the old
        # ones deleted after it, so a text another process is replacing reads whole here or on the next try
        parts = corpus.texts.get(where={"doc": document_id}, include=["documents", "metadatas"])
        records = corpus.documents.get(ids=[document_id], include=["documents", "metadatas"])
        if not records["ids"]:
            return None
        [document] = stored_documents(records, parts)
        if document is not None:
            return document
    raise StoreError(f"the text of {document_id} is incomplete in the index at {location}; index its file again "
                     "with: assistant index PATH")
