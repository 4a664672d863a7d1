"""BM25 over the index's chunks (bm25s with a Snowball stemmer), rebuilt when the index changes."""

from __future__ import annotations

from collections.abc import Sequence

import bm25s
import numpy as np
import Stemmer

from store.chunking import Chunk

_STEMMER = Stemmer.Stemmer("english")


def _tokenize(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER.stemWords, show_progress=False)


class LexicalIndex:
    """Keyword search over a fixed list of chunks."""

    def __init__(self, chunks: Sequence[Chunk]):
        self.chunks = list(chunks)
        self._doc_of = np.array([c.document_id for c in self.chunks], dtype=object)
        self._bm25 = bm25s.BM25()
        if self.chunks:
            self._bm25.index(_tokenize([c.text for c in self.chunks]), show_progress=False)

    def search(self, query: str, k: int, document_ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """Up to k chunks that share terms with the query, best first, with their BM25 score."""
        if not self.chunks:
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
            tokens, k=min(k, len(self.chunks)), show_progress=False, n_threads=1, weight_mask=mask
        )
        return [(self.chunks[i], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if s > 0]
