"""BM25 over the index's chunks (bm25s with a Snowball stemmer), rebuilt when the index changes."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence

import bm25s
import numpy as np
import Stemmer

from store.chunking import Chunk

_STEMMER = Stemmer.Stemmer("english")


def _tokenize(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER.stemWords, show_progress=False)


class LexicalIndex:
    """Keyword search over a fixed set of chunks, kept as columns (no object per chunk: 100k chunks fit)."""

    def __init__(self, chunks: Sequence[Chunk] = ()):
        self._ids: list[str] = []
        self._docs: list[str] = []
        self._starts = array("l")
        self._ends = array("l")
        self._texts: list[str] = []
        self._extend(([c.id for c in chunks], [c.document_id for c in chunks], [c.start for c in chunks],
                      [c.end for c in chunks], [c.text for c in chunks]))
        self._build()

    @classmethod
    def from_pages(cls, pages: Iterable[tuple[list, list, list, list, list]]) -> LexicalIndex:
        """From column pages (Index.chunk_pages)."""
        index = cls.__new__(cls)
        index._ids, index._docs, index._starts, index._ends, index._texts = [], [], array("l"), array("l"), []
        for page in pages:
            index._extend(page)
        index._build()
        return index

    def _extend(self, page) -> None:
        ids, docs, starts, ends, texts = page
        self._ids.extend(ids)
        self._docs.extend(docs)
        self._starts.extend(starts)
        self._ends.extend(ends)
        self._texts.extend(texts)

    def _build(self) -> None:
        self._doc_of = np.array(self._docs, dtype=object)
        self._bm25 = bm25s.BM25()
        if self._ids:
            self._bm25.index(_tokenize(self._texts), show_progress=False)

    def __len__(self) -> int:
        return len(self._ids)

    def _chunk(self, i: int) -> Chunk:
        return Chunk(id=self._ids[i], document_id=self._docs[i], start=self._starts[i], end=self._ends[i],
                     text=self._texts[i])

    def search(self, query: str, k: int, document_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Up to k chunks that share terms with the query, best first, with their BM25 score."""
        if not self._ids:
            return []
        tokens = _tokenize([query])
        if not tokens.ids or not tokens.ids[0]:
            return []
        mask = None
        if document_ids is not None:
            mask = np.isin(self._doc_of, list(document_ids)).astype(np.float32)
            if not mask.any():
                return []
        ids, scores = self._bm25.retrieve(
            tokens, k=min(k, len(self._ids)), show_progress=False, n_threads=1, weight_mask=mask
        )
        return [(self._chunk(int(i)), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
