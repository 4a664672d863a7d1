"""The meaning check (`assistant/meaning.py`) on claims made from real sentences: SQuADShifts NYT paragraphs
(`../shared/eval/squadshifts_nyt_dev.json`), contradictions it must flag and faithful restatements it must keep,
with the real paraphrases of `paraphrases.json` beside them.

    python benchmarks/meaning.py [--sentences 600] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.meaning import disagreement  # noqa: E402
from store.chunking import sentence_spans  # noqa: E402
from tests.claims import article_entities, contradictions, faithful  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
PARAPHRASES = Path(__file__).with_name("paraphrases.json")


def sentences(limit: int) -> list[tuple[str, dict[str, list[str]]]]:
    squad = json.loads((EVAL / "squadshifts_nyt_dev.json").read_text(encoding="utf-8"))["data"]
    out = []
    for article in squad:
        text = "\n\n".join(p["context"] for p in article["paragraphs"])
        others = article_entities(text)
        for start, end, _ in sentence_spans(text):
            sentence = text[start:end].strip()
            if 60 <= len(sentence) <= 300:
                out.append((sentence, others))
        if len(out) >= limit:
            break
    return out[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(14)
    kinds: dict[str, list[bool]] = defaultdict(list)
    timings = []
    misses: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for sentence, others in sentences(args.sentences):
        for kind, claim in contradictions(sentence, others, rng):
            t = time.perf_counter()
            reason = disagreement(claim, sentence)
            timings.append(time.perf_counter() - t)
            kinds[f"flagged: {kind}"].append(reason is not None)
            if reason is None:
                misses[kind].append((claim, sentence, reason))
        for claim in faithful(sentence):
            reason = disagreement(claim, sentence)
            kinds["kept: faithful"].append(reason is None)
            if reason is not None:
                misses["faithful"].append((claim, sentence, reason))
    if PARAPHRASES.exists():
        for row in json.loads(PARAPHRASES.read_text(encoding="utf-8")):
            reason = disagreement(row["claim"], row["source"])
            kinds["kept: real paraphrase"].append(reason is None)
            if reason is not None:
                misses["paraphrase"].append((row["claim"], row["source"], reason))
    flagged = [x for k, v in kinds.items() if k.startswith("flagged") for x in v]
    table = {k: {"n": len(v), "rate": round(sum(v) / len(v), 3)} for k, v in sorted(kinds.items())}
    table["flagged: all contradictions"] = {"n": len(flagged), "rate": round(sum(flagged) / max(len(flagged), 1), 3)}
    table["ms per check (median)"] = {"n": len(timings), "rate": round(1000 * statistics.median(timings), 2)}
    if args.json:
        print(json.dumps({"table": table, "misses": {k: v[:10] for k, v in misses.items()}}, indent=2))
        return
    print("| claims | n | rate |\n|---|---|---|")
    for k, row in table.items():
        print(f"| {k} | {row['n']} | {row['rate']} |")


if __name__ == "__main__":
    main()
