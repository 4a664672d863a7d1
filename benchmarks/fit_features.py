"""Fit the extractive engine's sentence-scoring weights on two kinds of conversation at once: the CoQA CNN dev
dialogs (a story walked through in order) and natural dev (`natural_dev.json`: conversations written the way people
ask, over 10 NYT articles; its article conversations), cross-validated by story, with held-out figures per set.

Caches cross-encoder scores for every (turn, story sentence) pair, then fits a listwise (softmax) linear model over
the features in `assistant/engines/features.py` -- one for first turns, one for follow-ups -- simulating each
dialog in order so that "the previous answer" is the engine's own previous pick, not the gold one. A follow-up that
does not lean on the previous turn (no pronoun, no ellipsis, no bare "Why?": `assistant/analysis.py`) can be
scored as a first question instead (measured; not chosen). Prints the held-out top-1 evidence hit rate (what citation precision
measures) for first turns and follow-ups of each set, per feature set, and the weights fitted on everything.

    python benchmarks/fit_features.py            # writes benchmarks/results/fit_features.json
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

from assistant.analysis import analyse  # noqa: E402
from assistant.engines.features import FEATURES, FOLLOW_UP_FEATURES, SentenceContext, features, shares  # noqa: E402
from store import CrossEncoder  # noqa: E402
from store.encoders import LateInteraction  # noqa: E402
from store.chunking import sentence_spans  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
# the scores the engine ranks by: on first turns the cross-encoder's sentence head (store/sentence_head.py), on
# follow-ups its logits
CACHE = ROOT / "benchmarks" / "results" / "coqa_head_cache.pkl"
NATURAL_CACHE = ROOT / "benchmarks" / "results" / "natural_head_cache.pkl"
COLBERT_CACHE = ROOT / "benchmarks" / "results" / "colbert_cache.pkl"


def coqa_dialogs() -> list[dict]:
    """CoQA CNN dev in the common form: story, questions, gold spans per turn (None: no rationale)."""
    out = []
    for d in json.loads((EVAL / "coqa_cnn_dev.json").read_text())["data"]:
        out.append({"id": d["id"], "set": "coqa", "story_id": d["id"], "story": d["story"],
                    "questions": [q["input_text"] for q in d["questions"]],
                    "gold": [[(a["span_start"], a["span_end"])] if a["span_start"] >= 0 else None for a in d["answers"]]})
    return read_questions(out)


def natural_dialogs() -> list[dict]:
    """Natural dev's article conversations in the common form (the evidence spans are the gold; a turn the
    article does not answer has none). Conversations across articles are left out: one story per dialog."""
    data = json.loads((EVAL / "natural_dev.json").read_text(encoding="utf-8"))
    squad = json.loads((EVAL / "squadshifts_nyt_dev.json").read_text(encoding="utf-8"))["data"]
    out = []
    for c in data["conversations"]:
        if c["scope"] != "article":
            continue
        story = "\n\n".join(p["context"] for p in squad[c["article"]]["paragraphs"])
        gold = []
        for t in c["turns"]:
            spans = [(story.find(e), story.find(e) + len(e)) for e in t["evidence"] if story.find(e) >= 0]
            gold.append(spans or None)
        out.append({"id": c["id"], "set": "natural", "story_id": f"nyt-{c['article']}", "story": story,
                    "questions": [t["q"] for t in c["turns"]], "gold": gold})
    return read_questions(out)


def cross_encoder_scores(dialogs, path):
    """For every turn: sentence spans, and the score of each sentence s for the question and for the previous
    question and this one joined, as the engine ranks: the cross-encoder's sentence head on a first turn, its
    logits on a follow-up."""
    if path.exists():
        return pickle.loads(path.read_bytes())
    encoder = CrossEncoder()
    cache = {}
    started = time.perf_counter()
    for n, dialog in enumerate(dialogs):
        story = dialog["story"]
        spans = [(s, e) for s, e, _ in sentence_spans(story)]
        texts = [story[s:e] for s, e in spans]
        previous = ""
        for i, question in enumerate(dialog["questions"]):
            alone = [logit if previous else head for logit, head in encoder.score_sentences(question, texts)]
            joined = encoder.score(f"{previous} {question}", texts) if previous else alone
            cache[(dialog["id"], i)] = (spans, np.array(alone), np.array(joined))
            previous = question
        print(f"{n + 1}/{len(dialogs)} dialogs, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(cache))
    return cache


def colbert_scores(dialogs, path=COLBERT_CACHE):
    """For every turn: ColBERT MaxSim of the question against every story sentence."""
    cache = pickle.loads(path.read_bytes()) if path.exists() else {}
    if all((d["id"], i) in cache for d in dialogs for i in range(len(d["questions"]))):
        return cache
    encoder = LateInteraction()
    for dialog in dialogs:
        story = dialog["story"]
        texts = [story[s:e] for s, e, _ in sentence_spans(story)]
        for i, question in enumerate(dialog["questions"]):
            cache[(dialog["id"], i)] = np.array(encoder.score(question, texts))
    path.write_bytes(pickle.dumps(cache))
    return cache


def read_questions(dialogs: list[dict]) -> list[dict]:
    """The dialogs, each with its questions as the engine reads them (`analyses`: chained as the conversation graph
    chains them, each follow-up by the turn before)."""
    for d in dialogs:
        previous, d["analyses"] = None, []
        for question in d["questions"]:
            previous = analyse(question, previous)
            d["analyses"].append(previous)
    return dialogs


def leaning(dialogs) -> dict[tuple[str, int], bool]:
    """Whether each follow-up leans on the turn before it, as the engine's question analysis says."""
    return {(d["id"], i): i > 0 and a.depends_on_previous for d in dialogs for i, a in enumerate(d["analyses"])}


