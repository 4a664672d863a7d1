"""Faults: a process killed mid-write, a broken or unwritable store. Each test kills or breaks for real."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from store import Index, StoreSettings
from store.chunking import chunk_document
from store.documents import bundled_document, load_paths

ROOT = Path(__file__).resolve().parent.parent


def _env(settings: StoreSettings) -> dict[str, str]:
    env = {**os.environ, "ASSISTANT_COLLECTION": settings.collection}
    if settings.chroma_url:
        env["ASSISTANT_CHROMA_URL"] = settings.chroma_url
    else:
        env["ASSISTANT_STORE"] = str(settings.store)
    return env


def _articles(folder: Path, count: int, sentences: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        text = " ".join(f"Report {n} line {i}: the river rose {i * 7 + n} centimetres near bridge {i % 13}."
                        for i in range(sentences))
        path = folder / f"report-{n}.txt"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


# The child writes half of the chunks Chroma is handed in one upsert, then kills itself with SIGKILL:
# a real kill, between two writes of one group, every time.
KILL_MID_WRITE = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from store import Index, StoreSettings
    from store.documents import load_paths

    index = Index(StoreSettings())
    real = index._chunks.upsert

    def upsert(**columns):
        half = len(columns["ids"]) // 2
        real(**{name: values[:half] for name, values in columns.items()})
        print("half written", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    index._chunks.upsert = upsert
    documents, _ = load_paths([Path(p) for p in sys.argv[1:]])
    index.add(documents)
""")


def test_indexing_killed_mid_write_is_finished_by_the_next_index_run(settings, embeddings, tmp_path):
    paths = _articles(tmp_path / "docs", count=3, sentences=40)
    child = subprocess.run([sys.executable, "-c", KILL_MID_WRITE, *map(str, paths)], env=_env(settings),
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "half written" in child.stdout

    # what the kill left: some chunks, records still marked as being written
    index = Index(settings, embeddings)
    assert 0 < index.chunk_count()

    # the next `assistant index` (of anything: here one other file) finishes the interrupted documents
    other = _articles(tmp_path / "more", count=1, sentences=5)
    done = subprocess.run([sys.executable, "-m", "assistant", "index", str(other[0])], env=_env(settings),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    index = Index(settings, embeddings)
    documents, _ = load_paths(paths + other)
    documents.append(bundled_document())  # every command puts the bundled article in an empty store
    expected = {c.id: d.id for d in documents for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)}
    stored = index.all_chunks()
    ids = Counter(c.id for c in stored)
    assert not [i for i, n in ids.items() if n > 1], "a chunk is stored twice"
    assert set(ids) == set(expected), "missing or orphaned chunks"
    infos = {d.id: d for d in index.documents()}
    assert set(infos) == {d.id for d in documents}
    per_document = Counter(c.document_id for c in stored)
    for d in documents:
        assert infos[d.id].chunks == per_document[d.id]
        assert infos[d.id].sha256 == d.sha256


KILL_MID_ANSWER = textwrap.dedent("""
    import sys, time
    from assistant.service import Assistant, AssistantSettings
    from store import StoreSettings

    assistant = Assistant(StoreSettings(), AssistantSettings(engine="extractive"))
    for question in ("How many people were killed in the clashes?", "Who brokered the ceasefire?"):
        assistant.ask(question, "kept")
        print("answered", flush=True)

    def stall(token):
        print("mid-answer", flush=True)
        time.sleep(600)

    assistant.ask("And the Azerbaijani side?", "kept", on_token=stall)
""")


def test_a_process_killed_mid_answer_leaves_every_completed_turn(tmp_path):
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "store"),
           "ASSISTANT_CONVERSATIONS": str(tmp_path / "conversations.sqlite"), "ASSISTANT_ENGINE": "extractive"}
    child = subprocess.Popen([sys.executable, "-c", KILL_MID_ANSWER], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "mid-answer":
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)
    assert lines == ["answered", "answered", "mid-answer"], child.stderr.read()

    shown = subprocess.run([sys.executable, "-m", "assistant", "export", "kept", "--format", "json"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "How many people were killed in the clashes?" in shown.stdout
    assert "Who brokered the ceasefire?" in shown.stdout
    # the conversation goes on from where it was
    more = subprocess.run([sys.executable, "-m", "assistant", "ask", "And the Azerbaijani side?", "--conversation",
                           "kept", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert more.returncode == 0, more.stderr
