"""Fit the extractive engine's sentence-scoring weights on the CoQA CNN dev dialogs, cross-validated by story.

Caches cross-encoder scores for every (turn, story sentence) pair, then fits a listwise (softmax) linear
model over the features in `assistant/engines/features.py` -- one for first turns, one for follow-ups --
simulating each dialog in order so that "the previous answer" is the engine's own previous pick, not the gold one. Prints the held-out top-1
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

from assistant.engines.features import FEATURES, FOLLOW_UP_FEATURES, SentenceContext, features, shares  # noqa: E402
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


KINDS = ("first", "follow-up")


def simulate(dialogs, cache, weights, masks):
    """Run each dialog in order, first turns and follow-ups each with their own weights and feature mask;
    per turn (kind, hit, feature matrix, gold vector)."""
    out = []
    for dialog in dialogs:
        cited: list[int] = []
        for i, (q, a) in enumerate(zip(dialog["questions"], dialog["answers"], strict=True)):
            kind = KINDS[i > 0]
            spans, alone, joined = cache[(dialog["id"], i)]
            context = SentenceContext(question=q["input_text"], follow_up=i > 0, previous=cited[-1] if cited else None,
                                      cited=set(cited), count=len(spans))
            texts = [dialog["story"][s:e] for s, e in spans]
            sa, sj = shares(list(alone)), shares(list(joined))
            matrix = np.array([features(context, k, text, alone[k], joined[k], sa[k], sj[k])
                               for k, text in enumerate(texts)]) * masks[kind]
            gold = np.array([s < a["span_end"] and a["span_start"] < e for s, e in spans], dtype=float)
            pick = int(np.argmax(matrix @ weights[kind]))
            out.append((kind, bool(gold[pick]) if a["span_start"] >= 0 else None, matrix, gold))
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


def fit_both(dialogs, cache, masks, rounds=3):
    """Weights for first turns and for follow-ups, refit on each round's own picks (the previous answer is the
    engine's own)."""
    start = np.zeros(len(FEATURES))
    start[0] = 1.0
    weights = {kind: start for kind in KINDS}
    for _ in range(rounds):
        samples = simulate(dialogs, cache, weights, masks)
        weights = {kind: fit([s for s in samples if s[0] == kind], len(FEATURES)) for kind in KINDS}
    return weights


def evaluate(dialogs, cache, masks, folds=5):
    """Held-out hit rates by fold (stories never seen in fitting)."""
    order = list(range(len(dialogs)))
    random.Random(0).shuffle(order)
    hits = {kind: [] for kind in KINDS}
    for f in range(folds):
        held = set(order[f::folds])
        train = [d for i, d in enumerate(dialogs) if i not in held]
        weights = fit_both(train, cache, masks)
        for kind, hit, _, _ in simulate([dialogs[i] for i in order[f::folds]], cache, weights, masks):
            if hit is not None:
                hits[kind].append(hit)
    return {k: round(float(np.mean(v)), 3) for k, v in hits.items()}


def mask(names) -> np.ndarray:
    return np.array([f in names for f in FEATURES], dtype=float)


BUDGETS = ((99, 99, None), (12, 3, None), (12, 3, 4), (8, 2, None), (6, 2, None), (4, 1, None), (3, 1, None))


