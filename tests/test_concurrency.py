"""Several processes on one store: refused writers on an embedded store, fresh readers, and a Chroma server
serving eight scripted conversations at once. Every process here is a real one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import yaml
from processes import run_assistant

from store import HybridRetriever, Index, RetrievalOptions, StoreSettings

HOLD_WRITE_LOCK = textwrap.dedent("""
    import sys, time
    from store import StoreSettings
    from store.clients import writing

    with writing(StoreSettings()):
        print("writing", flush=True)
        time.sleep(600)
""")


def test_a_second_writer_on_an_embedded_store_is_refused_with_the_way_to_server_mode(tmp_path):
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "store")}
    note = tmp_path / "note.txt"
    note.write_text("The lighthouse keeper logged 41 ships in March.", encoding="utf-8")
    writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        refused = run_assistant("index", str(note), env=env)
        assert refused.returncode != 0
        message = " ".join(refused.stderr.split())
        assert "another assistant process is writing to the index" in message
        assert "--chroma-url" in message
        assert "Traceback" not in refused.stderr
    finally:
        writer.kill()
        writer.wait()
    # the lock dies with its process: the same command now goes through
    done = run_assistant("index", str(note), env=env)
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout


def test_a_reader_sees_what_another_process_indexed_after_it_opened_the_store(tmp_path, embeddings, cross_encoder):
    settings = StoreSettings(store=tmp_path / "store")
    index = Index(settings, embeddings)
    index.ensure_demo()
    retriever = HybridRetriever(index=index, options=RetrievalOptions(rerank=False), cross_encoder=cross_encoder)
    question = "How many ships did the lighthouse keeper log in March?"
    assert all(p.document_id == "nagorno-karabakh-ceasefire" for p in retriever.search(question))

    note = tmp_path / "lighthouse.txt"
    note.write_text("The lighthouse keeper logged 41 ships in March. Storms kept the harbour closed for a week.",
                    encoding="utf-8")
    added = run_assistant("index", str(note), env={**os.environ, "ASSISTANT_STORE": str(settings.store)})
    assert added.returncode == 0, added.stderr

    # the same open index, dense and lexical halves alike, now finds the new document first
    assert index.dense_search(question, 1)[0][0].document_id.startswith("lighthouse-")
    assert retriever.search(question)[0].document_id.startswith("lighthouse-")
    # the bundled article stepped aside for the user's first document
    assert [d.title for d in index.documents()] == ["lighthouse"] and not index.demo


def _story(n: int) -> tuple[str, str, str]:
    """A small story with facts no other story has: (title, text, the number to answer with)."""
    visitors = str(1000 + 37 * n)
    town = f"Townsville{n}"
    text = (f"The harvest festival in {town} drew {visitors} visitors this year, the organisers said. "
            f"The mayor of {town}, Ada Quill{n}, opened the festival with a speech about the river. "
            f"Rain on the second day moved the concerts into the old mill of {town}.")
    return f"{town} festival", text, visitors


def test_eight_conversations_at_once_on_a_chroma_server_each_answered_from_its_own_documents(chroma_server, tmp_path):
    env = {**os.environ, "ASSISTANT_CHROMA_URL": chroma_server}  # scripts keep their documents in `scripts`
    processes = []
    for n in range(8):
        title, text, visitors = _story(n)
        script = {
            "engine": "extractive",
            "conversations": [{
                "id": f"town-{n}",
                "documents": [{"title": title, "text": text}],
                "turns": [
                    {"ask": "How many visitors did the harvest festival draw?",
                     "expect": {"answer_contains": [visitors], "cited": True}},
                    {"ask": "Who opened it?", "expect": {"answer_contains": [f"Ada Quill{n}"]}},
                ],
            }],
        }
        path = tmp_path / f"town-{n}.convo.yaml"
        path.write_text(yaml.safe_dump(script), encoding="utf-8")
        env_n = {**env, "ASSISTANT_CONVERSATIONS": str(tmp_path / f"conversations-{n}.sqlite")}
        processes.append(subprocess.Popen([sys.executable, "-m", "assistant", "script", str(path), "--json"],
                                          env=env_n, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    outputs = [p.communicate(timeout=600) for p in processes]
    for n, (p, (stdout, stderr)) in enumerate(zip(processes, outputs)):
        assert p.returncode == 0, f"conversation {n}: {stderr[-2000:]}\n{stdout[-2000:]}"
        turns = [json.loads(line) for line in stdout.splitlines()]
        assert [t["turn"] for t in turns] == [1, 2]
        title = _story(n)[0]
        for turn in turns:
            assert turn["passed"], turn
            # nothing crossed: every source and citation is from this conversation's own story
            assert {s["title"] for s in turn["sources"]} == {title}
            assert {c["title"] for c in turn["citations"]} <= {title}

    # nothing lost or doubled on the server: eight stories, each stored once with all its chunks
    index = Index(StoreSettings(chroma_url=chroma_server, collection="scripts"))
    stories = [d for d in index.documents() if d.title.startswith("Townsville")]
    assert sorted(d.title for d in stories) == sorted(_story(n)[0] for n in range(8))
    chunks = index.all_chunks()
    assert len({c.id for c in chunks}) == len(chunks)
    for d in stories:
        assert d.chunks == sum(c.document_id == d.id for c in chunks)
