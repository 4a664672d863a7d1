"""Warm retrieval latency per query (p50/p95) of HybridRetriever, with and without the cross-encoder rerank.

Two stores, both cached under benchmarks/results/ (git-ignored) so reruns skip the build:

  * squadshifts: the 797 NYT articles at the default chunking (500/100), about 4,300 chunks;
  * synthetic: about --synthetic-chunks (100,000) chunks. Its documents are random NYT sentences (10-30 paragraphs of 4,
    about 10,000 characters and 25 chunks each), chunked by the project at 500/100 and written into the store's collections in
    batches with the layout the index's writer (store/writes.py) uses (Index.add writes per document, slow here). Embedding 100k chunks for
    real takes hours on 2 cores, so each chunk's vector is the normalised sum of the real bge vectors of its sentences
    (a pool of --sentences distinct sentences, embedded once) plus a little noise: real-looking vectors for Chroma's
    HNSW. Queries are real questions, embedded by the real model at query time.

Latency is HybridRetriever(k=4).search(question) wall time after --warmup queries (which also build the BM25 index;
that first-query cost is reported). Without rerank: --queries questions, --runs passes, median of the per-pass p50/p95
(synthetic: --synthetic-queries, one pass). With rerank (depth 20): --rerank-queries questions, one pass. Per-query overheads are shown apart: the query embedding,
Chroma's dense query, BM25, and Index.catalog() (titles and fingerprint, cached for a second).

    python benchmarks/latency.py [--queries 200] [--rerank-queries 20] [--synthetic-chunks 100000]
"""

from __future__ import annotations

import random
import resource
import time
from pathlib import Path

import numpy as np
import psutil

from common import RESULTS, CachedEmbeddings, load_squad, median, parser, percentile, sample, table, write_results
from store import HybridRetriever, Index, OnnxEmbeddings, RetrievalOptions, StoreSettings, text_document
from store.chunking import chunk_document, sentence_spans
from store.texts import DONE, record_metadata, write_texts


class ComposedEmbeddings(OnnxEmbeddings):
    """Same name and dimension as bge; a synthetic chunk's vector is composed from its sentences' real vectors."""

    def __init__(self, sentence_vectors: dict[str, np.ndarray], seed: int = 0):
        super().__init__()
        self.vectors = sentence_vectors
        self.rng = np.random.default_rng(seed)

    def embed(self, texts, progress=None):
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for s, e, _ in sentence_spans(text):
                out[row] += self.vectors.get(text[s:e], 0.0)
        out += self.rng.normal(0, 0.01, out.shape).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
        if progress:
            progress(len(texts))
        return out


def build_squad(path: Path, documents) -> float:
    if (path / ".complete").exists():
        return 0.0
    start = time.perf_counter()
    embeddings = CachedEmbeddings()  # the same vectors as the model's; cached by retrieval.py if it ran first
    Index(StoreSettings(store=path), embeddings).add(documents)
    embeddings.cache.save()
    (path / ".complete").write_text("797 NYT articles, 500/100, bge-small vectors\n")
    return time.perf_counter() - start


