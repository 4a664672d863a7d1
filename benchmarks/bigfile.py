"""One huge text file through Index.add: time, chunks and peak memory (the store's share).

Writes a --megabytes text file of random news-like sentences (benchmarks/results/, git-ignored), then indexes it
into a fresh embedded store with Index.add and reports the process's peak RSS as it goes. The embedding model is
replaced by a deterministic hash embedder (same name and dimension as bge), so what is measured is loading,
chunking, batching and Chroma — the part the project controls; the real model adds its own ~300 MB and about
an hour of CPU for 50 MB (~37 chunks/s on 2 cores, benchmarks/indexing.py).

    python benchmarks/bigfile.py [--megabytes 50]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from common import RESULTS
from store import Index, StoreSettings
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
    args = p.parse_args()
    path = RESULTS / f"bigfile-{args.megabytes}mb.txt"
    if not path.exists():
        write_file(path, args.megabytes)
    started = time.perf_counter()
    document = load_file(path)
    print(f"loaded {path.name}: {len(document.text):,} characters, peak RSS {peak_mb()} MB", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-bigfile-") as tmp:
        index = Index(StoreSettings(store=Path(tmp)), HashEmbeddings())
        marks = []

        def progress(done: int, total: int) -> None:
            if not marks or done - marks[-1][0] >= 20_000 or done == total:
                marks.append((done, time.perf_counter() - started, peak_mb()))
                print(f"  {done:,}/{total:,} chunks, {marks[-1][1]:.0f} s, peak RSS {marks[-1][2]} MB", flush=True)

        report = index.add([document], progress)
        elapsed = time.perf_counter() - started
    print(f"\n| file | chunks | time (hash embedder) | peak RSS |\n|---|---|---|---|\n"
          f"| {args.megabytes} MB | {report.chunks_embedded:,} | {elapsed:.0f} s | {peak_mb():,} MB |")


if __name__ == "__main__":
    main()
