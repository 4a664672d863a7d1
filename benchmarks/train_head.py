"""Fit the cross-encoder's sentence head (store/sentence_head.py) and judge it held out.

The extractive engine ranks a question's candidate sentences (the best by ColBERT) by the ms-marco cross-encoder's
logit and a few features. The cross-encoder was trained on web passages; the head re-reads its last-layer [CLS]
state to choose the sentence that holds the answer: score = a · logit + w · state + b, fitted listwise (a softmax
over each question's candidates, the sentences holding the answer as its target) with an L2 penalty on w.

Training data: SQuADShifts NYT dev (CC BY-SA 4.0; single questions with answer offsets; the sentence holding the answer
is gold), without the 10 articles natural dev is written on. Held out: NYT by folds of articles, natural dev's first
turns and CoQA dev's first turns (CoQA's file asks to be kept out of training: it is only judged). The penalty is
chosen on the NYT folds alone. The head written is fitted on all of those NYT questions.

    python benchmarks/train_head.py [--write]   # prints the table; --write replaces store/data/sentence_head.json
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.engines.extractive import CANDIDATES  # noqa: E402
from store.encoders import CrossEncoder, LateInteraction  # noqa: E402
from store.models import MINILM_RERANKER  # noqa: E402
from store.sentence_head import HEAD_FILE, SentenceHead  # noqa: E402

import fit_features  # noqa: E402  (beside this script)
import train_ranker  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
STATE = "/bert/encoder/layer.11/output/LayerNorm/Add_1_output_0"  # the last layer, before the pooler
SIZE = 384
PENALTIES = (0.003, 0.01, 0.03, 0.1)
FOLDS = 5


@functools.cache
def models() -> tuple[LateInteraction, CrossEncoder]:
    """ColBERT, and the cross-encoder reading the state a head is fitted on."""
    return LateInteraction(), CrossEncoder(head=SentenceHead.untrained(MINILM_RERANKER, STATE, SIZE))


def read(questions: list[dict], path: Path) -> list[dict]:
    """Each question's candidates (the CANDIDATES sentences ColBERT ranks best in its story, in story order), with
    their cross-encoder logits and states and which hold the answer; cached by question and story."""

    def compute(q: dict):
        late, encoder = models()
        spans, texts, keep, _ = train_ranker.candidates(q, late, CANDIDATES)
        read = encoder.read(q["question"], [texts[k] for k in keep])
        gold = np.array([any(spans[k][0] < ge and gs < spans[k][1] for gs, ge in q["gold"]) for k in keep], float)
        return np.array([logit for logit, _ in read], np.float32), np.stack([state for _, state in read]), gold

    return [{"group": q.get("article", q["story_id"]), "logits": logits, "states": states, "gold": gold}
            for q, (logits, states, gold) in zip(questions, train_ranker.cached(questions, path, compute), strict=True)]


def fit(samples: list[dict], penalty: float, steps: int = 300, rate: float = 0.01) -> SentenceHead:
    """Listwise softmax regression (Adam) on the questions whose answer is among their candidates; the states
    standardised while fitting, the weights brought back to raw states."""
    samples = [s for s in samples if s["gold"].any()]
    states = np.concatenate([s["states"] for s in samples])
    mean, scale = states.mean(axis=0), states.std(axis=0) + 1e-6
    n = len(samples)
    x = np.zeros((n, CANDIDATES, SIZE), np.float32)
    logits, target = np.zeros((n, CANDIDATES)), np.zeros((n, CANDIDATES))
    absent = np.full((n, CANDIDATES), -1e9)
    for i, s in enumerate(samples):
        k = len(s["gold"])
        x[i, :k], logits[i, :k] = (s["states"] - mean) / scale, s["logits"]
        target[i, :k], absent[i, :k] = s["gold"] / s["gold"].sum(), 0.0
    params = np.zeros(SIZE + 1)
    params[SIZE] = 1.0  # w = 0, a = 1: the cross-encoder alone
    first, second = np.zeros_like(params), np.zeros_like(params)
    for t in range(1, steps + 1):
        scores = params[SIZE] * logits + x @ params[:SIZE] + absent
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        error = p - target
        grad = np.append(np.einsum("nk,nkd->d", error, x) / n + penalty * params[:SIZE], np.sum(error * logits) / n)
        first = 0.9 * first + 0.1 * grad
        second = 0.999 * second + 0.001 * grad**2
        params -= rate * (first / (1 - 0.9**t)) / (np.sqrt(second / (1 - 0.999**t)) + 1e-8)
    weights = params[:SIZE] / scale
    return SentenceHead(model_sha256=dict(MINILM_RERANKER.files)["model.onnx"], state=STATE,
                        logit_weight=round(float(params[SIZE]), 6), weights=tuple(round(float(w), 6) for w in weights),
                        bias=round(float(-weights @ mean), 6))


def hits(samples: list[dict], head: SentenceHead | None) -> list[bool]:
    """Whether each question's best candidate holds its answer (by the logit alone without a head)."""
    out = []
    for s in samples:
        scores = s["logits"] if head is None else [head.score(l, x) for l, x in zip(s["logits"], s["states"], strict=True)]
        out.append(bool(s["gold"][int(np.argmax(scores))]))
    return out


