"""The script format and `assistant script`: validation errors that name the place, JSON Lines, exit codes."""

import json
import os
import subprocess
from pathlib import Path

import pytest

from assistant.script import ScriptError, parse_script
from tests.test_cli import ASSISTANT


def run_assistant(*args, store: Path, cwd: Path | None = None, env_extra: dict | None = None):
    env = {**os.environ, "ASSISTANT_STORE": str(store), "NO_COLOR": "1", **(env_extra or {})}
    env.pop("ASSISTANT_CHROMA_URL", None)
    return subprocess.run([ASSISTANT, *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("conversations: []", "field conversations: List should have at least 1 item"),
        ("conversations:\n  - id: a\n    turns: []", "conversation a, field turns"),
        ("conversations:\n  - turns:\n      - ask: hi\n      - ask: x\n        expect: {cited: maybe}",
         "conversation c1, turn 2, field expect.cited"),
        ("conversations:\n  - turns:\n      - ask: hi\n        expect: {answer_containz: [x]}",
         "turn 1, field expect.answer_containz: Extra inputs are not permitted"),
        ("documents:\n  - text: only text\nconversations:\n  - turns: [{ask: hi}]", "inline `text` needs a `title`"),
        ("conversations: [unclosed", "not valid YAML or JSON"),
        ("- just\n- a list", "a script is a mapping"),
    ],
)
def test_invalid_scripts_name_the_conversation_turn_and_field(source, message):
    with pytest.raises(ScriptError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_script(source, "s.yaml")


def test_json_scripts_are_accepted():
    script = parse_script(json.dumps({"conversations": [{"turns": [{"ask": "Who?"}]}]}))
    assert script.conversations[0].turns[0].ask == "Who?"


def test_script_runs_conversations_on_their_own_documents_and_prints_json_lines(tmp_path):
    (tmp_path / "harbour.md").write_text("# Harbour news\n\nThe new harbour in Quuxport opened on 3 May 2021. "
                                         "It cost 40 million euros.\n")
    (tmp_path / "talk.yaml").write_text("""
conversations:
  - id: harbour
    documents:
      - path: harbour.md
    turns:
      - ask: When did the harbour open?
        expect: {answer_contains: ["3 May 2021"], cited: true}
      - ask: How much did it cost?
        expect: {answer_contains: ["40 million"]}
  - id: article
    turns:
      - ask: How many people were killed in the clashes?
        expect: {answer_contains: ["34"], sources_contain: ["at least 34 dead"]}
      - ask: When did the harbour open?
        expect: {refuses: true}
  - id: inline
    documents:
      - title: Lighthouse
        text: "The lighthouse keeper is Maria Quell.\\r\\nShe has kept it since 1998."
    turns:
      - ask: Who keeps the lighthouse?
        expect: {answer_contains: ["Maria Quell"], cited: true}
""")
    result = run_assistant("script", "talk.yaml", "--json", store=tmp_path / "s", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["conversation"], r["turn"]) for r in lines] == [("harbour", 1), ("harbour", 2), ("article", 1),
                                                              ("article", 2), ("inline", 1)]
    assert all(r["passed"] for r in lines)
    assert {s["title"] for s in lines[0]["sources"]} == {"Harbour news"}
    assert {s["title"] for s in lines[2]["sources"]} != {"Harbour news"}
    inline = lines[4]
    text = "The lighthouse keeper is Maria Quell.\r\nShe has kept it since 1998."
    citation = inline["citations"][0]
    assert text[citation["start"] : citation["end"]] == citation["text"] and citation["verified"]
    assert set(lines[0]) >= {"conversation", "turn", "question", "standalone_question", "answer", "refused", "engine",
                             "citations", "sources", "checks", "passed", "latency_ms"}