KINDS = ("first", "follow-up")


def simulate(dialogs, cache, weights, masks, leans=None):
    """Run each dialog in order, first turns and follow-ups each with their own weights and feature mask;
    per turn (kind, hit, feature matrix, gold vector, set). With `leans`, a follow-up that does not lean on the
    previous turn is scored as a first question."""
    out = []
    for dialog in dialogs:
        cited: list[int] = []
        for i, (question, gold_spans) in enumerate(zip(dialog["questions"], dialog["gold"], strict=True)):
            follow = i > 0 and (leans is None or leans[(dialog["id"], i)])
            kind = KINDS[follow]
            spans, alone, joined = cache[(dialog["id"], i)]
            if not follow:
                joined = alone
            context = SentenceContext(answer_type=dialog["analyses"][i].answer_type, follow_up=follow,
                                      previous=cited[-1] if cited and follow else None, cited=set(cited),
                                      count=len(spans))
            texts = [dialog["story"][s:e] for s, e in spans]
            sa, sj = shares(list(alone)), shares(list(joined))
            matrix = np.array([features(context, k, text, alone[k], joined[k], sa[k], sj[k])
                               for k, text in enumerate(texts)]) * masks[kind]
            gold = np.array([any(s < ge and gs < e for gs, ge in gold_spans or []) for s, e in spans], dtype=float)
            pick = int(np.argmax(matrix @ weights[kind]))
            out.append((kind, bool(gold[pick]) if gold_spans else None, matrix, gold, dialog["set"], i > 0))
            cited.append(pick)
    return out


def fit(samples, dims, l2=0.01):
    """Listwise softmax regression (L-BFGS): maximise the probability mass on gold sentences."""
    lists = [(matrix, gold / gold.sum()) for _, _, matrix, gold, *_ in samples if gold.any()]

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


