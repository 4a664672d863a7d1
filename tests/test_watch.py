"""Folders kept in sync: `assistant index --watch` follows files created, changed and deleted, a bad file costs its
own line, and a kill in the middle of a watched re-index loses nothing."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

from processes import KILL_AT_HALF_WRITE, run_assistant

ASSISTANT = shutil.which("assistant", path=str(Path(sys.executable).parent))


def _env(tmp_path: Path) -> dict[str, str]:
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "store"), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1",
           "COLUMNS": "200"}
    env.pop("ASSISTANT_CHROMA_URL", None)
    return env


class Lines:
    """A process's output, line by line, as it comes."""

    def __init__(self, stream):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=lambda: [self.lines.put(line) for line in stream], daemon=True).start()

    def wait_for(self, words: str, timeout: float = 90) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if words in line:
                return line
        raise AssertionError(f"no line with {words!r} in {self.seen}")


def _documents(env) -> dict[str, dict]:
    done = run_assistant("docs", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return {Path(d["source"]).name: d for d in json.loads(done.stdout)}


def test_a_watched_folder_follows_files_created_changed_and_deleted(tmp_path):
    env = _env(tmp_path)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "alpha.md").write_text("# Alpha\n\nThe alpha boat sails at dawn.\n", encoding="utf-8")
    watcher = subprocess.Popen([ASSISTANT, "index", "--watch", str(folder)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    out = Lines(watcher.stdout)
    try:
        out.wait_for("watching 1 path(s)")
        (folder / "beta.md").write_text("# Beta\n\nThe beta ferry leaves at noon.\n", encoding="utf-8")
        assert "Beta" in out.wait_for("new ")
        (folder / "alpha.md").write_text("# Alpha\n\nThe alpha boat sails at dusk.\n", encoding="utf-8")
        assert "Alpha" in out.wait_for("updated ")
        (folder / "broken.txt").write_bytes(b"\x00\x01binary\x00")  # a bad file: its own line, and the watch goes on
        assert "broken.txt" in out.wait_for("error: ")
        (folder / "beta.md").unlink()
        out.wait_for("removed ")
        assert "1 removed; 0 chunks embedded, 1 removed" in out.wait_for("chunks embedded")
        (folder / "sub").mkdir()
        (folder / "sub" / "gamma.txt").write_text("Gamma notes: the gamma tug waits at the pier.\n", encoding="utf-8")
        out.wait_for("new ")
        shutil.rmtree(folder / "sub")  # a deleted folder takes its files' documents
        out.wait_for("removed ")
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    out.wait_for("stopped watching")
    assert watcher.returncode == 0
    documents = _documents(env)
    assert set(documents) == {"alpha.md"}
    found = run_assistant("search", "When does the alpha boat sail?", "-k", "1", "--json", env=env)
    assert "dusk" in json.loads(found.stdout)["passages"][0]["text"]


def test_watch_takes_files_and_folders_only(tmp_path):
    for args, message in ((["https://example.org/page"], "--watch follows files and folders, not web pages"),
                          ([str(tmp_path / "nowhere")], "does not exist; give a file or folder to watch"),
                          ([], "--watch needs the files or folders to watch")):
        done = run_assistant("index", "--watch", *args, env=_env(tmp_path))
        assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


# The watcher writes half of the chunks of the first change it syncs, then is killed with SIGKILL.
KILL_MID_WATCHED_WRITE = textwrap.dedent("""
    import os, signal, sys
    from store import Index, StoreSettings
    from store.watch import keep_in_step

    index = Index(StoreSettings())
    index.add_paths([sys.argv[1]])
""") + KILL_AT_HALF_WRITE + textwrap.dedent("""
    keep_in_step(index, [sys.argv[1]], lambda synced: None, on_ready=lambda: print("watching", flush=True))
""")


def test_a_kill_in_a_watched_re_index_loses_nothing(tmp_path):
    env = _env(tmp_path)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "alpha.md").write_text("# Alpha\n\nThe alpha boat sails at dawn.\n", encoding="utf-8")
    child = subprocess.Popen([sys.executable, "-c", KILL_MID_WATCHED_WRITE, str(folder)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = Lines(child.stdout)
    out.wait_for("watching")
    paragraphs = [f"Paragraph {n}: the harbour log for day {n} records {n * 3} ships and {n} storms." for n in range(60)]
    (folder / "log.md").write_text("# Harbour log\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    out.wait_for("half written")
    assert child.wait(timeout=60) == -signal.SIGKILL

    # the next run (watching again, or indexing) finishes the write: every chunk once, both documents whole
    done = run_assistant("index", str(folder), env=env)
    assert done.returncode == 0, done.stderr
    documents = _documents(env)
    assert set(documents) == {"alpha.md", "log.md"}
    from store import Index, StoreSettings

    index = Index(StoreSettings(store=tmp_path / "store"))
    chunks = Counter(c.id for c in index.all_chunks())
    assert chunks and max(chunks.values()) == 1, "a chunk is stored twice"
    per_document = Counter(c.document_id for c in index.all_chunks())
    assert all(documents[name]["chunks"] == per_document[documents[name]["id"]] for name in documents)
    found = run_assistant("search", "How many ships does day 41 record?", "-k", "1", "--json", env=env)
    assert "123 ships" in json.loads(found.stdout)["passages"][0]["text"]


async def test_the_chat_ui_keeps_the_watch_settings_folder_in_step(embeddings, cross_encoder, tmp_path):
    """`watch = ["~/notes"]` in the config: what changed while the UI was closed is indexed at start, then each
    saved file as it is saved; a question finds it."""
    from pilot import ask, wait_for

    from assistant.service import Assistant, AssistantSettings
    from store import Index, StoreSettings
    from tui.app import AssistantApp

    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "alpha.md").write_text("# Alpha\n\nThe alpha boat sails at dawn.\n", encoding="utf-8")
    settings = StoreSettings(store=tmp_path / "store")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite", watch=[folder]),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    app = AssistantApp(load)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.watching == [folder], timeout=60)
        assert {d.title for d in app._catalog} == {"Alpha"}  # indexed at start
        (folder / "tides.md").write_text("# Tides\n\nHigh tide at the north pier comes at 14:20 on Friday.\n",
                                         encoding="utf-8")
        await wait_for(pilot, lambda: {d.title for d in app._catalog} == {"Alpha", "Tides"}, timeout=60)
        view = await ask(pilot, "When is high tide at the north pier?")
        assert "14:20" in view.turn.answer and view.turn.citations[0].verified
