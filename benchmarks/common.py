"""Shared helpers for the benchmarks: the SQuADShifts NYT corpus as store documents, hit@k / MRR, tables, results.

Each NYT article is ONE document: its paragraphs' contexts joined with "\\n\\n"; answer offsets are shifted by the
paragraph's start in the joined text. A retrieved chunk is a hit when its [start, end) span, in the right document,
contains the whole span of one of the question's gold answers (SQuAD dev questions have up to 3; duplicates removed).

Not a benchmark itself: `python benchmarks/common.py` only checks the data and prints its size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import platform
import random
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from store import CrossEncoder, Document, OnnxEmbeddings, text_document

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
_CANDIDATES = [Path("/work/shared/eval/squadshifts_nyt_dev.json"), HERE.parent.parent / "shared/eval/squadshifts_nyt_dev.json"]
DATA = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[0])
SEED = 20240601


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    doc_id: str
    answer_start: int  # the first gold answer, in joined-document coordinates
    answer_end: int
    spans: tuple[tuple[int, int], ...] = field(default=())  # every distinct gold answer span

    def hit(self, doc_id: str, start: int, end: int) -> bool:
        return doc_id == self.doc_id and any(start <= s and e <= end for s, e in self.spans)


def _title(url: str) -> str:
    slug = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".html")
    return re.sub(r"[-_]+", " ", slug).strip().capitalize() or url


def _locate(text: str, at: int, answer: str) -> tuple[int, int]:
    """The answer's span; 6 of the 16,595 gold answers are off by one around a leading space, so search nearby."""
    if text[at : at + len(answer)] == answer:
        return at, at + len(answer)
    answer = answer.strip()
    found = [i for i in range(max(0, at - 5), at + 6) if text[i : i + len(answer)] == answer]
    if not found:
        raise ValueError(f"answer {answer!r} not found near offset {at}")
    s = min(found, key=lambda i: abs(i - at))
    return s, s + len(answer)