def fit_both(dialogs, cache, masks, leans=None, rounds=3):
    """Weights for first turns and for follow-ups, refit on each round's own picks (the previous answer is the
    engine's own). Each set weighs the same in the fit, however many turns it has."""
    start = np.zeros(len(FEATURES))
    start[0] = 1.0
    weights = {kind: start for kind in KINDS}
    for _ in range(rounds):
        samples = simulate(dialogs, cache, weights, masks, leans)
        weights = {kind: fit(_balanced([s for s in samples if s[0] == kind]), len(FEATURES)) for kind in KINDS}
    return weights


def _balanced(samples):
    """The samples with the smaller set's repeated so that both sets count alike."""
    by_set: dict[str, list] = {}
    for s in samples:
        by_set.setdefault(s[4], []).append(s)
    if len(by_set) < 2:
        return samples
    most = max(len(v) for v in by_set.values())
    return [s for v in by_set.values() for s in v * max(1, round(most / len(v)))]


def evaluate(dialogs, cache, masks, leans=None, folds=5, train_sets=None):
    """Held-out hit rates per set and kind of turn (first question, follow-up), folds by story: a story is
    never seen in fitting. With `train_sets`, only dialogs of those sets are fitted on."""
    stories = sorted({d["story_id"] for d in dialogs})
    random.Random(0).shuffle(stories)
    hits: dict[str, list] = {}
    for f in range(folds):
        held = set(stories[f::folds])
        train = [d for d in dialogs if d["story_id"] not in held and (train_sets is None or d["set"] in train_sets)]
        weights = fit_both(train, cache, masks, leans)
        for kind, hit, _, _, name, follow in simulate([d for d in dialogs if d["story_id"] in held], cache, weights,
                                                      masks, leans):
            if hit is not None:
                hits.setdefault(f"{name} {'follow-ups' if follow else 'first'}", []).append(hit)
    return {k: round(float(np.mean(v)), 3) for k, v in sorted(hits.items())}


def mask(names) -> np.ndarray:
    return np.array([f in names for f in FEATURES], dtype=float)


BUDGETS = ((99, 99, None, "words"), (12, 3, None, "words"), (12, 3, 4, "words"), (8, 2, None, "words"),
           (6, 2, None, "words"), (4, 1, None, "words"), (12, 3, 4, "colbert"), (8, 2, 4, "colbert"),
           (6, 2, 4, "colbert"), (6, 1, 4, "colbert"), (5, 1, 3, "colbert"), (4, 1, 3, "colbert"))


def pruning_frontier(dialogs, cache, masks, budgets=BUDGETS, folds=5, late=None):
    """Held-out precision when the cross-encoder scores only `keep` sentences chosen by shared query words
    (plus those within `near` of the previous answer), and the median number of cross-encoder pairs per turn
    (two passes on follow-ups) -- what the engine's latency is made of. With `second`, a follow-up's second pass
    (joined with the previous question) scores only the `second` best sentences of the first pass and the previous
    answer's, and the pick is among them (the engine's cascade). The `keep` sentences are those sharing most
    query words ("words") or those ColBERT ranks best for the question ("colbert": `late` holds its scores)."""
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
    for keep, near, second, by in budgets:
        hits, pairs = {k: [] for k in KINDS}, {k: [] for k in KINDS}
        for held, weights in folds_weights:
            for dialog in (dialogs[i] for i in sorted(held)):
                cited, previous_question = [], ""
                for i, (question, gold_spans) in enumerate(zip(dialog["questions"], dialog["gold"], strict=True)):
                    kind = KINDS[i > 0]
                    spans, alone, joined = cache[(dialog["id"], i)]
                    texts = [dialog["story"][s:e] for s, e in spans]
                    if by == "colbert":
                        prune = late[(dialog["id"], i)]
                    else:
                        terms = stems(f"{question} {previous_question}")
                        prune = np.array([len(terms & stems(t)) for t in texts], float) - 0.001 * np.arange(len(texts))
                    chosen = set(np.argsort(-prune, kind="stable")[:keep].tolist())
                    if cited:
                        chosen |= {k for k in range(len(texts)) if abs(k - cited[-1]) <= near}
                    chosen = sorted(chosen)
                    first_pass = len(chosen)
                    if i > 0 and second:
                        chosen = sorted(set(sorted(chosen, key=lambda k: -alone[k])[:second]) | {cited[-1]})
                    context = SentenceContext(answer_type=dialog["analyses"][i].answer_type, follow_up=i > 0,
                                              previous=cited[-1] if cited else None, cited=set(cited), count=len(spans))
                    sa, sj = shares([alone[k] for k in chosen]), shares([joined[k] for k in chosen])
                    matrix = np.array([features(context, k, texts[k], alone[k], joined[k], sa[j], sj[j])
                                       for j, k in enumerate(chosen)]) * masks[kind]
                    pick = chosen[int(np.argmax(matrix @ weights[kind]))]
                    if gold_spans:
                        s, e = spans[pick]
                        hits[kind].append(any(s < ge and gs < e for gs, ge in gold_spans))
                    pairs[kind].append(first_pass + (len(chosen) if i > 0 else 0))
                    cited.append(pick)
                    previous_question = question
        rows.append({"keep": "all" if keep == 99 else keep, "near": near, "second": second, "by": by,
                     **{f"{k} precision": round(float(np.mean(hits[k])), 3) for k in KINDS},
                     **{f"{k} pairs": float(np.median(pairs[k])) for k in KINDS}})
    return rows


