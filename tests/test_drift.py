"""Citations that notice when their document changed: an old answer shown, resumed or exported is checked against
its documents as indexed now; a quote no longer where it was is stale, with the reason, never shown as verified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from assistant.citations import recheck
from assistant.turns import Citation, Turn
from store import text_document

ASSISTANT = shutil.which("assistant", path=str(Path(sys.executable).parent))


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([ASSISTANT, *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def test_an_answer_whose_cited_sentence_changed_on_disk_is_stale_once_re_indexed(tmp_path):
    env = {**os.environ, "ASSISTANT_STORE": str(tmp_path / "store"), "NO_COLOR": "1", "COLUMNS": "200",
           "ASSISTANT_CONVERSATIONS": str(tmp_path / "c.sqlite")}
    env.pop("ASSISTANT_CHROMA_URL", None)
    lighthouse, ferry, market = tmp_path / "lighthouse.md", tmp_path / "ferry.md", tmp_path / "market.md"
    lighthouse.write_text("# Lighthouse\n\nThe keeper lights the lamp of the lighthouse at seven in the evening.\n",
                          encoding="utf-8")
    ferry.write_text("# Ferry\n\nThe ferry to Orla leaves the harbour at noon.\n", encoding="utf-8")
    market.write_text("# Market\n\nThe fish market opens on Saturdays at six.\n", encoding="utf-8")
    run("index", str(tmp_path), env=env)
    first = json.loads(run("ask", "When does the keeper light the lamp of the lighthouse?", "--json", env=env).stdout)
    conversation = first["conversation"]
    for question in ("When does the ferry to Orla leave the harbour?", "When does the fish market open?"):
        run("ask", question, "--conversation", conversation, "--json", env=env)
    lighthouse.write_text("# Lighthouse\n\nThe keeper lights the lamp of the lighthouse at nine at night.\n",
                          encoding="utf-8")  # the cited sentence says otherwise now
    ferry.write_text("# Ferry\n\nA new timetable starts in May.\n\nThe ferry to Orla leaves the harbour at noon.\n",
                     encoding="utf-8")  # the same sentence, further down
    run("index", str(tmp_path), env=env)

    exported = json.loads(run("export", conversation, "--format", "json", env=env).stdout)
    [changed], [moved], [unchanged] = (turn["citations"] for turn in exported["turns"])
    assert changed["text"] == "The keeper lights the lamp of the lighthouse at seven in the evening."
    assert not changed["verified"] and changed["stale"].startswith("the document changed on ")
    assert changed["stale"].endswith(" and no longer says this")
    assert not moved["verified"] and "the quote now stands at characters" in moved["stale"]
    assert unchanged["verified"] and unchanged["stale"] is None  # its document did not change
    markdown = run("export", conversation, env=env).stdout
    assert "(stale: the document changed on" in markdown
    shown = run("ask", "And on Sundays?", "--conversation", conversation, env=env).stdout  # the new turn is checked now
    assert "verified" in shown


def _turn(*citations: Citation) -> Turn:
    return Turn(question="q", standalone_question="q", answer="a [1]", engine="extractive", citations=list(citations))


def test_recheck_tells_removed_moved_and_changed_documents_from_unchanged_ones():
    text = "The ferry leaves at noon. The market opens at six."
    quote = Citation(n=1, document_id="d", title="T", start=26, end=50, text="The market opens at six.", verified=True)
    unverified = quote.model_copy(update={"n": 2, "verified": False, "text": "Never said."})
    same = text_document(text, "T", "d")

    def checked(document) -> list[Citation]:
        [turn] = recheck([_turn(quote, unverified)], lambda _: document, lambda _: "2026-12-08 10:00")
        return turn.citations

    assert checked(same) == [quote, unverified]  # unchanged, and a quote that never verified stays as it was
    assert checked(text_document("Late news. " + text, "T", "d"))[0].stale == (
        "the document changed on 2026-12-08 10:00; the quote now stands at characters 37–61")
    assert checked(text_document("The ferry leaves at noon. The market opens at ten.", "T", "d"))[0].stale == (
        "the document changed on 2026-12-08 10:00 and no longer says this")
    [gone, _] = checked(None)
    assert (gone.verified, gone.stale) == (False, "its document is no longer indexed")


async def test_a_resumed_conversation_shows_a_stale_citation_with_its_reason(own_store, tmp_path):
    from pilot import ask, wait_for
    from textual.widgets import Static

    from tui.app import AssistantApp

    notes = tmp_path / "notes.md"
    notes.write_text("# Harbour\n\nThe pilot boat leaves the quay at dawn every day.\n", encoding="utf-8")
    app = AssistantApp(own_store, paths=[notes])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.documents is not None)
        view = await ask(pilot, "When does the pilot boat leave the quay?")
        assert view.turn.citations[0].verified
        conversation = app.conversation_id
    notes.write_text("# Harbour\n\nThe pilot boat leaves the quay at noon every day.\n", encoding="utf-8")
    own_store().add_paths([notes])  # re-indexed, as a watcher or `assistant index` would
    again = AssistantApp(own_store, conversation_id=conversation)
    async with again.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(again.turn_views) == 1)
        [resumed] = again.turn_views
        note = str(resumed.query_one(".note", Static).render())
        assert "citation [1] is stale: the document changed on " in note and "no longer says this" in note
        assert not resumed.turn.citations[0].verified and resumed.has_class("-unsupported")
