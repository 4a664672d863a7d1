"""Calibrate when the extractive engine refuses, on CoQA CNN dev: answerable turns vs out-of-scope questions.

Negatives: each story is asked the first questions of five other stories, both as a first turn and as a
follow-up after the story's own first question (where joining it with the previous question could make an
off-topic question look answerable). For each rule the refusal rate on answerable turns and on negatives
is printed; the chosen rule is the one in `assistant/engines/extractive.py`.

    python benchmarks/coqa_refusal.py      # needs the cache written by fit_features.py
"""

from __future__ import annotations

import itertools
import json
import pickle
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import Stemmer  # noqa: E402

from assistant.analysis import analyse  # noqa: E402
from assistant.followup import salient_terms  # noqa: E402
from assistant.service import REFUSE_BELOW  # noqa: E402
from store import CrossEncoder  # noqa: E402
from store.chunking import sentence_spans  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "coqa_cnn_dev.json"
CACHE = ROOT / "benchmarks" / "results" / "coqa_ce_cache.pkl"
NEGATIVE_CACHE = ROOT / "benchmarks" / "results" / "coqa_negative_cache.pkl"


_STEMMER = Stemmer.Stemmer("english")


def novel_terms(question: str, text: str) -> int:
    """How many of the question's content words (stemmed) the text never uses."""
    asked = set(_STEMMER.stemWords([t.lower() for t in salient_terms(question)]))
    return len(asked - set(_STEMMER.stemWords([t.lower() for t in salient_terms(text)])))


def negatives(dialogs, per_story=5, seed=11):
    if NEGATIVE_CACHE.exists():
        return pickle.loads(NEGATIVE_CACHE.read_bytes())
    encoder, rng, rows = CrossEncoder(), random.Random(seed), []
    for dialog in dialogs:
        story = dialog["story"]
        texts = [story[s:e] for s, e, _ in sentence_spans(story)]
        own_first = dialog["questions"][0]["input_text"]
        for other in rng.sample([d for d in dialogs if d is not dialog], per_story):
            question = other["questions"][0]["input_text"]
            alone = max(encoder.score(question, texts))
            joined = max(encoder.score(f"{own_first} {question}", texts))
            rows.append({"question": question, "story": dialog["id"], "alone": alone, "joined": joined,
                         "novel": novel_terms(question, story)})
    NEGATIVE_CACHE.write_bytes(pickle.dumps(rows))
    return rows


def positives(dialogs):
    cache = pickle.loads(CACHE.read_bytes())
    rows = []
    for dialog in dialogs:
        for i, q in enumerate(dialog["questions"]):
            _, alone, joined = cache[(dialog["id"], i)]
            rows.append({"question": q["input_text"], "follow_up": i > 0, "alone": float(alone.max()),
                         "joined": float(joined.max()), "novel": novel_terms(q["input_text"], dialog["story"])})
    return rows


def refuses(row, alone_below, joined_below, max_novel, follow_up):
    """The rule: the question alone scores low, and (on a follow-up) joining it with the previous question does
    not rescue it, or it uses words the document does not have."""
    if row["alone"] >= alone_below:
        return False
    if not follow_up:
        return True
    return row["joined"] < joined_below or row["novel"] > max_novel


def main() -> None:
    dialogs = json.loads(EVAL.read_text())["data"]
    pos, neg = positives(dialogs), negatives(dialogs)
    print(f"{len(pos)} answerable turns, {len(neg)} out-of-scope questions (asked first and as follow-ups)\n")
    print("| refuse when | answerable refused | negatives refused (first) | negatives refused (follow-up) |")
    print("|---|---|---|---|")
    best = None
    for a, j, n in itertools.product([-8.5, -8, -7.5, -7, -6, -5, -4], [-8, -7, -6, -4, -2, 0, 99], [0, 1, 99]):
        p_rate = np.mean([refuses(r, a, j, n, r["follow_up"]) for r in pos])
        first = np.mean([refuses(r, a, j, n, False) for r in neg])
        follow = np.mean([refuses(r, a, j, n, True) for r in neg])
        cost = max(p_rate, 1 - first, 1 - follow)  # keep the worst of the three error rates low
        if best is None or cost < best[0]:
            best = (cost, a, j, n, p_rate, first, follow)
        if (a, j, n) in {(-4, 99, 99), (-7.5, 99, 99), (-4, -4, 99)}:  # single thresholds, and the first rule
            print(f"| alone < {a}, joined < {j}, novel > {n} | {p_rate:.3f} | {first:.3f} | {follow:.3f} |")
    _, a, j, n, p_rate, first, follow = best
    print(f"| **chosen: alone < {a}, joined < {j}, novel > {n}** | {p_rate:.3f} | {first:.3f} | {follow:.3f} |")
    # The engine's rule (ExtractiveEngine.refuses): the question alone below REFUSE_BELOW; a follow-up that leans on
    # the last turn with at most one content word of its own ("And the short one?", "Why?") is judged joined too.
    def engine_refuses(row, follow_up):
        if follow_up and row["bare"]:
            return max(row["alone"], row["joined"]) < REFUSE_BELOW
        return row["alone"] < REFUSE_BELOW
    for rows in (pos, neg):
        for r in rows:
            r["bare"] = analyse(r["question"]).bare
    p_rate = np.mean([engine_refuses(r, r["follow_up"]) for r in pos])
    first = np.mean([engine_refuses(r, False) for r in neg])
    follow = np.mean([engine_refuses(r, True) for r in neg])
    print(f"| the engine's: alone < {REFUSE_BELOW}, or for a bare follow-up both alone and joined "
          f"({sum(r['bare'] for r in neg)} of the negatives are bare) | {p_rate:.3f} | {first:.3f} | {follow:.3f} |")


if __name__ == "__main__":
    main()
