"""Indexing throughput (chunks/s) on SQuADShifts NYT: the project's Index.add against its limit and the LangChain tutorial.

On the first --docs articles (default 150 of 797; the full corpus takes minutes per run on 2 cores) it times, in each of
--runs rounds (default 3, interleaved so that drift in machine load hits every pipeline alike), and reports the median:

  * model alone: OnnxEmbeddings.embed on the project's chunk texts (chunker at its defaults, 500/100) — the limit;
  * project: store.Index(StoreSettings(store=<fresh temp dir>)).add(documents) — chunking, embedding, Chroma writes;
  * model alone on the tutorial's chunk texts, and the tutorial: RecursiveCharacterTextSplitter(1000, 200,
    add_start_index=True).split_documents + langchain_chroma.Chroma.from_documents with the same embedder.

The tutorial's chunks are twice as long and fewer, so characters/s are shown too. "embed share" is the part of each
pipeline's time spent inside OnnxEmbeddings.embed; the rest is chunking and Chroma. The model is loaded and warmed first.

    python benchmarks/indexing.py [--docs 150] [--runs 3]
"""

from __future__ import annotations

import gc
import tempfile
import time
from pathlib import Path

import psutil

from common import load_squad, median, parser, table, write_results
from store import Index, OnnxEmbeddings, StoreSettings, chunk_document


class TimedEmbeddings(OnnxEmbeddings):
    """OnnxEmbeddings that adds up the time spent in embed()."""

    seconds = 0.0

    def embed(self, texts, progress=None):
        start = time.perf_counter()
        try:
            return super().embed(texts, progress)
        finally:
            self.seconds += time.perf_counter() - start


class PrecomputedEmbeddings(OnnxEmbeddings):
    """Returns vectors computed earlier by the model: Index.add then costs only chunking and Chroma writes."""

    def __init__(self, vectors: dict[str, object]):
        super().__init__()
        self.vectors = vectors

    def embed(self, texts, progress=None):
        import numpy as np

        if progress:
            progress(len(texts))
        return np.stack([self.vectors[t] for t in texts]) if texts else np.zeros((0, self.dimension), dtype=np.float32)


def run_project(documents, embeddings) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="bench-index-") as tmp:
        index = Index(StoreSettings(store=Path(tmp)), embeddings)
        start = time.perf_counter()
        report = index.add(documents)
        return time.perf_counter() - start, report.chunks_embedded


def run_tutorial(documents, embeddings) -> tuple[float, int]:
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document as LCDocument
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    with tempfile.TemporaryDirectory(prefix="bench-tutorial-") as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=Settings(anonymized_telemetry=False))
        start = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
        splits = splitter.split_documents([LCDocument(page_content=d.text, metadata={"doc": d.id}) for d in documents])
        Chroma.from_documents(splits, embedding=embeddings, client=client, collection_name="tutorial")
        return time.perf_counter() - start, len(splits)


def tutorial_texts(documents) -> list[str]:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    return [c for d in documents for c in splitter.split_text(d.text)]


def timed(fn) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--docs", type=int, default=150, help="index the first N of the 797 articles")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    started = time.perf_counter()

    documents = load_squad()[0][: args.docs]
    project_texts = [c.text for d in documents for c in chunk_document(d)]
    tut_texts = tutorial_texts(documents)
    embeddings = TimedEmbeddings()
    embeddings.embed(project_texts[:64])  # load and warm the model
    print(f"{len(documents)} documents: {len(project_texts)} project chunks, {len(tut_texts)} tutorial chunks", flush=True)

    names = ["model alone (project chunks)", "project Index.add", "model alone (tutorial chunks)", "tutorial Chroma.from_documents",
             "project Index.add, vectors precomputed (chunking + Chroma only)"]
    precomputed = PrecomputedEmbeddings({})
    times: dict[str, list[float]] = {n: [] for n in names}
    embed_share: dict[str, list[float]] = {n: [] for n in names}
    counts = {names[0]: len(project_texts), names[2]: len(tut_texts)}
    chars = {names[0]: sum(map(len, project_texts)), names[1]: sum(map(len, project_texts)),
             names[2]: sum(map(len, tut_texts)), names[3]: sum(map(len, tut_texts)), names[4]: sum(map(len, project_texts))}
    loads = []
    for run in range(args.runs):
        for name in names:
            embeddings.seconds = 0.0
            gc.collect()
            if name == names[0]:
                vectors = []
                seconds = timed(lambda: vectors.append(embeddings.embed(project_texts)))
                precomputed.vectors = dict(zip(project_texts, vectors[0], strict=True))
            elif name == names[4]:
                seconds, counts[name] = run_project(documents, precomputed)
            elif name == names[2]:
                seconds = timed(lambda: embeddings.embed(tut_texts))
            elif name == names[1]:
                seconds, counts[name] = run_project(documents, embeddings)
            else:
                seconds, counts[name] = run_tutorial(documents, embeddings)
            times[name].append(seconds)
            embed_share[name].append(embeddings.seconds / seconds)
            print(f"  run {run + 1}: {name}: {seconds:.1f}s ({counts[name] / seconds:.1f} chunks/s)", flush=True)
        loads.append(psutil.getloadavg()[0])

    rows, results = [], {}
    for name in names:
        t = median(times[name])
        results[name] = {"chunks": counts[name], "characters": chars[name], "seconds": times[name], "median_seconds": t,
                         "chunks_per_s": counts[name] / t, "chars_per_s": chars[name] / t, "embed_share": median(embed_share[name])}
    limit_p, limit_t = results[names[0]]["chunks_per_s"], results[names[2]]["chunks_per_s"]
    for name in names:
        r = results[name]
        base = limit_p if "project" in name else limit_t
        rows.append([name, r["chunks"], f"{r['median_seconds']:.1f}", f"{r['chunks_per_s']:.1f}", f"{r['chars_per_s']:.0f}",
                     f"{r['chunks_per_s'] / base:.2f}", f"{r['embed_share']:.0%}"])
    print(f"\n### Indexing throughput, {len(documents)} NYT articles, median of {args.runs} runs\n")
    print(table(["pipeline", "chunks", "seconds", "chunks/s", "chars/s", "x model alone (same chunks)", "embed share"], rows))
    ratio = results[names[1]]["chunks_per_s"] / limit_p
    print(f"\nproject / model alone = {ratio:.3f} (target >= 0.9); 1-min load average after each round: {loads}")
    elapsed = time.perf_counter() - started
    print(f"run time {elapsed / 60:.1f} min")
    path = write_results("indexing", {"args": vars(args), "documents": len(documents), "results": results,
                                      "project_over_model": ratio, "load_after_rounds": loads, "run_seconds": round(elapsed, 1)})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
