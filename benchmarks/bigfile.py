"""One huge text file through Index.add: time, chunks and peak memory (the store's share).

Writes a --megabytes text file of random news-like sentences (benchmarks/results/, git-ignored, or --file), then
indexes it into a fresh embedded store with Index.add and reports the process's peak RSS as it goes. Unless
--real-model, the embedding model is replaced by a deterministic hash embedder (same name and dimension as bge), so
what is measured is loading, chunking, batching and Chroma — the part the project controls; the real model adds its
own memory and about an hour of CPU for 50 MB (~37 chunks/s on 2 cores, benchmarks/indexing.py). `--json` prints
the figures as one JSON line (tests/test_index.py runs it so, with large chunks to keep it short).

    python benchmarks/bigfile.py [--megabytes 50] [--chunk-size 500] [--file PATH] [--real-model] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from common import RESULTS
from store import Index, OnnxEmbeddings, StoreSettings
from store.documents import load_file
from store.models import BGE_SMALL_EN


class HashEmbeddings:
    """Unit vectors seeded by a hash of each text: deterministic, instant, and shaped like bge's."""

    spec = BGE_SMALL_EN
    name, dimension = BGE_SMALL_EN.name, BGE_SMALL_EN.dimension

    def embed(self, texts, progress=None):
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
            out[i] = vector / np.linalg.norm(vector)
        if progress:
            progress(len(texts))
        return out


def peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def write_file(path: Path, megabytes: int) -> None:
    rng = random.Random(0)
    words = "river bridge storm harbour council vote market festival winter engine mayor police report city".split()
    with path.open("w", encoding="utf-8") as out:
        size = 0
        while size < megabytes * 1_000_000:
            paragraph = " ".join(" ".join(rng.choice(words) for _ in range(rng.randint(6, 20))).capitalize() + "."
                                 for _ in range(8))
            out.write(paragraph + "\n\n")
            size += len(paragraph) + 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megabytes", type=int, default=50)
    p.add_argument("--chunk-size", type=int, default=StoreSettings().chunk_size)
    p.add_argument("--file", type=Path, help="the text file to write (if missing) and index")
    p.add_argument("--real-model", action="store_true", help="embed with the project's model (~37 chunks/s), not hashes")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON line, nothing else")
    args = p.parse_args()
    say = (lambda *a, **k: None) if args.json else print
    path = args.file or RESULTS / f"bigfile-{args.megabytes}mb.txt"
    if not path.exists():
        write_file(path, args.megabytes)
    started = time.perf_counter()
    document = load_file(path)
    loaded = peak_mb()
    say(f"loaded {path.name}: {len(document.text):,} characters, peak RSS {loaded} MB", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-bigfile-") as tmp:
        embeddings = OnnxEmbeddings() if args.real_model else HashEmbeddings()
        index = Index(StoreSettings(store=Path(tmp), chunk_size=args.chunk_size), embeddings)
        marks, last = [], [0, 0]

        def progress(done: int, total: int) -> None:
            last[:] = done, total
            if not marks or done - marks[-1][0] >= 20_000 or done == total:
                marks.append((done, time.perf_counter() - started, peak_mb()))
                say(f"  {done:,}/{total:,} chunks, {marks[-1][1]:.0f} s, peak RSS {marks[-1][2]} MB", flush=True)

        report = index.add([document], progress)
        elapsed, indexed = time.perf_counter() - started, peak_mb()
        stored = index.document(document.id).text == document.text
    figures = {"megabytes": round(len(document.text) / 1e6, 1), "chunk_size": args.chunk_size,
               "embedder": "bge-small (real)" if args.real_model else "hash (stand-in)",
               "chunks": report.chunks_embedded, "seconds": round(elapsed, 1), "peak_after_load_mb": loaded,
               "peak_mb": indexed, "text_read_back": stored, "progress": last}
    if args.json:
        print(json.dumps(figures))
        return
    print(f"\n| file | chunk size | embedder | chunks | time | peak RSS after loading | peak RSS | text read back |"
          f"\n|---|---|---|---|---|---|---|---|\n| {figures['megabytes']} MB | {args.chunk_size} | {figures['embedder']} "
          f"| {report.chunks_embedded:,} "
          f"| {elapsed:.0f} s | {loaded:,} MB | {figures['peak_mb']:,} MB | {'exact' if stored else 'DIFFERS'} |")


if __name__ == "__main__":
    main()
