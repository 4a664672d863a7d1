"""Retrieval quality on SQuADShifts NYT: hit@1, hit@4 and MRR@10 of the project's retriever and the LangChain tutorial.

For each chunking (--chunk-size/--chunk-overlap, or several with --sweep 300/60,500/100,800/150) it builds a fresh store
in a temp dir with store.Index, indexes all 797 articles and asks every question (or a seeded --limit sample) of:

  * the project's HybridRetriever with stages switched off via RetrievalOptions: dense only, BM25 only,
    dense+BM25 fused by RRF without rerank, and the full pipeline (fused + cross-encoder rerank of --rerank-depth);
  * the LangChain tutorial pipeline: RecursiveCharacterTextSplitter(1000, 200, add_start_index=True) + langchain_chroma
    + similarity_search, with the same embedder (store.OnnxEmbeddings; embed_query adds bge's query prefix).

The cross-encoder costs about 1-2 s per question at depth 20 on 2 CPU cores, so the reranked configurations are scored on
a seeded subsample of --rerank-limit questions (drawn from the fixed 1000-question sample), beside the un-reranked ones
on the same subsample. --depths 5,10,20,30
re-sorts the fused list at several rerank depths from one set of cross-encoder scores (what HybridRetriever does, with
the scores of shared (question, chunk) pairs computed once).

Embeddings and cross-encoder logits are cached on disk by text (benchmarks/results/cache/), so reruns are quick; the
numbers are the models' own. No timing is reported here (see indexing.py and latency.py).

    python benchmarks/retrieval.py [--limit N] [--rerank-limit N] [--chunk-size 500 --chunk-overlap 100]
    python benchmarks/retrieval.py --limit 1000 --sweep 300/60,500/100,800/150 --no-tutorial
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import (
    CachedCrossEncoder, CachedEmbeddings, Question, Uncached, first_hit_rank, load_squad, metrics, parser, sample, table,
    write_results,
)
from store import HybridRetriever, Index, RetrievalOptions, StoreSettings

K = 10  # retrieve 10: hit@1, hit@4 and MRR@10 come from the same list

CONFIGS = {
    "dense only": RetrievalOptions(lexical=False, rerank=False),
    "BM25 only": RetrievalOptions(dense=False, rerank=False),
    "dense+BM25 (RRF), no rerank": RetrievalOptions(rerank=False),
}


class FrozenIndex(Index):
    """An Index whose catalog (titles and fingerprint) is read once: nothing changes during the evaluation."""

    def catalog(self, max_age: float = 1.0):
        return super().catalog(max_age=float("inf"))


def ranks_for(retriever: HybridRetriever, questions: list[Question], skipped: list | None = None) -> list[int | None]:
    """First-hit rank per question; with a cache-only cross-encoder, questions whose scores are not cached
    are left out (and counted in `skipped`)."""
    out = []
    for q in questions:
        try:
            passages = retriever.search(q.question, k=K)
        except Uncached:
            if skipped is None:
                raise
            skipped.append(q.id)
            continue
        out.append(first_hit_rank(q, [(p.document_id, p.start, p.end) for p in passages]))
    return out


def depth_sweep(index: Index, encoder: CachedCrossEncoder, questions: list[Question], depths: list[int]) -> dict:
    """Rerank the fused list at each depth, as HybridRetriever does, from one set of cross-encoder scores."""
    deepest = max(depths)
    fused = HybridRetriever(index=index, options=RetrievalOptions(rerank=False, candidates=max(20, deepest)))
    ranks: dict[int, list] = {d: [] for d in depths}
    for q in questions:
        passages = fused.search(q.question, k=deepest)
        logits = encoder.score(q.question, [p.text for p in passages])
        for d in depths:
            # HybridRetriever with k=4 reranks the top max(d, 4); below the pool the fused order stays (for MRR@10)
            pool = max(d, 4)
            ranked = [p for p, _ in sorted(zip(passages[:pool], logits[:pool]), key=lambda x: -x[1])] + passages[pool:]
            ranks[d].append(first_hit_rank(q, [(p.document_id, p.start, p.end) for p in ranked[:K]]))
    return {d: metrics(r) for d, r in ranks.items()}


def pool_recall(index: Index, questions: list[Question], depths=(20, 40)) -> dict:
    """The ceiling of any reranker: the share of questions with a hit among the first d fused chunks (d = the
    rerank depth), with dense and BM25 each returning max(d) candidates."""
    fused = HybridRetriever(index=index, options=RetrievalOptions(rerank=False, candidates=max(depths)))
    ranks = [first_hit_rank(q, [(p.document_id, p.start, p.end) for p in fused.search(q.question, k=max(depths))])
             for q in questions]
    return {f"recall@{d}": round(sum(r is not None and r <= d for r in ranks) / len(ranks), 3) for d in depths}


def evaluate_project(documents, questions, rerank_questions, size, overlap, depth, depths, embeddings, encoder,
                     only_full: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        index = FrozenIndex(StoreSettings(store=Path(tmp), chunk_size=size, chunk_overlap=overlap), embeddings)
        start = time.perf_counter()
        report = index.add(documents)
        build = time.perf_counter() - start
        print(f"  {size}/{overlap}: indexed {report.chunks_embedded} chunks in {build:.0f}s", flush=True)
        results = {"chunks": report.chunks_embedded, "build_seconds_cached_embeddings": round(build, 1), "all": {}, "rerank_sample": {}}
        for name, options in ({} if only_full else CONFIGS).items():
            ranks = ranks_for(HybridRetriever(index=index, options=options, cross_encoder=encoder), questions)
            results["all"][name] = metrics(ranks)
            chosen = {q.id for q in rerank_questions}
            results["rerank_sample"][name] = metrics([r for q, r in zip(questions, ranks) if q.id in chosen])
            embeddings.cache.save()
        results["pool_recall"] = pool_recall(index, questions, (depth, 2 * depth))
        print(f"  fused pool (the reranker's ceiling) on {len(questions)} questions: {results['pool_recall']}", flush=True)
        full = HybridRetriever(index=index, options=RetrievalOptions(rerank_depth=depth), cross_encoder=encoder)
        name = f"dense+BM25 + rerank top-{depth} (full)"
        skipped: list = []
        results["rerank_sample"][name] = metrics(ranks_for(full, rerank_questions, skipped))
        results["rerank_sample"][name]["questions"] = len(rerank_questions) - len(skipped)
        if skipped:
            print(f"  full pipeline scored on {len(rerank_questions) - len(skipped)} questions with cached "
                  f"cross-encoder scores ({len(skipped)} left out)", flush=True)
        encoder.cache.save()
        if depths:
            results["depth_sweep"] = depth_sweep(index, encoder, rerank_questions, depths)
            encoder.cache.save()
        return results


def evaluate_tutorial(documents, questions, rerank_questions, embeddings) -> dict:
    import chromadb
    from chromadb.config import Settings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document as LCDocument
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200, add_start_index=True)
    splits = splitter.split_documents([LCDocument(page_content=d.text, metadata={"doc": d.id}) for d in documents])
    with tempfile.TemporaryDirectory(prefix="bench-tutorial-") as tmp:
        client = chromadb.PersistentClient(path=tmp, settings=Settings(anonymized_telemetry=False))
        store = Chroma(collection_name="tutorial", embedding_function=embeddings, client=client)
        store.add_documents(splits)
        embeddings.cache.save()
        ranks = []
        for q in questions:
            hits = store.similarity_search(q.question, k=K)
            spans = [(h.metadata["doc"], h.metadata["start_index"], h.metadata["start_index"] + len(h.page_content)) for h in hits]
            ranks.append(first_hit_rank(q, spans))
        embeddings.cache.save()
    chosen = {q.id for q in rerank_questions}
    return {
        "chunks": len(splits),
        "all": metrics(ranks),
        "rerank_sample": metrics([r for q, r in zip(questions, ranks) if q.id in chosen]),
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--chunk-size", type=int, default=500)
    p.add_argument("--chunk-overlap", type=int, default=100)
    p.add_argument("--sweep", default="", help="several chunkings, e.g. 300/60,500/100,800/150 (overrides the two above)")
    p.add_argument("--rerank-depth", type=int, default=20)
    p.add_argument("--rerank-limit", type=int, default=300, help="questions (a seeded subsample) for the reranked runs")
    p.add_argument("--rerank-all", action="store_true", help="rerank every evaluated question (about 1 s each on 2 cores)")
    p.add_argument("--depths", default="", help="rerank depths to compare on the rerank subsample, e.g. 5,10,20,30")
    p.add_argument("--no-tutorial", action="store_true")
    p.add_argument("--only-full", action="store_true", help="only the full pipeline (with rerank), not its stages alone")
    p.add_argument("--cached-only", action="store_true",
                   help="score only the questions whose cross-encoder scores are cached (a long run cut short)")
    p.add_argument("--docs", type=int, default=None, help="smoke test: index only the first N articles (and their questions)")
    args = p.parse_args()

    started = time.perf_counter()
    documents, all_questions = load_squad()
    if args.docs:
        documents = documents[: args.docs]
        keep = {d.id for d in documents}
        all_questions = [q for q in all_questions if q.doc_id in keep]
    questions = sample(all_questions, args.limit, args.seed)
    # the rerank subsample is drawn from the fixed 1000-question sample, so runs with and without --limit 1000 share
    # their first questions (and the cached cross-encoder scores): sample(…, 120) is a prefix draw of sample(…, 250)
    pool = questions if len(questions) <= 1000 else sample(all_questions, 1000, args.seed)
    rerank_questions = questions if args.rerank_all else sample(pool, args.rerank_limit, args.seed + 1)
    chunkings = [tuple(map(int, c.split("/"))) for c in args.sweep.split(",")] if args.sweep else [(args.chunk_size, args.chunk_overlap)]
    depths = [int(d) for d in args.depths.split(",")] if args.depths else []
    print(f"{len(documents)} documents, {len(questions)} questions, rerank subsample {len(rerank_questions)}", flush=True)

    embeddings, encoder = CachedEmbeddings(), CachedCrossEncoder(cache_only=args.cached_only)
    project = {}
    for size, overlap in chunkings:
        project[f"{size}/{overlap}"] = evaluate_project(
            documents, questions, rerank_questions, size, overlap, args.rerank_depth, depths, embeddings, encoder,
            only_full=args.only_full,
        )
    tutorial = None if args.no_tutorial else evaluate_tutorial(documents, questions, rerank_questions, embeddings)

    for scope, n in (("all", len(questions)), ("rerank_sample", len(rerank_questions))):
        rows = []
        for chunking, res in project.items():
            for name, m in res[scope].items():
                rows.append([f"project {chunking}: {name}", res["chunks"], m["hit@1"], m["hit@4"], m["mrr@10"]])
        if tutorial:
            m = tutorial[scope]
            rows.append(["LangChain tutorial (1000/200 recursive splitter, Chroma top-k)", tutorial["chunks"], m["hit@1"], m["hit@4"], m["mrr@10"]])
        label = "all evaluated questions" if scope == "all" else "rerank subsample"
        print(f"\n### Retrieval on {n} questions ({label})\n")
        print(table(["pipeline", "chunks", "hit@1", "hit@4", "MRR@10"], rows))
    for chunking, res in project.items():
        print(f"\nFused pool {chunking} (share of the {len(questions)} questions with a hit among the chunks the "
              f"reranker sees): {res['pool_recall']}")
        if "depth_sweep" in res:
            print(f"\n### Rerank depth, chunking {chunking}, {len(rerank_questions)} questions\n")
            print(table(["rerank depth", "hit@1", "hit@4", "MRR@10"],
                        [[d, m["hit@1"], m["hit@4"], m["mrr@10"]] for d, m in res["depth_sweep"].items()]))
    elapsed = time.perf_counter() - started
    print(f"\nrun time {elapsed / 60:.1f} min")
    name = "retrieval_sweep" if args.sweep else "retrieval"
    path = write_results(name, {
        "args": vars(args), "questions": len(questions), "rerank_questions": len(rerank_questions),
        "project": project, "tutorial": tutorial, "run_seconds": round(elapsed, 1),
    })
    print(f"results: {path}")


if __name__ == "__main__":
    main()
