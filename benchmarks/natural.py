"""Conversations written the way people ask (`../shared/eval/natural_dev.json`), run through
`assistant script --json` exactly as a user would, and scored as the data's README says.

Per turn: an answerable turn is right when the answer holds one of `answer_any` (case-insensitive, whole
words) *and* a verified citation overlaps one of its evidence spans in the turn's article, and a yes/no turn's
answer does not open with the wrong Yes or No; a turn that no article answers is right when the assistant refuses. Reported overall and by tag (broad, pronoun, yesno, …),
with the answerable turns refused and the latency per turn.

    python benchmarks/natural.py [--engine extractive] [--conversations N] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
from collections import defaultdict
from pathlib import Path

from coqa import RESULTS, ROOT, overlaps, run_script, strip_markers

EVAL = ROOT.parent / "shared" / "eval"


def load(path: Path = EVAL / "natural_dev.json") -> tuple[list[dict], dict[int, str]]:
    """The conversations, and the text of each article they use (paragraphs joined with a blank line)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    squad = json.loads((EVAL / "squadshifts_nyt_dev.json").read_text(encoding="utf-8"))["data"]
    for c in data["conversations"]:  # an article conversation has its article; a corpus one, all of them
        c["documents"] = [c["article"]] if c["scope"] == "article" else list(data["articles"])
    texts = {i: "\n\n".join(p["context"] for p in squad[i]["paragraphs"]) for i in data["articles"]}
    return data["conversations"], texts


def build_script(conversations: list[dict], texts: dict[int, str]) -> dict:
    script = []
    for c in conversations:
        script.append({
            "id": c["id"],
            "documents": [{"title": f"NYT article {i}", "text": texts[i]} for i in c["documents"]],
            "turns": [{"ask": t["q"]} for t in c["turns"]],
        })
    return {"conversations": script}


def holds(answer: str, phrase: str) -> bool:
    """The answer contains the phrase as whole words (no letter or digit either side), ignoring case."""
    return re.search(rf"(?<![^\W_]){re.escape(phrase.lower())}(?![^\W_])", answer.lower()) is not None


def cited_evidence(result: dict, turn: dict, texts: dict[int, str]) -> bool:
    """A verified citation of the turn's article overlaps one of the evidence spans."""
    article = texts[turn["article"]]
    spans = [(article.find(e), article.find(e) + len(e)) for e in turn["evidence"]]
    for c in result["citations"]:
        if not c["verified"] or article[c["start"]:c["end"]] != c["text"]:
            continue  # unverified, or a quote of another article
        if any(s >= 0 and overlaps(c["start"], c["end"], s, e) for s, e in spans):
            return True
    return False


def polarity(answer: str) -> str | None:
    """The Yes or No an answer opens with, if any ("Yes — …", "No, …")."""
    opening = re.match(r"\s*(yes|no)\b", answer, re.IGNORECASE)
    return opening[1].lower() if opening else None


def expected_polarity(turn: dict) -> str | None:
    """A yes/no turn's gold polarity: the `yes` or `no` among its answers (None: not a yes/no turn)."""
    if "yesno" not in turn["tags"]:
        return None
    return next((a.lower() for a in turn["answer_any"] if a.lower() in {"yes", "no"}), None)


def score(conversations: list[dict], texts: dict[int, str], results: list[dict]) -> dict:
    by_turn = {(r["conversation"], r["turn"]): r for r in results}
    rows = []
    for c in conversations:
        for i, turn in enumerate(c["turns"], start=1):
            r = by_turn[(c["id"], i)]
            answer = strip_markers(r["answer"]) if not r["refused"] else ""
            if turn["refuse"]:
                right = bool(r["refused"])
            else:
                right = any(holds(answer, a) for a in turn["answer_any"]) and cited_evidence(r, turn, texts)
            # a yes/no answer that opens with the wrong Yes or No is wrong, whatever phrase it quotes after it
            expected, said = expected_polarity(turn), polarity(answer)
            wrong_polarity = bool(expected and said and said != expected)
            rows.append({"tags": turn["tags"], "refuse": turn["refuse"], "right": right and not wrong_polarity,
                         "refused": bool(r["refused"]), "expected": expected, "said": said,
                         "answer_right": turn["refuse"] or (any(holds(answer, a) for a in turn["answer_any"])
                                                            and not wrong_polarity),
                         "latency": r["latency_ms"]})
    answerable = [x for x in rows if not x["refuse"]]
    out_of_scope = [x for x in rows if x["refuse"]]
    by_tag: dict[str, list[dict]] = defaultdict(list)
    for x in answerable:
        for tag in x["tags"]:
            by_tag[tag].append(x)
    latencies = sorted(x["latency"] for x in rows)
    return {
        "turns": len(rows),
        "right_and_cited": round(sum(x["right"] for x in answerable) / len(answerable), 3),
        "answer_right": round(sum(x["answer_right"] for x in answerable) / len(answerable), 3),
        "out_of_scope_refused": f"{sum(x['refused'] for x in out_of_scope)} / {len(out_of_scope)}",
        "answerable_refused": f"{sum(x['refused'] for x in answerable)} / {len(answerable)}",
        "p50_ms": round(statistics.median(latencies), 1),
        # of the yes/no turns answered with a Yes or a No: how many had it right, and how many said Yes
        "yesno_polarity_right": f"{sum(x['said'] == x['expected'] for x in answerable if x['expected'] and x['said'])}"
                                f" / {sum(bool(x['expected'] and x['said']) for x in answerable)}",
        "yesno_said_yes": f"{sum(x['said'] == 'yes' for x in answerable if x['expected'])}"
                          f" / {sum(bool(x['expected'] and x['said']) for x in answerable)}",
        "by_tag": {tag: {"n": len(items), "right_and_cited": round(sum(x["right"] for x in items) / len(items), 3),
                         "answer_right": round(sum(x["answer_right"] for x in items) / len(items), 3)}
                   for tag, items in sorted(by_tag.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="extractive")
    parser.add_argument("--conversations", type=int, default=0, help="only the first N conversations (0: all)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args()
    conversations, texts = load()
    if args.conversations:
        conversations = conversations[: args.conversations]
    with tempfile.TemporaryDirectory(prefix="natural-") as tmp:
        store = Path(tmp) / "store"
        run_script(build_script(conversations[:1], texts), args.engine, store)  # warm the store and caches
        results = run_script(build_script(conversations, texts), args.engine, store)
    table = score(conversations, texts, results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"natural-{args.engine}.json").write_text(json.dumps(table, indent=2))
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print("| engine | right and cited | answer right | out-of-scope refused | answerable refused | p50 ms |")
    print("|---|---|---|---|---|---|")
    print(f"| {args.engine} | {table['right_and_cited']} | {table['answer_right']} | {table['out_of_scope_refused']} "
          f"| {table['answerable_refused']} | {table['p50_ms']} |")
    print(f"\nyes/no turns answered with a Yes or a No: polarity right {table['yesno_polarity_right']}, "
          f"said Yes {table['yesno_said_yes']}")
    print("\n| tag | n | right and cited | answer right |\n|---|---|---|---|")
    for tag, row in table["by_tag"].items():
        print(f"| {tag} | {row['n']} | {row['right_and_cited']} | {row['answer_right']} |")


if __name__ == "__main__":
    main()
