"""Start-up of the chat UI, as a user sees it: the installed `assistant` command in a pseudo-terminal, timed
from launch to (1) the window on screen, (2) "Ready" (models and index loaded), and (3) the first answer to a
question typed as soon as the window appears -- on the bundled article, with an index that already exists.
The cache folder (what is derived from the models) starts empty: the first run makes it, as a user's first start
after indexing does; the table gives the median of all runs and the first run beside it.

Beside it, in the same run: a minimal Textual app (the floor for a window) and `assistant ask` (the same answer
from the command line, no UI). Median of --runs.

    python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect
import pyte

from common import table, write_results

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent
QUESTION = "How many people were killed in the clashes?"
ANSWER = re.compile(r"at least 34 dead")
MINIMAL_APP = """
from textual.app import App
from textual.widgets import Static
class Hello(App):
    def compose(self):
        yield Static("hello window")
Hello().run()
"""


def screen_text(screen: pyte.Screen) -> str:
    return " ".join(" ".join(line.split("▏")[0] for line in screen.display).split())


def timed_session(argv: list[str], env: dict, marks: list[tuple[str, re.Pattern]], on_first=None,
                  timeout: float = 120) -> dict[str, float]:
    """Seconds from spawn until each pattern first shows on the screen."""
    screen = pyte.Screen(100, 30)
    stream = pyte.ByteStream(screen)
    started = time.perf_counter()
    child = pexpect.spawn(argv[0], argv[1:], env=env, dimensions=(30, 100))
    seen: dict[str, float] = {}
    try:
        while len(seen) < len(marks) and time.perf_counter() - started < timeout:
            try:
                stream.feed(child.read_nonblocking(65536, timeout=0.01))
            except pexpect.TIMEOUT:
                continue
            text = screen_text(screen)
            for name, pattern in marks:
                if name not in seen and pattern.search(text):
                    seen[name] = time.perf_counter() - started
                    if len(seen) == 1 and on_first:
                        on_first(child)
    finally:
        child.sendcontrol("q")
        try:
            child.expect(pexpect.EOF, timeout=10)
        except pexpect.TIMEOUT:
            child.terminate(force=True)
    missing = [name for name, _ in marks if name not in seen]
    if missing:
        raise RuntimeError(f"never saw {missing}; screen: {screen_text(screen)[:500]}")
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        # PYTHONPATH: the console script runs this checkout, not the one an editable install points at
        env = dict(os.environ, TERM="xterm-256color", ASSISTANT_STORE=f"{tmp}/store",
                   ASSISTANT_CONVERSATIONS=f"{tmp}/conversations.sqlite", ASSISTANT_CACHE=f"{tmp}/cache",
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
        # the index exists already, as for every start but the very first
        subprocess.run([BIN / "assistant", "index"], env=env, check=True, capture_output=True)
        minimal = Path(tmp) / "minimal.py"
        minimal.write_text(MINIMAL_APP)
        rows: dict[str, list[float]] = {k: [] for k in ("minimal", "window", "ready", "answer", "cli")}
        for run in range(args.runs):
            rows["minimal"].append(timed_session([sys.executable, str(minimal)], env,
                                                 [("window", re.compile("hello window"))])["window"])
            marks = timed_session(
                [str(BIN / "assistant")], env,
                [("window", re.compile("Ask about the documents")), ("ready", re.compile(r"Ready\.|34 dead")),
                 ("answer", ANSWER)],
                on_first=lambda child: child.send(QUESTION + "\r"),
            )
            for key in ("window", "ready", "answer"):
                rows[key].append(marks[key])
            started = time.perf_counter()
            out = subprocess.run([BIN / "assistant", "ask", QUESTION], env=env, capture_output=True, text=True)
            rows["cli"].append(time.perf_counter() - started)
            assert ANSWER.search(out.stdout), out.stdout + out.stderr
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in rows.items()), flush=True)
    median = {k: round(statistics.median(v), 2) for k, v in rows.items()}
    first = {k: round(v[0], 2) for k, v in rows.items()}
    print(f"\n### Start-up, median of {args.runs} runs, and the first run (seconds from launch)\n")
    print(table(["what", "median", "first run", "target"], [
        ["minimal Textual app: window (baseline)", median["minimal"], first["minimal"], ""],
        ["`assistant`: window on screen", median["window"], first["window"], "≤ 1.0"],
        ["`assistant`: models and index loaded (Ready)", median["ready"], first["ready"], ""],
        ["`assistant`: first answer, question typed at once", median["answer"], first["answer"], "≤ 2.0"],
        ["`assistant ask` (no UI): same answer (baseline)", median["cli"], first["cli"], ""],
    ]))
    path = write_results("startup", {"runs": args.runs, "median": median, "first": first, "all": rows})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