def folds(nyt: list[dict], penalty: float) -> list[bool]:
    """NYT, each fold of articles judged by a head fitted on the others."""
    groups = sorted({s["group"] for s in nyt})
    random.Random(0).shuffle(groups)
    out = []
    for f in range(FOLDS):
        held = set(groups[f::FOLDS])
        head = fit([s for s in nyt if s["group"] not in held], penalty)
        out += hits([s for s in nyt if s["group"] in held], head)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help=f"write the head fitted on all NYT to store/data/{HEAD_FILE}")
    args = parser.parse_args()
    cache = RESULTS / "head_states.pkl"
    nyt = read(train_ranker.nyt_questions(10**6, train_ranker.natural_articles()), cache)
    natural = read(train_ranker.first_questions(fit_features.natural_dialogs()), cache)
    coqa = read(train_ranker.first_questions(fit_features.coqa_dialogs()), cache)
    mean = lambda values: round(float(np.mean(values)), 3)  # noqa: E731
    print(f"{len(nyt)} NYT, {len(natural)} natural dev and {len(coqa)} CoQA dev first questions; "
          f"the answer among the {CANDIDATES} candidates (the ceiling): NYT {mean([s['gold'].any() for s in nyt])}, "
          f"natural {mean([s['gold'].any() for s in natural])}, CoQA {mean([s['gold'].any() for s in coqa])}\n")
    by_penalty = {penalty: mean(folds(nyt, penalty)) for penalty in PENALTIES}
    penalty = max(PENALTIES, key=lambda p: (by_penalty[p], p))
    head = fit(nyt, penalty)
    rows = {"the cross-encoder's logit alone": (mean(hits(nyt, None)), mean(hits(natural, None)), mean(hits(coqa, None))),
            f"the head (penalty {penalty}, chosen on the NYT folds)": (by_penalty[penalty], mean(hits(natural, head)),
                                                                      mean(hits(coqa, head)))}
    print("| first questions, top-1 sentence holds the answer (held out) | NYT (folds by article) | natural dev | CoQA dev |")
    print("|---|---|---|---|")
    for name, (a, b, c) in rows.items():
        print(f"| {name} | {a} | {b} | {c} |")
    print(f"\nNYT folds by penalty: {by_penalty}")
    results = {"questions": {"nyt": len(nyt), "natural": len(natural), "coqa": len(coqa)}, "penalty": penalty,
               "by_penalty": by_penalty, "rows": rows}
    (RESULTS / "train_head.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    if args.write:
        training = {"script": "benchmarks/train_head.py", "data": f"SQuADShifts NYT dev (CC BY-SA 4.0), {len(nyt)} questions "
                    "without natural dev's 10 articles", "penalty": penalty, "held_out": rows}
        path = ROOT / "store" / "data" / HEAD_FILE
        path.write_text(head.model_copy(update={"training": training}).model_dump_json(indent=1) + "\n",
                        encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
