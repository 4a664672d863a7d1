"""Real documents (`../shared/realdocs/`: PDF manuals, papers and slides, documentation pages, READMEs), indexed
and asked about through the CLI exactly as a user would: `assistant index docs/` into a new store, then the
conversations of `questions.json` through `assistant script --indexed --json`.

Per answerable turn: *right and cited* when the answer holds one of `answer_any` (after NFKC and collapsing
white space, case-insensitive, whole words) and a verified citation from the turn's file quotes an answer phrase
or the evidence phrase (an overview turn: any verified citation of its file); *page right* when that file is a
PDF and the citation names the expected page (not scored on overview turns, whose answer may come from any
page). A turn the corpus does not answer is right when refused.
Indexing is timed as a whole process, with its peak memory (the largest resident set of the command).

    python benchmarks/realdocs.py [--vs TREE] [--engine extractive] [--json]

`--vs TREE` runs a second checkout (a worktree of the previous release) on the same data in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# beside the checkout, or where the workplace keeps it (a worktree of the checkout lives elsewhere)
DATA = next((p for p in (ROOT.parent / "shared" / "realdocs", Path("/work/shared/realdocs")) if p.exists()),
            ROOT.parent / "shared" / "realdocs")
RESULTS = ROOT / "benchmarks" / "results"
# runs a command and prints its wall seconds and the peak resident set (KiB) of its largest process
_MEASURE = ("import resource, subprocess, sys, time; started = time.perf_counter(); "
            "code = subprocess.run(sys.argv[1:]).returncode; "
            "print(f'{time.perf_counter() - started:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} "
            "{code}', file=sys.stderr)")


def normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


def holds(answer: str, phrase: str) -> bool:
    """The answer contains the phrase as whole words, after NFKC and white space folding, ignoring case."""
    return re.search(rf"(?<![^\W_]){re.escape(normal(phrase))}(?![^\W_])", normal(answer)) is not None


def strip_markers(answer: str) -> str:
    return re.sub(r"\s*\[\d+\]", "", answer)


class Tree:
    """One checkout's CLI, run with that checkout's code on a store of its own."""

    def __init__(self, root: Path, work: Path, engine: str):
        self.root, self.work, self.engine = root, work, engine
        self.env = {**os.environ, "PYTHONPATH": str(root), "ASSISTANT_STORE": str(work / "store"),
                    "ASSISTANT_CACHE": str(work / "cache"), "ASSISTANT_CONVERSATIONS": str(work / "c.sqlite"),
                    "ASSISTANT_MODELS": str(work / "models"), "ASSISTANT_CONFIG": str(work / "config.toml"),
                    "NO_COLOR": "1", "COLUMNS": "200"}

    def run(self, *args: str, measure: bool = False) -> tuple[subprocess.CompletedProcess, float, float]:
        command = [sys.executable, "-m", "assistant", *args]
        if measure:
            command = [sys.executable, "-c", _MEASURE, *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root, env=self.env)
        seconds = peak = float("nan")
        if measure:
            seconds, kib, _ = done.stderr.strip().splitlines()[-1].split()
            seconds, peak = float(seconds), int(kib) / 1024
        return done, seconds, peak


def script(data: dict, documents: list[Path] | None = None) -> dict:
    """The conversations as a script; with `documents`, naming them (for a checkout without `--indexed`, which
    indexes them beside the store's own with the same loaders and ids)."""
    out = {"conversations": [{"id": c["id"], "turns": [{"ask": t["q"]} for t in c["turns"]]}
                             for c in data["conversations"]]}
    if documents:
        out["documents"] = [{"path": str(path)} for path in documents]
    return out


def run_script(tree: Tree, data: dict) -> subprocess.CompletedProcess:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(script(data), handle, allow_unicode=True)
    done, _, _ = tree.run("script", handle.name, "--json", "--indexed", "--engine", tree.engine)
    if done.returncode == 2 and "--indexed" in done.stderr:  # an earlier release
        files = sorted(p for p in (DATA / "docs").rglob("*") if p.is_file())
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(script(data, files), handle, allow_unicode=True)
        done, _, _ = tree.run("script", handle.name, "--json", "--engine", tree.engine)
    return done


def cites_right(result: dict, turn: dict, files: dict[str, str]) -> list[dict]:
    """The verified citations of the turn's file that quote its answer or evidence (any, for an overview)."""
    phrases = [normal(p) for p in turn["answer_any"]] + ([normal(turn["evidence"])] if turn["evidence"] else [])
    right = []
    for c in result["citations"]:
        if not c["verified"] or files.get(c["document_id"]) != turn["file"]:
            continue
        quote = normal(c["text"])
        if "overview" in turn["tags"] or any(p in quote or (len(quote) > 20 and quote in p) for p in phrases):
            right.append(c)
    return right


def pages_of(citation: dict) -> set[int]:
    if citation.get("pages"):
        return set(citation["pages"])
    return {citation["page"]} if citation.get("page") else set()


def evaluate(tree: Tree, data: dict) -> dict:
    indexed, index_s, index_mib = tree.run("index", str(DATA / "docs"), measure=True)
    docs = json.loads(tree.run("docs", "--json")[0].stdout or "[]")
    files = {d["id"]: os.path.relpath(d["source"], DATA) for d in docs if d.get("source", "").startswith(str(DATA))}
    done = run_script(tree, data)
    results = {(r["conversation"], r["turn"]): r for r in map(json.loads, filter(str.strip, done.stdout.splitlines()))}
    turns, pdf_cites, pdf_right_page = [], 0, 0
    for c in data["conversations"]:
        for n, t in enumerate(c["turns"], start=1):
            r = results.get((c["id"], n))
            if r is None:
                turns.append({"id": f"{c['id']}#{n}", "missing": True, "refuse": t["refuse"], "right": False})
                continue
            answer = strip_markers(r["answer"])
            if t["refuse"]:
                right, cited = r["refused"], []
            else:
                cited = cites_right(r, t, files)
                right = not r["refused"] and any(holds(answer, p) for p in t["answer_any"]) and bool(cited)
            if t.get("page") and cited and "overview" not in t["tags"]:  # (an overview's page is anywhere)
                pdf_cites += 1
                pdf_right_page += any(t["page"] in pages_of(x) for x in cited)
            turns.append({"id": f"{c['id']}#{n}", "q": t["q"], "refuse": t["refuse"], "refused": r["refused"],
                          "right": right, "tags": t["tags"], "answer": r["answer"][:300],
                          "cited": [{"file": files.get(x["document_id"]), "page": x.get("page"), "text": x["text"][:160]}
                                    for x in r["citations"]],
                          "latency_ms": r["latency_ms"]})
    answerable = [t for t in turns if not t["refuse"]]
    unanswerable = [t for t in turns if t["refuse"]]
    return {
        "indexed_exit": indexed.returncode, "index_stderr_tail": indexed.stderr.strip().splitlines()[-3:],
        "documents": len(docs), "index_s": index_s, "index_peak_mib": index_mib,
        "right_and_cited": sum(t["right"] for t in answerable) / len(answerable),
        "answerable": len(answerable),
        "page_right": pdf_right_page / pdf_cites if pdf_cites else 0.0, "pdf_cited_turns": pdf_cites,
        "unanswerable_refused": sum(t["right"] for t in unanswerable), "unanswerable": len(unanswerable),
        "answerable_refused": sum(bool(t.get("refused")) for t in answerable) / len(answerable),
        "turn_p50_ms": statistics.median(t["latency_ms"] for t in turns if "latency_ms" in t),
        "turns": turns,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vs", type=Path, help="a second checkout to run beside this one (the previous release)")
    parser.add_argument("--engine", default="extractive")
    parser.add_argument("--json", action="store_true", help="print every turn's result")
    args = parser.parse_args()
    data = json.loads((DATA / "questions.json").read_text(encoding="utf-8"))
    roots = [ROOT] + ([args.vs.resolve()] if args.vs else [])
    report = {}
    with tempfile.TemporaryDirectory(prefix="realdocs-") as tmp:
        for i, root in enumerate(roots):
            tree = Tree(root, Path(tmp) / str(i), args.engine)
            started = time.perf_counter()
            report[str(root)] = evaluate(tree, data)
            print(f"{root}: done in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    rows = [("documents indexed", "documents", "{}"), ("indexing, wall s", "index_s", "{:.1f}"),
            ("indexing, peak MiB", "index_peak_mib", "{:.0f}"),
            ("right and cited (answerable)", "right_and_cited", "{:.3f}"),
            ("PDF page right (specific turns citing the right PDF)", "page_right", "{:.3f}"),
            ("... of turns", "pdf_cited_turns", "{}"),
            ("unanswerable refused", "unanswerable_refused", "{}"),
            ("answerable refused", "answerable_refused", "{:.3f}"), ("turn p50 ms (warm)", "turn_p50_ms", "{:.0f}")]
    names = [os.path.relpath(r, ROOT.parent) if r != ROOT else "this tree" for r in roots]
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(roots))
    for label, key, form in rows:
        print(f"| {label} | " + " | ".join(form.format(report[str(r)][key]) for r in roots) + " |")
    for root in roots:
        wrong = [t["id"] for t in report[str(root)]["turns"] if not t["right"]]
        print(f"\n{names[roots.index(root)]}: wrong {len(wrong)}: {', '.join(wrong)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "realdocs.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
