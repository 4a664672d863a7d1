"""Conversational QA on CoQA CNN dev dialogs, run through `assistant script --json` exactly as a user would.

Each of the 40 dialogs becomes one scripted conversation whose story is its only (inline) document.
Reported separately for first turns and follow-ups:
  - rationale recall@3: one of the top three sources overlaps the gold rationale span;
  - citation precision: the answer's first citation overlaps the gold rationale span (a refusal counts as a miss;
    the next column is the same over the turns answered);
  - CoQA F1 (official normalisation, max over the gold answers);
  - refusal rate (answerable turns should not be refused);
  - latency per turn, p50 and p95 (warm: the first conversation is run once before timing).
With --negatives, each story is also asked questions of other stories (out of scope: all should be refused).

Baseline (from the issue, other CoQA CNN dialogs): the story sentence most similar to the raw question
overlaps the rationale in 0.60 of first turns, 0.41 of follow-ups; F1 11.4.

    python benchmarks/coqa.py [--dialogs N] [--negatives] [--engine extractive]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT.parent / "shared" / "eval" / "coqa_cnn_dev.json"
RESULTS = ROOT / "benchmarks" / "results"


def normalize(text: str) -> list[str]:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return text.split()


def f1(prediction: str, gold: str) -> float:
    p, g = normalize(prediction), normalize(gold)
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def strip_markers(answer: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", answer)


def build_script(dialogs: list[dict], negatives: int, seed: int) -> dict:
    conversations = []
    for dialog in dialogs:
        conversations.append({
            "id": dialog["id"],
            "documents": [{"title": f"CNN story {dialog['id'][:8]}", "text": dialog["story"]}],
            "turns": [{"ask": q["input_text"]} for q in dialog["questions"]],
        })
    rng = random.Random(seed)
    for dialog in dialogs[: negatives and len(dialogs)]:
        others = [d for d in dialogs if d is not dialog]
        asked = [rng.choice(other["questions"][:1])["input_text"] for other in rng.sample(others, negatives)]
        conversations.append({
            "id": f"neg-{dialog['id']}",
            "documents": [{"title": f"CNN story {dialog['id'][:8]}", "text": dialog["story"]}],
            "turns": [{"ask": q} for q in asked],
        })
    return {"conversations": conversations}


def run_script(script: dict, engine: str, store: Path) -> list[dict]:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(script, handle, allow_unicode=True)
    command = [sys.executable, "-m", "assistant", "script", handle.name, "--json", "--engine", engine, "--store", str(store)]
    # the checkout this benchmark belongs to, not whichever one the environment has installed (an editable install
    # would otherwise run the tree being edited when a snapshot is benchmarked)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env)
    if done.returncode not in (0, 1):
        raise SystemExit(f"assistant script failed ({done.returncode}): {done.stderr[-2000:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def overlaps(start: int, end: int, gold_start: int, gold_end: int) -> bool:
    return start < gold_end and gold_start < end


def score(dialogs: list[dict], results: list[dict]) -> dict:
    by_turn = {(r["conversation"], r["turn"]): r for r in results}
    rows = {"first": [], "follow-up": []}
    for dialog in dialogs:
        for i, answer in enumerate(dialog["answers"]):
            r = by_turn[(dialog["id"], i + 1)]
            golds = [answer["input_text"]] + [dialog["additional_answers"][k][i]["input_text"]
                                              for k in ("0", "1", "2") if i < len(dialog["additional_answers"][k])]
            gs, ge = answer["span_start"], answer["span_end"]
            has_span = gs >= 0
            first_citation = r["citations"][0] if r["citations"] else None
            rows["first" if i == 0 else "follow-up"].append({
                "recall3": has_span and any(overlaps(s["start"], s["end"], gs, ge) for s in r["sources"][:3]),
                "precision": has_span and first_citation is not None and overlaps(first_citation["start"], first_citation["end"], gs, ge),
                "f1": max(f1(strip_markers(r["answer"]) if not r["refused"] else "", g) for g in golds),
                "refused": r["refused"],
                "latency": r["latency_ms"],
                "first_token": r.get("first_token_ms") or r["latency_ms"],
                "has_span": has_span,
            })
    table = {}
    for kind, items in rows.items():
        spans = [x for x in items if x["has_span"]]
        latencies = sorted(x["latency"] for x in items)
        table[kind] = {
            "turns": len(items),
            "rationale_recall@3": round(sum(x["recall3"] for x in spans) / len(spans), 3),
            "citation_precision": round(sum(x["precision"] for x in spans) / len(spans), 3),
            # the same over the turns it answered: how often its chosen sentence is right, refusals aside
            "citation_precision_answered": round(
                sum(x["precision"] for x in spans if not x["refused"]) / max(1, sum(not x["refused"] for x in spans)), 3),
            "f1": round(100 * statistics.mean(x["f1"] for x in items), 1),
            "refused": round(sum(x["refused"] for x in items) / len(items), 3),
            "p50_ms": round(statistics.median(latencies), 1),
            "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
            "first_token_p50_ms": round(statistics.median(x["first_token"] for x in items), 1),
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogs", type=int, default=0, help="only the first N dialogs (0: all 40)")
    parser.add_argument("--negatives", type=int, default=0, help="out-of-scope questions per story")
    parser.add_argument("--engine", default="extractive")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", type=Path, help="the local engine's GGUF file (default: the installed model)")
    args = parser.parse_args()
    if args.model:
        os.environ["ASSISTANT_LOCAL_MODEL"] = str(args.model.resolve())
    dialogs = json.loads(EVAL.read_text())["data"]
    dialogs = dialogs[: args.dialogs] if args.dialogs else dialogs
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "store"
        run_script(build_script(dialogs[:1], 0, args.seed), args.engine, store)  # warm the store and caches
        started = time.perf_counter()
        results = run_script(build_script(dialogs, args.negatives, args.seed), args.engine, store)
        elapsed = time.perf_counter() - started
    table = score(dialogs, results)
    negatives = [r for r in results if r["conversation"].startswith("neg-")]
    print(f"CoQA CNN dev: {len(dialogs)} dialogs, engine {args.engine}, {elapsed:.0f} s in all\n")
    print("| turns | n | rationale recall@3 | citation precision | …of answered turns | F1 | refused | first token p50 ms | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for kind, row in table.items():
        print(f"| {kind} | {row['turns']} | {row['rationale_recall@3']} | {row['citation_precision']} | {row['citation_precision_answered']} | {row['f1']} "
              f"| {row['refused']} | {row['first_token_p50_ms']} | {row['p50_ms']} | {row['p95_ms']} |")
    if negatives:
        rate = sum(r["refused"] for r in negatives) / len(negatives)
        print(f"\nout-of-scope questions refused: {rate:.3f} of {len(negatives)}")
        table["negatives_refused"] = rate
    RESULTS.mkdir(parents=True, exist_ok=True)
    label = args.engine + (f"-{args.model.stem}" if args.model else "")
    (RESULTS / f"coqa-{label}.json").write_text(json.dumps({"table": table, "results": results}, indent=1))


if __name__ == "__main__":
    main()
