"""BM25 over the index's chunks (bm25s with a Snowball stemmer), rebuilt when the index changes."""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import shutil
import sys
from array import array
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import bm25s
import numpy as np
import Stemmer

from store.chunking import Chunk

if TYPE_CHECKING:
    from store.index import Index

_STEMMER = Stemmer.Stemmer("english")
ALIKE = 80  # rapidfuzz ratio at which a word is a misspelling of another ("aderal" and "adderal": 92)
logger = logging.getLogger(__name__)


def stems(words: list[str]) -> list[str]:
    """The English stems of words, as the lexical index stems them."""
    return _STEMMER.stemWords(words)


def _tokenize(texts: list[str]):
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER.stemWords, show_progress=False)


class _MappedTexts:
    """Chunk texts saved as one UTF-8 file and its offsets, read through mmap: a saved index's texts cost no heap
    (parsing 100k texts from JSON cost ~250 MB at the peak)."""

    def __init__(self, blob: Path, offsets: Path):
        self._offsets = np.load(offsets, allow_pickle=False)
        with blob.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            self._bytes = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        if len(self._offsets) == 0 or int(self._offsets[-1]) != size:
            raise ValueError(f"{blob}: the texts and their offsets disagree")

    @staticmethod
    def write(texts: Iterable[str], blob: Path, offsets: Path) -> None:
        ends = [0]
        with blob.open("wb") as handle:
            for text in texts:
                ends.append(ends[-1] + handle.write(text.encode("utf-8")))
        np.save(offsets, np.array(ends, dtype=np.int64), allow_pickle=False)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def __getitem__(self, i: int) -> str:
        return self._bytes[int(self._offsets[i]) : int(self._offsets[i + 1])].decode("utf-8")


class LexicalIndex:
    """Keyword search over a fixed set of chunks, kept as columns (no object per chunk: 100k chunks fit)."""

    def __init__(self, ids: list[str], docs: list[str], starts: Iterable[int], ends: Iterable[int],
                 texts: list[str] | _MappedTexts, bm25: bm25s.BM25 | None = None):
        """From columns; `bm25` is an index already built over `texts` (else it is built here)."""
        self._ids, self._docs, self._texts = ids, docs, texts
        self._starts, self._ends = array("l", starts), array("l", ends)
        self._doc_of = np.array(docs, dtype=object)
        if bm25 is None:
            bm25 = bm25s.BM25()
            if ids:
                bm25.index(_tokenize(texts), show_progress=False)
        self._bm25 = bm25

    @classmethod
    def from_pages(cls, pages: Iterable[tuple[list, list, list, list, list]]) -> LexicalIndex:
        """From column pages (Index.chunk_pages)."""
        columns: tuple[list, ...] = ([], [], [], [], [])
        for page in pages:
            for column, values in zip(columns, page, strict=True):
                column.extend(values)
        return cls(*columns)

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

    def documents_with(self, words: str, alike: bool = False) -> set[str]:
        """The documents whose chunks hold any of these words (tokenized and stemmed as the index does); with
        `alike`, or a word spelled a little differently ("Aderall" for "Adderall", "Austria" for "Austrian")."""
        if not self._ids:
            return set()
        terms = bm25s.tokenize([words], stopwords="en", stemmer=_STEMMER.stemWords, return_ids=False,
                               show_progress=False)[0]
        vocabulary = self._bm25.vocab_dict
        scores, found = self._bm25.scores, set()
        for term in terms:
            token = vocabulary.get(term)
            if token is None and alike and len(term) >= 4:
                from rapidfuzz import fuzz, process

                close = process.extractOne(term, vocabulary.keys(), scorer=fuzz.ratio, score_cutoff=ALIKE)
                token = vocabulary[close[0]] if close else None
            if token is not None:
                found.update(self._doc_of[scores["indices"][scores["indptr"][token]:scores["indptr"][token + 1]]])
        return found

    # --- on disk: the first search of a process loads instead of re-tokenizing every chunk --------------------

    def save(self, folder: Path) -> None:
        """Write the index and its chunk columns to `folder` (made whole in a temp folder, then renamed in); from
        then on the texts are read from there rather than held."""
        tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            self._bm25.save(str(tmp), show_progress=False)
            _MappedTexts.write(self._texts, tmp / "texts.bin", tmp / "text_offsets.npy")
            columns = {"ids": self._ids, "docs": self._docs, "starts": self._starts.tolist(), "ends": self._ends.tolist()}
            (tmp / "chunks.json").write_text(json.dumps(columns, ensure_ascii=False), encoding="utf-8")
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self._texts = _MappedTexts(folder / "texts.bin", folder / "text_offsets.npy")

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """An index saved with `save` (plain arrays, JSON and UTF-8 text: nothing in it is executed)."""
        columns = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        texts = _MappedTexts(folder / "texts.bin", folder / "text_offsets.npy")
        bm25 = bm25s.BM25.load(str(folder), show_progress=False)
        if not len(columns["ids"]) == len(texts) == bm25.scores["num_docs"]:
            raise ValueError(f"{folder}: the saved index and its chunks disagree")
        return cls(columns["ids"], [sys.intern(d) for d in columns["docs"]], columns["starts"], columns["ends"],
                   texts, bm25)


def lexical_index_for(index: Index) -> LexicalIndex:
    """The BM25 index of everything in `index`: loaded from its `lexical_cache` when it was saved for exactly
    these documents, chunking and model, else built from Chroma and saved there (best effort: a read-only or
    full disk only costs the rebuild next time)."""
    cache_root = index.lexical_cache
    key = hashlib.sha256(json.dumps([index.catalog(max_age=0).fingerprint, index.signature], sort_keys=True)
                         .encode()).hexdigest()[:20]
    folder = cache_root / key
    if (folder / "chunks.json").exists():
        try:
            return LexicalIndex.load(folder)
        except Exception as exc:  # damaged or from another bm25s version: rebuild it
            logger.info("rebuilding the BM25 index at %s: %s", folder, exc)
    built = LexicalIndex.from_pages(index.chunk_pages())
    try:
        built.save(folder)
        for other in cache_root.iterdir():  # keep only the current one
            if other.name != key and not other.name.startswith(f"{key}.tmp-"):
                shutil.rmtree(other, ignore_errors=True)
    except (OSError, ValueError) as exc:
        logger.info("could not save the BM25 index at %s: %s", folder, exc)
    return built