def pruning_frontier(dialogs, cache, masks, budgets=BUDGETS, folds=5):
    """Held-out precision when the cross-encoder scores only `keep` sentences chosen by shared query words
    (plus those within `near` of the previous answer), and the median number of cross-encoder pairs per turn
    (two passes on follow-ups) -- what the engine's latency is made of. With `second`, a follow-up's second pass
    (joined with the previous question) scores only the `second` best sentences of the first pass and the previous
    answer's, and the pick is among them (the engine's cascade)."""
    from assistant.followup import salient_terms

    def stems(text):
        return {w.lower()[:6] for w in salient_terms(text)}

    order = list(range(len(dialogs)))
    random.Random(0).shuffle(order)
    folds_weights = []
    for f in range(folds):
        held = set(order[f::folds])
        folds_weights.append((held, fit_both([d for i, d in enumerate(dialogs) if i not in held], cache, masks)))
    rows = []
    for keep, near, second in budgets:
        hits, pairs = {k: [] for k in KINDS}, {k: [] for k in KINDS}
        for held, weights in folds_weights:
            for dialog in (dialogs[i] for i in sorted(held)):
                cited, previous_question = [], ""
                for i, (q, a) in enumerate(zip(dialog["questions"], dialog["answers"], strict=True)):
                    kind = KINDS[i > 0]
                    spans, alone, joined = cache[(dialog["id"], i)]
                    texts = [dialog["story"][s:e] for s, e in spans]
                    terms = stems(f"{q['input_text']} {previous_question}")
                    overlap = np.array([len(terms & stems(t)) for t in texts], float) - 0.001 * np.arange(len(texts))
                    chosen = set(np.argsort(-overlap)[:keep].tolist())
                    if cited:
                        chosen |= {k for k in range(len(texts)) if abs(k - cited[-1]) <= near}
                    chosen = sorted(chosen)
                    first_pass = len(chosen)
                    if i > 0 and second:
                        chosen = sorted(set(sorted(chosen, key=lambda k: -alone[k])[:second]) | {cited[-1]})
                    context = SentenceContext(question=q["input_text"], follow_up=i > 0,
                                              previous=cited[-1] if cited else None, cited=set(cited), count=len(spans))
                    sa, sj = shares([alone[k] for k in chosen]), shares([joined[k] for k in chosen])
                    matrix = np.array([features(context, k, texts[k], alone[k], joined[k], sa[j], sj[j])
                                       for j, k in enumerate(chosen)]) * masks[kind]
                    pick = chosen[int(np.argmax(matrix @ weights[kind]))]
                    if a["span_start"] >= 0:
                        s, e = spans[pick]
                        hits[kind].append(s < a["span_end"] and a["span_start"] < e)
                    pairs[kind].append(first_pass + (len(chosen) if i > 0 else 0))
                    cited.append(pick)
                    previous_question = q["input_text"]
        rows.append({"keep": "all" if keep == 99 else keep, "near": near, "second": second,
                     **{f"{k} precision": round(float(np.mean(hits[k])), 3) for k in KINDS},
                     **{f"{k} pairs": float(np.median(pairs[k])) for k in KINDS}})
    return rows


def main() -> None:
    dialogs = json.loads(EVAL.read_text())["data"]
    cache = cross_encoder_scores(dialogs)
    results = {}
    ablations = {
        "question only": (["ce_question"], ["ce_question"]),
        "+ previous question": (["ce_question"], ["ce_question", "ce_joined"]),
        "+ conversation position": (["ce_question"], FEATURES[:8]),
        "all features, both kinds": (FEATURES, FEATURES),
        "chosen: all for first turns, conversation features for follow-ups": (FEATURES, FOLLOW_UP_FEATURES),
    }
    print("| features (first turns; follow-ups) | first turns | follow-ups |\n|---|---|---|")
    for name, (first, follow) in ablations.items():
        results[name] = evaluate(dialogs, cache, {"first": mask(first), "follow-up": mask(follow)})
        print(f"| {name} | {results[name]['first']} | {results[name]['follow-up']} |", flush=True)
    weights = fit_both(dialogs, cache, {"first": mask(FEATURES), "follow-up": mask(FOLLOW_UP_FEATURES)})
    results["weights"] = {
        kind: {f: round(float(w), 4) for f, w in zip(FEATURES, weights[kind], strict=True) if w != 0} for kind in KINDS
    }
    print(json.dumps(results["weights"], indent=1))
    results["pruning"] = pruning_frontier(dialogs, cache, {"first": mask(FEATURES), "follow-up": mask(FOLLOW_UP_FEATURES)})
    print("\n| sentences scored (+ neighbours) | first turns | pairs | follow-ups | pairs |\n|---|---|---|---|---|")
    for row in results["pruning"]:
        cascade = f", then the best {row['second']} joined" if row["second"] else ""
        print(f"| {row['keep']} (+{row['near']}){cascade} | {row['first precision']} | {row['first pairs']} | "
              f"{row['follow-up precision']} | {row['follow-up pairs']} |")
    (ROOT / "benchmarks" / "results" / "coqa_features.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
