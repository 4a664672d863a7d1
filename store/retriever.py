"""Hybrid retrieval: dense (Chroma) and lexical (BM25) fused by reciprocal rank, then reranked by a cross-encoder."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from store.chunking import Chunk
from store.encoders import CrossEncoder
from store.index import Index
from bm25s.stopwords import STOPWORDS_EN

from store.lexical import LexicalIndex, lexical_index_for, stems
from store.spans import Span


T = TypeVar("T")


class Passage(Span):
    """A retrieved chunk, with its document's title; `score` is the last stage's (0..1 after reranking)."""

    title: str
    chunk_id: str
    score: float


class RetrievalOptions(BaseModel):
    """Which stages run and how wide each one looks."""

    dense: bool = True
    lexical: bool = True
    rerank: bool = True
    candidates: int = Field(default=20, ge=1, description="chunks each of dense and lexical search return")
    rerank_depth: int = Field(default=20, ge=1, description="fused chunks the cross-encoder rescores")
    rrf_k: int = 60


class HybridRetriever(BaseRetriever):
    """A LangChain retriever over an `Index`; `search` gives typed passages, `invoke` LangChain documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Index
    k: int = 4
    options: RetrievalOptions = Field(default_factory=RetrievalOptions)
    document_ids: list[str] | None = None
    cross_encoder: CrossEncoder = Field(default_factory=CrossEncoder)  # loads its model on first use

    _lexical: LexicalIndex | None = PrivateAttr(default=None)
    _lexical_fingerprint: str | None = PrivateAttr(default=None)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def lexical_index(self) -> LexicalIndex:
        """The BM25 index, rebuilt from Chroma when the documents changed since it was built."""
        with self._lock:
            fingerprint = self.index.catalog().fingerprint
            if self._lexical is None or fingerprint != self._lexical_fingerprint:
                self._lexical = lexical_index_for(self.index)
                self._lexical_fingerprint = fingerprint
            return self._lexical

    def search(self, query: str, k: int | None = None, document_ids: Sequence[str] | None = None) -> list[Passage]:
        """The k passages that best answer the query, best first, optionally only from the given documents
        (None: every document; an empty list: none, so nothing is found)."""
        k = k or self.k
        document_ids = document_ids if document_ids is not None else self.document_ids
        opts = self.options
        if not query.strip() or not (opts.dense or opts.lexical):
            return []
        rankings: list[list[tuple[Chunk, float]]] = []
        if opts.dense:
            rankings.append(self.index.dense_search(query, opts.candidates, document_ids))
        if opts.lexical:
            rankings.append(self.lexical_index().search(query, opts.candidates, document_ids))

        if len(rankings) == 1:
            fused = rankings[0]
        else:
            fused = reciprocal_rank_fusion([[chunk for chunk, _ in r] for r in rankings], opts.rrf_k)
        if opts.rerank:
            pool = fused[: max(opts.rerank_depth, k)]
            logits = self.cross_encoder.score(query, [chunk.text for chunk, _ in pool])
            fused = sorted(((c, sigmoid(s)) for (c, _), s in zip(pool, logits, strict=True)), key=lambda x: -x[1])
        titles = self.index.catalog().titles
        return [
            Passage(
                document_id=chunk.document_id,
                title=titles.get(chunk.document_id, chunk.document_id),
                chunk_id=chunk.id,
                start=chunk.start,
                end=chunk.end,
                text=chunk.text,
                score=round(score, 6),
            )
            for chunk, score in fused[:k]
        ]

    def document_named(self, phrase: str, document_ids: Sequence[str], by_name: bool = False) -> str | None:
        """The document that a phrase such as "the Wi-Fi article" names ("Wi-Fi"), or a file name ("biblatex.pdf"):
        the one whose title and file name hold the most of the phrase's words (when one holds more than the
        others), else (unless `by_name`) the one whose text best matches them (BM25, then the dense vectors), else
        None."""
        catalog = self.index.catalog()
        filed = [d for d in document_ids if _file_name(catalog.sources.get(d, "")) == phrase.strip().lower()]
        if len(filed) == 1:
            return filed[0]
        wanted = _name_stems(phrase)
        held = {d: len(wanted & _name_stems(f"{catalog.titles.get(d, '')} {_file_name(catalog.sources.get(d, ''))}"))
                for d in document_ids}
        best = max(held.values(), default=0)
        if best and list(held.values()).count(best) == 1:
            return max(held, key=held.get)
        if by_name:
            return None
        lexical = self.lexical_index().search(phrase, 1, document_ids)
        if lexical:
            return lexical[0][0].document_id
        dense = self.index.dense_search(phrase, 1, document_ids)
        return dense[0][0].document_id if dense else None

    def documents_titled(self, words: Sequence[str], document_ids: Sequence[str],
                         names: Sequence[str] = ()) -> list[str]:
        """The documents a question's words name by their titles or file names ("In hyperref, …", "the Octave
        startup file"): a word names those whose title or file name holds it when it is a name, not a common word
        of the corpus (the texts of at most NAMED_SHARE of the documents hold it, and two at least may). The
        documents the question's proper `names` name ("Octave's history size"), else every one a word names.
        None named: []."""
        catalog = self.index.catalog()
        titles = {d: _name_stems(f"{catalog.titles.get(d, '')} {_file_name(catalog.sources.get(d, ''))}")
                  for d in document_ids}
        most = max(2, int(NAMED_SHARE * len(document_ids)))
        lexical = self.lexical_index()
        scope = set(document_ids)

        def named_by(text: str) -> set[str]:
            named: set[str] = set()
            for stem in _name_stems(text):
                holders = [d for d, stems in titles.items() if stem in stems]
                if holders and len(holders) < len(document_ids) and len(lexical.documents_with(stem) & scope) <= most:
                    named.update(holders)
            return named

        named = named_by(" ".join(names)) or named_by(" ".join(words))
        return [d for d in document_ids if d in named]

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None) -> list[LCDocument]:
        """LangChain's entry point: `invoke(query, k=3)` overrides the retriever's own k for that call."""
        return [
            LCDocument(page_content=p.text, id=p.chunk_id, metadata=p.model_dump(exclude={"text"}))
            for p in self.search(query, k=k)
        ]


NAMED_SHARE = 0.3  # a word of titles is a name when the texts of at most this share of the documents hold it


def _file_name(source: str) -> str:
    """The file name of a document's source path or URL, lower-cased ("biblatex.pdf"); "" for inline text."""
    if source in ("", "inline", "bundled"):
        return ""
    return source.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()


def _name_stems(text: str) -> set[str]:
    """The stems of the words of a title or a file name (split at _ - . and case changes too)."""
    words = re.findall(r"[a-z]+|\d+", re.sub(r"([a-z])([A-Z])", r"\1 \2", text).lower())
    return set(stems([w for w in words if len(w) >= 3 and w not in STOPWORDS_EN]))


def reciprocal_rank_fusion(rankings: Sequence[Sequence[T]], k: int = 60, key: Callable[[T], str] = lambda c: c.id) -> list[tuple[T, float]]:
    """Merge ranked lists: each item scores the sum of 1 / (k + rank) over the lists it is in; best first."""
    scores: dict[str, float] = {}
    items: dict[str, T] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[key(item)] = scores.get(key(item), 0.0) + 1.0 / (k + rank)
            items.setdefault(key(item), item)
    return [(items[i], score) for i, score in sorted(scores.items(), key=lambda x: -x[1])]


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), for any x (-inf gives 0.0; no overflow for large |x|)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)

