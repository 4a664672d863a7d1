"""Fit the extractive engine's first-question sentence weights on data they are not judged on, and judge them held
out.

A first question's candidates are the sentences ColBERT ranks best in the document (as many as the engine keeps); the
weights combine the cross-encoder's logit with the features of `assistant/engines/features.py`. This measures what
those features add to the cross-encoder on data they were not fitted on (the start of a trained ranker: issue 27).

Training data: SQuADShifts NYT dev (single questions with answer offsets; the sentence holding the answer is gold),
without the 10 articles natural dev is written on, and natural dev's first turns. CoQA dev is never trained on (its
file asks to be kept out of training data); it and `../shared/realdocs/` (benchmarks/realdocs.py) are held out.
Figures: top-1 evidence hit, folds by article for NYT; natural held out by training on NYT alone; CoQA held out.

    python benchmarks/train_ranker.py [--questions 1500]   # writes benchmarks/results/train_ranker.json
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import pickle
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.analysis import analyse  # noqa: E402
from assistant.engines.extractive import CANDIDATES as ENGINE_CANDIDATES  # noqa: E402
from assistant.engines.features import FEATURES, WEIGHTS, SentenceContext, features, shares  # noqa: E402
from store import CrossEncoder  # noqa: E402
from store.chunking import sentence_spans  # noqa: E402
from store.encoders import LateInteraction  # noqa: E402

import fit_features  # noqa: E402  (beside this script)

EVAL = next((p for p in (ROOT.parent / "shared" / "eval", Path("/work/shared/eval")) if p.exists()),
            ROOT.parent / "shared" / "eval")
RESULTS = ROOT / "benchmarks" / "results"
CANDIDATES = 16  # sentences kept by ColBERT and scored by the cross-encoder, per question (cached)


def nyt_questions(limit: int, exclude: set[int]) -> list[dict]:
    """NYT dev questions (every article but `exclude`), `limit` of them drawn evenly by article, seed 0."""
    data = json.loads((EVAL / "squadshifts_nyt_dev.json").read_text(encoding="utf-8"))["data"]
    out = []
    for a, article in enumerate(data):
        if a in exclude:
            continue
        story, offset = "", 0
        for p in article["paragraphs"]:
            if story:
                story += "\n\n"
            offset = len(story)
            story += p["context"]
            for qa in p["qas"]:
                answer = qa["answers"][0]
                start = offset + answer["answer_start"]
                out.append({"set": "nyt", "story_id": f"nyt-{a}", "story": None, "article": a,
                            "question": qa["question"], "gold": [(start, start + len(answer["text"]))]})
        for q in out[-sum(len(p["qas"]) for p in article["paragraphs"]):]:
            q["story"] = story
    random.Random(0).shuffle(out)
    return out[:limit]


def first_questions(dialogs: list[dict]) -> list[dict]:
    """The first question of each dialog (fit_features.py's common form) that has gold spans."""
    return [{"set": d["set"], "story_id": d["story_id"], "story": d["story"], "question": d["questions"][0],
             "gold": d["gold"][0]} for d in dialogs if d["gold"][0]]


def natural_articles() -> set[int]:
    """Every NYT article natural dev is written on (its corpus conversations' too): never trained on as NYT."""
    data = json.loads((EVAL / "natural_dev.json").read_text(encoding="utf-8"))
    return set(data["articles"])


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached(questions: list[dict], path: Path, compute) -> list:
    """`compute(question)` for each question, kept in a pickle at `path` by question and story: computed once, and
    saved as it goes (every 200 questions)."""
    cache = pickle.loads(path.read_bytes()) if path.exists() else {}
    missing = [q for q in questions if (q["question"], _digest(q["story"])) not in cache]
    if missing:
        started = time.perf_counter()
        path.parent.mkdir(parents=True, exist_ok=True)
        for n, q in enumerate(missing):
            cache[(q["question"], _digest(q["story"]))] = compute(q)
            if (n + 1) % 200 == 0 or n + 1 == len(missing):
                print(f"{n + 1}/{len(missing)} questions, {time.perf_counter() - started:.0f} s", file=sys.stderr)
                path.write_bytes(pickle.dumps(cache))
    return [cache[(q["question"], _digest(q["story"]))] for q in questions]


@functools.cache
def models() -> tuple[LateInteraction, CrossEncoder]:
    return LateInteraction(), CrossEncoder()


def candidates(q: dict, late: LateInteraction, count: int):
    """The story's sentence spans and texts, and the `count` sentences ColBERT ranks best for the question (in story
    order) with their MaxSim."""
    spans = [(s, e) for s, e, _ in sentence_spans(q["story"])]
    texts = [q["story"][s:e] for s, e in spans]
    colbert = np.array(late.score(q["question"], texts))
    keep = sorted(np.argsort(-colbert, kind="stable")[:count].tolist())
    return spans, texts, keep, colbert[keep]


def scored(questions: list[dict], path: Path) -> list[dict]:
    """Each question with its candidates: the CANDIDATES sentences ColBERT ranks best in the story, their
    ColBERT MaxSim per question token and cross-encoder logits (cached by question and story)."""

    def compute(q: dict):
        late, encoder = models()
        spans, texts, keep, colbert = candidates(q, late, CANDIDATES)
        return spans, keep, colbert, np.array(encoder.score(q["question"], [texts[k] for k in keep]))

    out = []
    for q, (spans, keep, colbert, ce) in zip(questions, cached(questions, path, compute), strict=True):
        best = sorted(np.argsort(-colbert, kind="stable")[:ENGINE_CANDIDATES].tolist())  # as the engine prunes
        keep, ce = [keep[j] for j in best], ce[best]
        texts = [q["story"][spans[k][0]:spans[k][1]] for k in keep]
        context = SentenceContext(answer_type=analyse(q["question"]).answer_type, follow_up=False, count=len(spans))
        share = shares(list(ce))
        matrix = np.array([features(context, k, t, c, c, share[j], 0.0)
                           for j, (k, t, c) in enumerate(zip(keep, texts, ce, strict=True))])
        gold = np.array([any(spans[k][0] < ge and gs < spans[k][1] for gs, ge in q["gold"]) for k in keep], float)
        out.append({**q, "matrix": matrix, "gold_vector": gold, "found": bool(gold.any())})
    return out


def fit(samples: list[dict], names: list[str]) -> np.ndarray:
    """fit_features.py's listwise softmax regression over the features `names`, each set weighing the same."""
    mask = np.array([f in names for f in FEATURES], dtype=float)
    lists = [(None, None, s["matrix"] * mask, s["gold_vector"], s["set"]) for s in samples if s["found"]]
    return fit_features.fit(fit_features._balanced(lists), len(FEATURES))


def hits(samples: list[dict], weights: np.ndarray) -> float:
    """Top-1 evidence hit over all questions (a question whose gold ColBERT left out counts as a miss)."""
    return float(np.mean([bool(s["gold_vector"][int(np.argmax(s["matrix"] @ weights))]) for s in samples]))


def held_out(nyt: list[dict], natural: list[dict], coqa: list[dict], names: list[str], folds: int = 5) -> dict:
    """Top-1 hit per set, each held out: NYT by article folds (trained on the other folds and natural dev), natural
    dev trained on NYT alone, CoQA trained on both (never on CoQA)."""
    articles = sorted({s["article"] for s in nyt})
    random.Random(0).shuffle(articles)
    nyt_hits = []
    for f in range(folds):
        held = set(articles[f::folds])
        weights = fit([s for s in nyt if s["article"] not in held] + natural, names)
        nyt_hits += [bool(s["gold_vector"][int(np.argmax(s["matrix"] @ weights))]) for s in nyt if s["article"] in held]
    return {"nyt": round(float(np.mean(nyt_hits)), 3), "natural": round(hits(natural, fit(nyt, names)), 3),
            "coqa": round(hits(coqa, fit(nyt + natural, names)), 3)}


FEATURE_SETS = {
    "cross-encoder alone": ["ce_question"],
    "the engine's first-question features": [f for f in FEATURES if f in WEIGHTS["first"]],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=1500, help="NYT questions to train on")
    args = parser.parse_args()
    nyt = nyt_questions(args.questions, natural_articles())
    cache = RESULTS / "ranker_cache.pkl"
    natural = scored(first_questions(fit_features.natural_dialogs()), cache)
    nyt, coqa = scored(nyt, cache), scored(first_questions(fit_features.coqa_dialogs()), cache)
    found = {name: round(float(np.mean([s["found"] for s in data])), 3)
             for name, data in (("nyt", nyt), ("natural", natural), ("coqa", coqa))}
    print(f"gold among ColBERT's {ENGINE_CANDIDATES} candidates (the ceiling): {found}\n")
    results = {"questions": {"nyt": len(nyt), "natural": len(natural), "coqa": len(coqa)}, "ceiling": found}
    print("| first questions, top-1 evidence hit (held out) | NYT (folds by article) | natural dev | CoQA dev |")
    print("|---|---|---|---|")
    shipped = np.array([WEIGHTS["first"].get(f, 0.0) for f in FEATURES])
    results["shipped"] = {name: round(hits(data, shipped), 3) for name, data in (("nyt", nyt), ("natural", natural),
                                                                                ("coqa", coqa))}
    print(f"| the engine's first-question weights (fitted on CoQA and natural dev: in-sample there), on the logits "
          f"(the engine gives them its sentence head's score: train_head.py) | "
          f"{results['shipped']['nyt']} | {results['shipped']['natural']} | {results['shipped']['coqa']} |")
    for name, names in FEATURE_SETS.items():
        results[name] = held_out(nyt, natural, coqa, names)
        print(f"| {name}, fitted on NYT + natural | {results[name]['nyt']} | {results[name]['natural']} | "
              f"{results[name]['coqa']} |", flush=True)
    weights = fit(nyt + natural, FEATURE_SETS["the engine's first-question features"])
    results["weights"] = {f: round(float(w), 4) for f, w in zip(FEATURES, weights, strict=True) if w != 0}
    print("\nthe engine's features fitted on NYT and natural dev:")
    print(json.dumps(results["weights"], indent=1))
    (RESULTS / "train_ranker.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
