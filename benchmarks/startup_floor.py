"""Where the first answer's seconds go: each step a new process takes before it can answer its first question,
timed one after the other in a fresh process (median of --runs), on the bundled article, with the index, the
BM25 index, the recast models and the article's saved sentence vectors already made (as after a first start).

Each step is marked with what needs it: "every first answer" -- even one answered from the saved BM25 index
alone, without chromadb and the bi-encoder (the design issue 16 proposes) -- or "hybrid retrieval adds". The
steps run in one thread, as they must: imports and onnxruntime's session builds hold the GIL. So the sum of
the first group, plus the window's paint, is the floor of a first answer from one process.

    python benchmarks/startup_floor.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import table, write_results

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
QUESTION = "How many people were killed in the clashes?"

# (group, what, code): run in this order in one process; each step's time is its own (not cumulative)
STEPS = [
    ("any", "the program's entry: argparse", ""),
    ("any", "import textual (the window)", "import textual.app, textual.widgets"),
    ("any", "import spaCy", "import spacy"),
    ("any", "import LangGraph and langchain_core", "import langgraph.graph, langchain_core.messages"),
    ("any", "import the assistant (store, onnxruntime, bm25s…), read the settings",
     "import assistant.service; from assistant.console import assistant_settings, store_settings; "
     "S = store_settings(ARGS)"),
    ("dense", "import chromadb", "import chromadb"),
    ("dense", "open the store (Chroma client, catalog)", "from store import Index; I = Index(S); I.ensure_demo()"),
    ("any", "build the assistant (conversation store, graph; the models load when first used)",
     "A = assistant.service.Assistant(S, assistant_settings(ARGS), index=I)"),
    # the steps of Assistant.warm_up, one by one, on the assistant's own models
    ("any", "load the spaCy pipeline", "from assistant.analysis import analyse; analyse('What is this about?')"),
    ("any", "cross-encoder session, first score", "A._scorer.cross_encoder.score('warm up', ['warm up'])"),
    ("any", "ColBERT session, first score", "A._scorer.late.score('warm up', ['warm up'])"),
    ("any", "load the saved BM25 index", "A._retriever.lexical_index().search('warm up', 1)"),
    ("dense", "bi-encoder session, first query", "I.embeddings.embed(['warm up'])"),
    ("turn", "the first turn, everything loaded", f"A.ask({QUESTION!r})"),
]

CHILD = """
import json, sys, time
started = time.perf_counter()
from assistant import cli
ARGS = cli.parser().parse_args(["ask", "x"])
steps = json.loads(sys.argv[1])
spent = [time.perf_counter() - started]
for code in steps[1:]:
    started = time.perf_counter()
    exec(code)
    spent.append(time.perf_counter() - started)
print(json.dumps(spent))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        env = dict(os.environ, ASSISTANT_STORE=f"{tmp}/store", ASSISTANT_CONVERSATIONS=f"{tmp}/conversations.sqlite",
                   ASSISTANT_CACHE=f"{tmp}/cache",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        # the index, the BM25 index, the recast models and the article's saved vectors exist, as after a first start
        subprocess.run([BIN / "assistant", "ask", QUESTION], env=env, check=True, capture_output=True)
        codes = json.dumps([code for _, _, code in STEPS])
        runs = []
        for run in range(args.runs):
            out = subprocess.run([sys.executable, "-c", CHILD, codes], env=env, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(f"the timed process failed:\n{out.stderr[-2000:]}")
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(f"run {run + 1}: {sum(runs[-1]):.2f} s", flush=True)
    median = [statistics.median(r[i] for r in runs) for i in range(len(STEPS))]
    rows, sums = [], {"any": 0.0, "dense": 0.0, "turn": 0.0}
    for (group, what, _), seconds in zip(STEPS, median, strict=True):
        sums[group] += seconds
        rows.append([{"any": "every first answer", "dense": "hybrid retrieval adds", "turn": "the turn"}[group],
                     what, f"{seconds * 1000:.0f}"])
    rows += [["", "**sum: a first answer from BM25 alone, the turn included**",
              f"**{(sums['any'] + sums['turn']) * 1000:.0f}**"],
             ["", "**sum: the full first answer**", f"**{sum(sums.values()) * 1000:.0f}**"]]
    print(f"\n### What a new process spends before its first answer, ms, median of {args.runs} runs\n")
    print(table(["group", "step", "ms"], rows))
    path = write_results("startup_floor", {"runs": args.runs, "steps": [w for _, w, _ in STEPS],
                                           "median_s": median, "all": runs, "sums_s": sums})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
