"""Fit the extractive engine's sentence-scoring weights on the CoQA CNN dev dialogs, cross-validated by story.

Caches cross-encoder scores for every (turn, story sentence) pair, then fits a listwise (softmax) linear
model over the features in `assistant/engines/features.py`, simulating each dialog in order so that
"the previous answer" is the engine's own previous pick, not the gold one. Prints the held-out top-1
rationale hit rate (what citation precision measures) for first turns and follow-ups, per feature set.

    python benchmarks/coqa_features.py            # writes benchmarks/results/coqa_features.json
"""

from __future__ import annotations

import json
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engines.features import FEATURES, SentenceContext, features, shares  # noqa: E402
from store import CrossEncoder  # noqa: E402
from store.chunking import sentence_spans  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "coqa_cnn_dev.json"
CACHE = ROOT / "benchmarks" / "results" / "coqa_ce_cache.pkl"


def cross_encoder_scores(dialogs):
    """For every turn: sentence spans, CE(question, s) and CE(previous question + question, s)."""
    if CACHE.exists():
        return pickle.loads(CACHE.read_bytes())
    encoder = CrossEncoder()
    cache = {}
    started = time.perf_counter()
    for n, dialog in enumerate(dialogs):
        story = dialog["story"]
        spans = [(s, e) for s, e, _ in sentence_spans(story)]
        texts = [story[s:e] for s, e in spans]
        previous = ""
        for i, q in enumerate(dialog["questions"]):
            question = q["input_text"]
            alone = encoder.score(question, texts)
            joined = encoder.score(f"{previous} {question}", texts) if previous else alone
            cache[(dialog["id"], i)] = (spans, np.array(alone), np.array(joined))
            previous = question
        print(f"{n + 1}/{len(dialogs)} dialogs, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_bytes(pickle.dumps(cache))
    return cache


def simulate(dialogs, cache, weights, mask):
    """Run each dialog in order with these weights; per turn (kind, hit, feature matrix, gold vector)."""
    out = []
    for dialog in dialogs:
        cited: list[int] = []
        for i, (q, a) in enumerate(zip(dialog["questions"], dialog["answers"], strict=True)):
            spans, alone, joined = cache[(dialog["id"], i)]
            context = SentenceContext(question=q["input_text"], follow_up=i > 0, previous=cited[-1] if cited else None,
                                      cited=set(cited), count=len(spans))
            texts = [dialog["story"][s:e] for s, e in spans]
            sa, sj = shares(list(alone)), shares(list(joined))
            matrix = np.array([features(context, k, text, alone[k], joined[k], sa[k], sj[k])
                               for k, text in enumerate(texts)]) * mask
            gold = np.array([s < a["span_end"] and a["span_start"] < e for s, e in spans], dtype=float)
            pick = int(np.argmax(matrix @ weights))
            out.append(("first" if i == 0 else "follow-up", bool(gold[pick]) if a["span_start"] >= 0 else None, matrix, gold))
            cited.append(pick)
    return out


def fit(samples, dims, l2=0.01):
    """Listwise softmax regression (L-BFGS): maximise the probability mass on gold sentences."""
    lists = [(matrix, gold / gold.sum()) for _, _, matrix, gold in samples if gold.any()]

    def loss(weights):
        total, grad = 0.0, np.zeros(dims)
        for matrix, target in lists:
            logits = matrix @ weights
            logits -= logits.max()
            p = np.exp(logits)
            p /= p.sum()
            total -= float(target @ np.log(p + 1e-12))
            grad += matrix.T @ (p - target)
        return total / len(lists) + l2 * weights @ weights, grad / len(lists) + 2 * l2 * weights

    start = np.zeros(dims)
    start[0] = 1.0
    return minimize(loss, start, jac=True, method="L-BFGS-B").x


def evaluate(dialogs, cache, mask, folds=5, rounds=3):
    """Held-out hit rates by fold (stories never seen in fitting); weights refit on each round's own picks."""
    order = list(range(len(dialogs)))
    random.Random(0).shuffle(order)
    hits = {"first": [], "follow-up": []}
    for f in range(folds):
        test = [dialogs[i] for i in order[f::folds]]
        train = [d for i, d in enumerate(dialogs) if i not in set(order[f::folds])]
        weights = np.zeros(len(FEATURES))
        weights[0] = 1.0
        for _ in range(rounds):
            weights = fit(simulate(train, cache, weights, mask), len(FEATURES))
        for kind, hit, _, _ in simulate(test, cache, weights, mask):
            if hit is not None:
                hits[kind].append(hit)
    return {k: round(float(np.mean(v)), 3) for k, v in hits.items()}


def main() -> None:
    dialogs = json.loads(EVAL.read_text())["data"]
    cache = cross_encoder_scores(dialogs)
    results = {}
    ablations = {"question only": ["ce_question"], "+ previous question": ["ce_question", "ce_joined"],
                 "+ conversation position": FEATURES[:8], "all": FEATURES}
    for name, used in ablations.items():
        mask = np.array([f in used for f in FEATURES], dtype=float)
        results[name] = evaluate(dialogs, cache, mask)
        print(f"| {name} | {results[name]['first']} | {results[name]['follow-up']} |")
    mask = np.ones(len(FEATURES))
    weights = np.zeros(len(FEATURES))
    weights[0] = 1.0
    for _ in range(3):
        weights = fit(simulate(dialogs, cache, weights, mask), len(FEATURES))
    results["weights"] = dict(zip(FEATURES, np.round(weights, 4).tolist(), strict=True))
    print(json.dumps(results["weights"], indent=1))
    (ROOT / "benchmarks" / "results" / "coqa_features.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