def test_indexed_scripts_answer_from_the_documents_in_the_store(tmp_path):
    """`--indexed`: a regression script for one's own corpus, asked of what `assistant index` put in the store."""
    (tmp_path / "harbour.md").write_text("# Harbour news\n\nThe new harbour in Quuxport opened on 3 May 2021.\n")
    (tmp_path / "ferry.txt").write_text("The ferry to Ormsund leaves at seven and costs twelve euros.\n")
    store = tmp_path / "s"
    assert run_assistant("index", str(tmp_path / "harbour.md"), str(tmp_path / "ferry.txt"), store=store).returncode == 0
    (tmp_path / "mine.yaml").write_text("conversations:\n  - turns:\n      - ask: When did the harbour open?\n"
                                        "        expect: {answer_contains: [3 May 2021], cited: true}\n"
                                        "      - ask: How much does the ferry cost?\n"
                                        "        expect: {answer_contains: [twelve euros]}\n")
    result = run_assistant("script", str(tmp_path / "mine.yaml"), "--indexed", "--json", store=store)
    assert result.returncode == 0, result.stdout + result.stderr
    assert all(json.loads(line)["passed"] for line in result.stdout.splitlines())
    (tmp_path / "both.yaml").write_text("documents: [{path: ferry.txt}]\nconversations: [{turns: [{ask: hi}]}]\n")
    both = run_assistant("script", str(tmp_path / "both.yaml"), "--indexed", store=store)
    assert both.returncode == 2 and "--indexed answers from the store's" in both.stderr


def test_a_failed_expectation_exits_1_and_an_invalid_script_exits_2(tmp_path):
    (tmp_path / "fails.yaml").write_text("conversations:\n  - turns:\n      - ask: Who mediated the ceasefire?\n"
                                         "        expect: {answer_contains: [penguins]}\n")
    failed = run_assistant("script", str(tmp_path / "fails.yaml"), store=tmp_path / "s")
    assert failed.returncode == 1
    assert "FAIL answer_contains" in failed.stdout and "1 turn(s) failed" in failed.stdout
    (tmp_path / "bad.yaml").write_text("conversations:\n  - id: x\n    turns:\n      - ask: hi\n        expect: {cited: maybe}\n")
    invalid = run_assistant("script", str(tmp_path / "bad.yaml"), store=tmp_path / "s")
    assert invalid.returncode == 2
    assert "conversation x, turn 1, field expect.cited" in invalid.stderr and "Traceback" not in invalid.stderr


def test_ask_history_and_export(tmp_path):
    env = {"ASSISTANT_CONVERSATIONS": str(tmp_path / "c.sqlite")}
    asked = run_assistant("ask", "How far is Yevlax from Baku?", "--json", store=tmp_path / "s", env_extra=env)
    assert asked.returncode == 0, asked.stderr
    first = json.loads(asked.stdout)
    assert "265 kilometers" in first["answer"] and first["citations"][0]["verified"]
    conversation = first["conversation"]
    follow = run_assistant("ask", "And from Stepanakert?", "--conversation", conversation, store=tmp_path / "s",
                           env_extra=env)
    assert follow.returncode == 0 and "searched: And from Stepanakert?" in follow.stdout
    assert f"assistant ask --conversation {conversation}" in follow.stdout
    history = run_assistant("history", store=tmp_path / "s", env_extra=env)
    assert conversation in history.stdout and "2 turns" in history.stdout
    exported = run_assistant("export", conversation, "--format", "md", store=tmp_path / "s", env_extra=env)
    assert "## 1. How far is Yevlax from Baku?" in exported.stdout and "## 2. And from Stepanakert?" in exported.stdout
    assert "*Searched:*" in exported.stdout and "Sources:" in exported.stdout
    missing = run_assistant("export", "nope", store=tmp_path / "s", env_extra=env)
    assert missing.returncode == 2 and "no conversation nope" in missing.stderr


def test_an_empty_question_is_a_one_line_error(tmp_path):
    result = run_assistant("ask", "  ", store=tmp_path / "s")
    assert result.returncode == 2 and result.stderr.strip() == "error: the question is empty; type a question about the documents"