def build_synthetic(path: Path, documents, target: int, pool: int, seed: int) -> dict:
    info_file = path / ".complete"
    if info_file.exists():
        return eval(info_file.read_text())  # noqa: S307 - our own dict literal
    rng = random.Random(seed)
    sentences = sorted({d.text[s:e] for d in documents for s, e, _ in sentence_spans(d.text) if 20 <= e - s <= 400})
    sentences = rng.sample(sentences, min(pool, len(sentences)))
    start = time.perf_counter()
    embeddings = CachedEmbeddings()
    vectors = dict(zip(sentences, embeddings.embed(sentences), strict=True))
    embeddings.cache.save()
    embed_seconds = time.perf_counter() - start
    docs, chunks = [], []
    while len(chunks) < target:
        paragraphs = [" ".join(rng.choice(sentences) for _ in range(4)) for _ in range(rng.randint(10, 30))]
        doc = text_document("\n\n".join(paragraphs), f"Synthetic NYT mix {len(docs)}", doc_id=f"synth-{len(docs):06d}")
        chunks.extend(chunk_document(doc))
        docs.append(doc)
    start = time.perf_counter()
    index = Index(StoreSettings(store=path), OnnxEmbeddings())  # creates the collections with the project's signature
    composer = ComposedEmbeddings(vectors, seed)
    by_doc: dict[str, list] = {}
    for at in range(0, len(chunks), 5000):  # the layout of the index's writer (store/writes.py), written in big batches
        part = chunks[at : at + 5000]
        vecs = composer.embed([c.text for c in part])
        index.corpus.chunks.add(ids=[c.id for c in part], embeddings=vecs, documents=[c.text for c in part],
                          metadatas=[{"doc": c.document_id, "start": c.start, "end": c.end} for c in part])
        for c, v in zip(part, vecs, strict=True):
            by_doc.setdefault(c.document_id, []).append(v)
        print(f"    synthetic: {at + len(part)}/{len(chunks)} chunks, {time.perf_counter() - start:.0f}s", flush=True)
    for at in range(0, len(docs), 5000):
        part = docs[at : at + 5000]
        centroids = np.stack([np.mean(by_doc[d.id], axis=0) for d in part])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
        write_texts(index.corpus.texts, part, 5000)
        index.corpus.documents.add(ids=[d.id for d in part], embeddings=centroids,
                             metadatas=[record_metadata(d, DONE, len(by_doc[d.id])) for d in part])
    info = {"documents": len(docs), "chunks": index.chunk_count(), "sentence_pool": len(sentences),
            "sentence_embed_seconds": round(embed_seconds, 1), "write_seconds": round(time.perf_counter() - start, 1)}
    info_file.write_text(repr(info))
    return info


def time_queries(fn, questions: list[str]) -> list[float]:
    """Milliseconds of fn(question) for each question."""
    out = []
    for q in questions:
        start = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - start) * 1000)
    return out