def main() -> None:
    coqa, natural = coqa_dialogs(), natural_dialogs()
    cache = {**cross_encoder_scores(coqa, CACHE), **cross_encoder_scores(natural, NATURAL_CACHE)}
    dialogs = coqa + natural
    leans = leaning(dialogs)
    chosen = {"first": mask(FEATURES), "follow-up": mask(FOLLOW_UP_FEATURES)}
    results = {}
    runs = {
        "cross-encoder on the question alone": ({"first": mask(["ce_question"]), "follow-up": mask(["ce_question"])},
                                                None, None),
        "previous release: every follow-up uses the conversation, fitted on CoQA only": (chosen, None, {"coqa"}),
        "only follow-ups that lean on the last turn use it, fitted on CoQA only": (chosen, leans, {"coqa"}),
        "only follow-ups that lean on the last turn use it, fitted on both": (chosen, leans, None),
        "chosen: every follow-up uses the conversation, fitted on both": (chosen, None, None),
    }
    columns = ["coqa first", "coqa follow-ups", "natural first", "natural follow-ups"]
    print("Held-out top-1 evidence hit rate (5 folds by story; a story is never fitted on where it is scored)\n")
    print("| scorer | " + " | ".join(columns) + " |\n|---|" + "---|" * len(columns))
    for name, (masks, lean, sets) in runs.items():
        results[name] = evaluate(dialogs, cache, masks, lean, train_sets=sets)
        print(f"| {name} | " + " | ".join(str(results[name].get(c, "")) for c in columns) + " |", flush=True)
    weights = fit_both(dialogs, cache, chosen)
    results["weights"] = {
        kind: {f: round(float(w), 4) for f, w in zip(FEATURES, weights[kind], strict=True) if w != 0} for kind in KINDS
    }
    print("\nweights fitted on both sets (in-sample there):")
    print(json.dumps(results["weights"], indent=1))
    late = colbert_scores(dialogs)
    for name, data in (("CoQA", coqa), ("natural", natural)):
        results[f"pruning {name}"] = pruning_frontier(data, cache, chosen, late=late)
        print(f"\n| {name}: sentences scored (+ neighbours) | chosen by | first turns | pairs | follow-ups | pairs |"
              "\n|---|---|---|---|---|---|")
        for row in results[f"pruning {name}"]:
            cascade = f", then the best {row['second']} joined" if row["second"] else ""
            print(f"| {row['keep']} (+{row['near']}){cascade} | {row['by']} | {row['first precision']} | "
                  f"{row['first pairs']} | {row['follow-up precision']} | {row['follow-up pairs']} |")
    (ROOT / "benchmarks" / "results" / "fit_features.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
