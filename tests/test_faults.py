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
from processes import KILL_AT_HALF_WRITE, free_port, run_assistant, start_chroma

from store import Index, StoreSettings
from store.chunking import chunk_document
from store.documents import load_paths

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
""") + KILL_AT_HALF_WRITE + textwrap.dedent("""
    documents, _ = load_paths([Path(p) for p in sys.argv[1:]])
    index.add(documents)
""")


def test_indexing_killed_mid_write_is_finished_by_the_next_indexrun_assistant(settings, embeddings, tmp_path):
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
    done = run_assistant("index", str(other[0]), env=_env(settings))
    assert done.returncode == 0, done.stderr

    index = Index(settings, embeddings)
    documents, _ = load_paths(paths + other)
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


# The child rebuilds with other chunking and is killed with SIGKILL halfway through writing the new chunks.
KILL_MID_REBUILD = textwrap.dedent("""
    import os, signal
    from store import StoreSettings, rebuild
    from store.writes import Writer

    real = Writer._put_chunks

    def put_chunks(self, chunks, vectors):
        real(self, chunks[: len(chunks) // 2], vectors[: len(chunks) // 2])
        print("half rebuilt", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    Writer._put_chunks = put_chunks
    rebuild(StoreSettings(chunk_size=300, chunk_overlap=50))
""")


def test_a_rebuild_killed_midway_loses_no_document_and_the_next_one_completes(settings, embeddings, tmp_path):
    documents, _ = load_paths(_articles(tmp_path / "docs", count=3, sentences=40))
    Index(settings, embeddings).add(documents)
    before = {c.id for c in Index(settings, embeddings).all_chunks()}

    child = subprocess.run([sys.executable, "-c", KILL_MID_REBUILD], env=_env(settings), capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "half rebuilt" in child.stdout

    # the old collections are untouched: every document, every chunk, with the old chunking
    index = Index(settings, embeddings)
    assert {d.id for d in index.documents()} == {d.id for d in documents}
    assert {c.id for c in index.all_chunks()} == before
    assert all(index.document(d.id).text == d.text for d in documents)

    done = run_assistant("index", "--rebuild", env={**_env(settings), "ASSISTANT_CHUNK_SIZE": "300",
                                                    "ASSISTANT_CHUNK_OVERLAP": "50"})
    assert done.returncode == 0, done.stderr
    resized = settings.model_copy(update={"chunk_size": 300, "chunk_overlap": 50})
    index = Index(resized, embeddings)
    assert {d.id for d in index.documents()} == {d.id for d in documents}
    expected = {c.id for d in documents for c in chunk_document(d, 300, 50)}
    assert {c.id for c in index.all_chunks()} == expected
    # neither the killed rebuild's half-written collections nor the old ones are left behind
    names = {c.name for c in index.client.list_collections()}
    assert len([n for n in names if n.startswith(settings.collection) and not n.endswith(("-documents", "-texts"))
                and not n.endswith("-current") and ".demo" not in n]) == 1, names


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

    shown = run_assistant("export", "kept", "--format", "json", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "How many people were killed in the clashes?" in shown.stdout
    assert "Who brokered the ceasefire?" in shown.stdout
    # the conversation goes on from where it was
    more = run_assistant("ask", "And the Azerbaijani side?", "--conversation", "kept", "--json", env=env)
    assert more.returncode == 0, more.stderr


# --- the store's folder damaged, read-only or on a full disk ---------------------------------------------------

def _one_clear_line(result: subprocess.CompletedProcess, *words: str) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs (real ENOSPC and EROFS); needs root, which CI has."""
    mounted: list[Path] = []

    def mount(size: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def _data_env(folder: Path) -> dict[str, str]:
    return {**os.environ, "ASSISTANT_STORE": str(folder / "store"),
            "ASSISTANT_CONVERSATIONS": str(folder / "conversations.sqlite"), "ASSISTANT_ENGINE": "extractive"}


def test_a_damaged_store_gets_one_clear_message_and_rebuild_moves_it_aside(tmp_path):
    env = _data_env(tmp_path)
    assert run_assistant("docs", env=env).returncode == 0
    with (tmp_path / "store" / "chroma.sqlite3").open("r+b") as database:
        database.write(b"\xde\xad\xbe\xef" * 1024)  # the SQLite header and first page are gone

    for command in (["docs"], ["ask", "How many people were killed?"], ["search", "ceasefire"]):
        _one_clear_line(run_assistant(*command, env=env), "cannot open the index", "assistant index --rebuild")

    rebuilt = run_assistant("index", "--rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    damaged = [p for p in tmp_path.iterdir() if p.name.startswith("store.damaged-")]
    assert len(damaged) == 1 and (damaged[0] / "chroma.sqlite3").exists()  # kept, not deleted
    assert str(damaged[0]) in " ".join(rebuilt.stderr.split())
    answered = run_assistant("ask", "How many people were killed in the clashes?", "--json", env=env)
    assert answered.returncode == 0, answered.stderr
    assert "34" in answered.stdout


def test_a_read_only_data_folder_gets_one_clear_message(tmpfs):
    folder = tmpfs("64m")
    env = _data_env(folder)
    assert run_assistant("ask", "How many people were killed in the clashes?", env=env).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    note = folder.parent / "note.txt"
    note.write_text("A note.", encoding="utf-8")
    for command in (["ask", "Who brokered the ceasefire?"], ["index", str(note)], ["docs"]):
        _one_clear_line(run_assistant(*command, env=env), "cannot be written", "--store")


def test_a_full_disk_stops_indexing_cleanly_and_the_next_run_finishes_it(tmpfs, embeddings):
    folder = tmpfs("4m")
    env = _data_env(folder)
    assert run_assistant("docs", env=env).returncode == 0
    # leave about 100 kB free, then index a document that needs more
    free = os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize
    filler = folder / "filler"
    filler.write_bytes(b"\0" * max(0, free - 100_000))
    path = _articles(folder.parent / "docs", count=1, sentences=1200)[0]

    _one_clear_line(run_assistant("index", str(path), env=env), "is full", "free some space")

    filler.unlink()
    subprocess.run(["mount", "-o", "remount,size=64m", str(folder)], check=True)
    done = run_assistant("index", str(path), env=env)
    assert done.returncode == 0, done.stderr
    index = Index(StoreSettings(store=folder / "store"), embeddings)
    documents, _ = load_paths([path])
    expected = {c.id for d in documents for c in chunk_document(d)}  # the bundled article is in its own corpus
    stored = Counter(c.id for c in index.all_chunks())
    assert set(stored) == expected and max(stored.values()) == 1
    assert {d.id: d.chunks for d in index.documents()}[documents[0].id] == len(chunk_document(documents[0]))


# --- a Chroma server going away and coming back ----------------------------------------------------------------

def test_a_chroma_server_down_is_one_clear_error_and_the_next_turn_reconnects(tmp_path, embeddings, cross_encoder):
    from assistant.service import Assistant, AssistantSettings
    from store import StoreError

    port = free_port()
    server = start_chroma(tmp_path / "server", port)
    try:
        settings = StoreSettings(chroma_url=f"http://127.0.0.1:{port}")
        assistant = Assistant(settings, AssistantSettings(engine="extractive", conversations=tmp_path / "c.sqlite"),
                              index=Index(settings, embeddings), cross_encoder=cross_encoder)
        assistant.index.ensure_demo()
        _, turn = assistant.ask("How many people were killed in the clashes?", "srv")
        assert "34" in turn.answer

        server.terminate()
        server.wait(timeout=30)
        with pytest.raises(StoreError) as failure:
            assistant.ask("Who brokered the ceasefire?", "srv")
        message = str(failure.value)
        assert f"127.0.0.1:{port}" in message and "chroma run" in message

        server = start_chroma(tmp_path / "server", port)  # restarted, same data
        _, turn = assistant.ask("Who brokered the ceasefire?", "srv")
        assert turn.status == "ok" and "Russia" in turn.answer
        assert [t.question for t in assistant.turns("srv") if t.status == "ok"] == [
            "How many people were killed in the clashes?", "Who brokered the ceasefire?"]
    finally:
        server.kill()
