"""Follow-up rewriting on CANARD dev: token F1 of a rewrite against the human one, on a fixed sample of 300.

Beside the raw question (the baseline) and the deterministic expansion the extractive engine searches with,
each local model rewrites the question from the dialog history with the same prompt the chain uses
(`assistant.engines.llm.rewrite_messages`). The dialog's title and section go first in the history, as the
opening turn, since CANARD's rewrites often name them.

    python benchmarks/canard.py [--limit 300] [--models 0.5b,1.5b]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coqa import f1  # noqa: E402  (CoQA's official normalisation and token F1)
from common import table, write_results  # noqa: E402

from assistant.engines.llamacpp import LlamaCppChat  # noqa: E402
from assistant.engines.llm import rewrite_messages  # noqa: E402
from assistant.engines.local_models import MODELS, installed  # noqa: E402
from assistant.followup import resolve_followup  # noqa: E402
from assistant.service import AssistantSettings  # noqa: E402
from store import StoreSettings  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "canard_dev.json"


def history_pairs(item: dict) -> list[tuple[str, str]]:
    title, section, *turns = item["History"]
    pairs = [("What is this conversation about?", f"{title}: {section}")]
    pairs += [(turns[i], turns[i + 1]) for i in range(0, len(turns) - 1, 2)]
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--models", default="0.5b,1.5b", help="local models to run, if installed")
    args = parser.parse_args()
    data = json.loads(EVAL.read_text())
    items = random.Random(args.seed).sample(data, args.limit)
    rows = []

    def score(name: str, rewrites: list[str], seconds: list[float] | None = None) -> None:
        value = 100 * statistics.mean(f1(r, i["Rewrite"]) for r, i in zip(rewrites, items, strict=True))
        p50 = round(1000 * statistics.median(seconds)) if seconds else ""
        rows.append([name, round(value, 1), p50])
        print(rows[-1], flush=True)

    score("raw question (baseline)", [i["Question"] for i in items])
    score("deterministic expansion (extractive engine's search)",
          [resolve_followup(i["Question"], history_pairs(i)) for i in items])
    models_dir = AssistantSettings(engine="extractive").models
    available = {m.name: path for m, path in installed(models_dir)}
    for name in args.models.split(","):
        if name not in available:
            print(f"{name}: not installed in {models_dir}; `assistant model install {name}`", flush=True)
            continue
        chat = LlamaCppChat(model_path=str(available[name]), module_cache=StoreSettings().cache, max_tokens=64)
        chat.invoke("Hello")  # load the model before timing
        rewrites, seconds = [], []
        for item in items:
            started = time.perf_counter()
            text = chat.invoke(rewrite_messages(item["Question"], history_pairs(item))).content
            seconds.append(time.perf_counter() - started)
            rewrites.append(" ".join(str(text).split()) or item["Question"])
        score(f"{MODELS[name].title} rewrite", rewrites, seconds)
    print(f"\n### Follow-up rewriting, CANARD dev, {len(items)} questions (token F1 vs the human rewrite)\n")
    print(table(["rewrite", "F1", "p50 ms"], rows))
    print(f"results: {write_results('canard', {'limit': args.limit, 'seed': args.seed, 'rows': rows})}")


if __name__ == "__main__":
    main()