def load_squad(path: Path = DATA) -> tuple[list[Document], list[Question]]:
    """The 797 articles as documents (ids nyt-000..nyt-796) and every question with its answer spans."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    documents: list[Document] = []
    questions: list[Question] = []
    for n, article in enumerate(data):
        doc_id = f"nyt-{n:03d}"
        parts, offsets, at = [], [], 0
        for para in article["paragraphs"]:
            offsets.append(at)
            parts.append(para["context"])
            at += len(para["context"]) + 2
        text = "\n\n".join(parts)
        documents.append(text_document(text, _title(article.get("title", doc_id)), doc_id=doc_id))
        for para, base in zip(article["paragraphs"], offsets, strict=True):
            for qa in para["qas"]:
                spans: list[tuple[int, int]] = []
                for ans in qa["answers"]:
                    s, e = _locate(text, base + ans["answer_start"], ans["text"])
                    if (s, e) not in spans:
                        spans.append((s, e))
                questions.append(Question(qa["id"], qa["question"], doc_id, spans[0][0], spans[0][1], tuple(spans)))
    return documents, questions


def sample(questions: list[Question], limit: int | None, seed: int = SEED) -> list[Question]:
    """A fixed, seeded sample of `limit` questions (all of them if limit is None or too large), in corpus order."""
    if not limit or limit >= len(questions):
        return list(questions)
    picked = set(random.Random(seed).sample(range(len(questions)), limit))
    return [q for i, q in enumerate(questions) if i in picked]


def first_hit_rank(question: Question, spans: list[tuple[str, int, int]]) -> int | None:
    """1-based rank of the first retrieved (doc_id, start, end) that is a hit, or None."""
    for rank, (doc_id, start, end) in enumerate(spans, start=1):
        if question.hit(doc_id, start, end):
            return rank
    return None


def metrics(ranks: list[int | None], ks: tuple[int, ...] = (1, 4), mrr_at: int = 10) -> dict[str, float]:
    """hit@k for each k and MRR@mrr_at from the first-hit ranks of a set of questions."""
    n = max(len(ranks), 1)
    out = {f"hit@{k}": sum(r is not None and r <= k for r in ranks) / n for k in ks}
    out[f"mrr@{mrr_at}"] = sum(1.0 / r for r in ranks if r is not None and r <= mrr_at) / n
    return out


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], p: float) -> float:
    """Linear-interpolated percentile (p in 0..100)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    at = (len(xs) - 1) * p / 100
    lo = int(at)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (at - lo)


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table; floats get 3 decimals unless already formatted."""
    def cell(v):
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def parser(doc: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=None, help="evaluate a fixed, seeded sample of N questions")
    p.add_argument("--seed", type=int, default=SEED, help="seed of the --limit sample")
    return p


def environment() -> dict:
    import onnxruntime

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "onnxruntime": onnxruntime.__version__,
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def write_results(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "environment": environment(), **payload}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


# --- caches for the quality benchmarks (never used where time is measured) --------------------------------------------

class _VectorCache:
    """text -> result, kept in benchmarks/results/cache/NAME.pkl; merged with what is on disk when saved."""

    def __init__(self, name: str):
        self.path = RESULTS / "cache" / f"{name}.pkl"
        self.data: dict[bytes, object] = {}
        self.new = 0
        if self.path.exists():
            self.data = pickle.loads(self.path.read_bytes())

    @staticmethod
    def key(*parts: str) -> bytes:
        return hashlib.sha1("\x00".join(parts).encode()).digest()

    def save(self) -> None:
        if not self.new:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        merged = pickle.loads(self.path.read_bytes()) if self.path.exists() else {}
        merged.update(self.data)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(merged, protocol=pickle.HIGHEST_PROTOCOL))
        tmp.replace(self.path)
        self.new = 0


class CachedEmbeddings(OnnxEmbeddings):
    """The project's embedder with a disk cache of vectors by text: a rerun or another chunking reuses them.

    Only for measuring retrieval quality; the vectors are exactly the model's (computed by OnnxEmbeddings.embed).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.cache = _VectorCache(f"embed-{self.name}")

    def embed(self, texts, progress=None):
        keys = [self.cache.key(t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in self.cache.data))
        if missing:
            for t, v in zip(missing, super().embed(missing), strict=True):
                self.cache.data[self.cache.key(t)] = v
            self.cache.new += len(missing)
            if self.cache.new >= 2000:
                self.cache.save()
        if progress:
            progress(len(texts))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.cache.data[k] for k in keys]).astype(np.float32)


class Uncached(LookupError):
    """A cross-encoder score that is not in the cache, asked of a cache-only encoder."""


class CachedCrossEncoder(CrossEncoder):
    """The project's cross-encoder with a disk cache of logits by (query, passage); with cache_only, a pair
    not in the cache raises Uncached instead of being computed."""

    def __init__(self, cache_only: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.cache = _VectorCache(f"rerank-{self.name}")
        self.cache_only = cache_only

    def score(self, query, passages):
        keys = [self.cache.key(query, p) for p in passages]
        missing = list(dict.fromkeys(p for p, k in zip(passages, keys) if k not in self.cache.data))
        if missing and self.cache_only:
            raise Uncached(query)
        if missing:
            for p, s in zip(missing, super().score(query, missing), strict=True):
                self.cache.data[self.cache.key(query, p)] = s
            self.cache.new += len(missing)
            if self.cache.new >= 500:
                self.cache.save()
        return [self.cache.data[k] for k in keys]


if __name__ == "__main__":
    docs, qs = load_squad()
    print(f"{DATA}: {len(docs)} documents, {sum(len(d.text) for d in docs):,} characters, {len(qs)} questions")
    print(f"multi-span questions: {sum(len(q.spans) > 1 for q in qs)}; sample(1000) first ids: {[q.id for q in sample(qs, 1000)[:3]]}")