def measure(name: str, path: Path, questions: list[str], args, queries: int, runs: int, rerank_queries: int) -> dict:
    index = Index(StoreSettings(store=path), OnnxEmbeddings())  # queries are embedded for real, no cache
    full = HybridRetriever(index=index, k=4)
    fused = HybridRetriever(index=index, k=4, options=RetrievalOptions(rerank=False))
    start = time.perf_counter()
    fused.search(questions[0])
    first_query = (time.perf_counter() - start) * 1000
    time_queries(full.search, questions[1 : 1 + args.warmup])
    full._lexical, full._lexical_fingerprint = fused._lexical, fused._lexical_fingerprint  # share the built BM25
    time_queries(fused.search, questions[1 : 1 + args.warmup])
    timed = questions[1 + args.warmup :]
    passes = [time_queries(fused.search, timed[:queries]) for _ in range(runs)]
    reranked = time_queries(full.search, timed[:rerank_queries])

    # where the time goes, per query (medians over the same questions)
    parts = {}
    qs = timed[: args.parts_queries]
    lexical = fused.lexical_index()
    vector_of = {}
    for label, fn in {
        "embed query": lambda q: vector_of.__setitem__(q, index.embeddings.embed([index.embeddings.spec.query_prefix + q])),
        "Chroma dense query (k=20)": lambda q: index.corpus.chunks.query(query_embeddings=vector_of[q], n_results=20,
                                                                   include=["documents", "metadatas", "distances"]),
        "BM25 search (k=20)": lambda q: lexical.search(q, 20),
        "Index.catalog() (cached)": lambda q: index.catalog(),
    }.items():
        parts[label] = median(time_queries(fn, qs))
    rows = {
        "without rerank": {"p50": median([percentile(p, 50) for p in passes]), "p95": median([percentile(p, 95) for p in passes]),
                           "queries": len(passes[0]), "passes": len(passes)},
        "with rerank (depth 20)": {"p50": percentile(reranked, 50), "p95": percentile(reranked, 95), "queries": len(reranked), "passes": 1},
    }
    return {"store": name, "chunks": index.chunk_count(), "documents": len(index.documents()), "first_query_ms": first_query,
            "latency_ms": rows, "parts_ms": parts, "rss_mb": round(psutil.Process().memory_info().rss / 2**20),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--queries", type=int, default=100, help="questions timed without rerank, per pass")
    p.add_argument("--rerank-queries", type=int, default=20)
    p.add_argument("--runs", type=int, default=3, help="passes over the questions without rerank")
    p.add_argument("--synthetic-queries", type=int, default=30, help="the same, on the synthetic store (one pass)")
    p.add_argument("--synthetic-rerank-queries", type=int, default=10)
    p.add_argument("--parts-queries", type=int, default=15, help="questions for the per-part breakdown")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--synthetic-chunks", type=int, default=100_000)
    p.add_argument("--sentences", type=int, default=6000, help="distinct NYT sentences embedded for the synthetic store")
    p.add_argument("--skip-synthetic", action="store_true")
    p.add_argument("--only", choices=["squadshifts", "synthetic"],
                   help="measure one store in this process, so its peak memory is that store's alone")
    p.add_argument("--build-only", action="store_true", help="build (or check) the cached stores and stop")
    p.add_argument("--docs", type=int, default=None, help="smoke test: only the first N articles (separate stores)")
    args = p.parse_args()
    started = time.perf_counter()

    documents, questions = load_squad()
    tag = ""
    if args.docs:
        documents, tag = documents[: args.docs], f"-docs{args.docs}"
        questions = [q for q in questions if q.doc_id in {d.id for d in documents}]
    asked = [q.question for q in sample(questions, 1 + args.warmup + max(args.queries, args.rerank_queries), args.seed)]
    random.Random(args.seed).shuffle(asked)
    squad_path = RESULTS / f"latency-store-squadshifts-500-100{tag}"
    synth_path = RESULTS / f"latency-store-synthetic-{args.synthetic_chunks}{tag}"
    builds = {"squadshifts": {"build_seconds": round(build_squad(squad_path, documents), 1)}}
    print(f"squadshifts store ready at {squad_path}", flush=True)
    if not args.skip_synthetic:
        builds["synthetic"] = build_synthetic(synth_path, documents, args.synthetic_chunks, args.sentences, args.seed)
        print(f"synthetic store ready at {synth_path}: {builds['synthetic']}", flush=True)

    if args.build_only:
        return
    measured = []
    if args.only != "synthetic":
        measured.append(measure("squadshifts", squad_path, asked, args, args.queries, args.runs, args.rerank_queries))
    if not args.skip_synthetic and args.only != "squadshifts":
        measured.append(measure("synthetic", synth_path, asked, args, args.synthetic_queries, 1, args.synthetic_rerank_queries))

    print("\n### Warm retrieval latency per query, HybridRetriever k=4 (ms)\n")
    rows = []
    for m in measured:
        for config, r in m["latency_ms"].items():
            rows.append([m["store"], m["chunks"], m["documents"], config, f"{r['p50']:.1f}", f"{r['p95']:.1f}",
                         f"{r['queries']} x {r['passes']}"])
    print(table(["store", "chunks", "documents", "retriever", "p50 ms", "p95 ms", "queries x passes"], rows))
    print(f"\n### Per-query parts (median ms over {args.parts_queries} questions) and first query (includes building BM25)\n")
    labels = list(measured[0]["parts_ms"])
    print(table(["store", "first query", *labels],
                [[m["store"], f"{m['first_query_ms']:.0f}", *(f"{m['parts_ms'][k]:.1f}" for k in labels)] for m in measured]))
    print("\n### Memory (RSS of this process: models, the open store, its BM25 index; peak over the whole run)\n")
    print(table(["store", "chunks", "RSS after the queries MB", "peak RSS MB"],
                [[m["store"], m["chunks"], m["rss_mb"], m["peak_rss_mb"]] for m in measured]))
    if len(measured) > 1:
        print("(measured in one process: the later store's peak includes the earlier one; use --only for each alone)")
    if "synthetic" in builds:
        b = builds["synthetic"]
        print(f"\nsynthetic store: {b['documents']} documents of random NYT sentences, {b['chunks']} chunks (500/100); "
              f"vectors = normalised sum of real bge vectors of {b['sentence_pool']} distinct sentences + noise; "
              f"written straight into the Index's three collections in batches of 5,000 with the index's writer (store/writes.py)'s layout "
              f"(Index.add upserts per document, ~50 ms a call: far too slow for 100k chunks here); "
              f"built once in {b['sentence_embed_seconds']}s (sentences) + {b['write_seconds']}s (writes), cached at {synth_path}")
    elapsed = time.perf_counter() - started
    print(f"run time {elapsed / 60:.1f} min")
    path = write_results("latency", {"args": vars(args), "builds": builds, "stores": measured, "run_seconds": round(elapsed, 1)})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
