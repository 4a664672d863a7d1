"""Hostile and broken input, generated: whatever the bytes or text, the answer is a document, a script, a
question — or the one error type that carries a clear message. Never another exception, never a hang."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from processes import run_assistant

from assistant.questions import MAX_QUESTION, QuestionError, clean_question
from assistant.script import Script, ScriptError, parse_script
from store.chunking import chunk_document
from store.documents import LoadError, load_file, load_paths

TEXT_EXTENSIONS = [".txt", ".md", ".html"]

# bytes that look like text files gone wrong: NUL runs, huge lines, CRLF, Latin-1 inside UTF-8, BOMs, escapes
hostile_bytes = st.one_of(
    st.binary(max_size=4096),
    st.lists(st.sampled_from([
        b"plain words. ", b"\r\n", b"\n\n", b"\x00", b"\x00" * 64, b"\xef\xbb\xbf", b"\xff\xfe", b"caf\xe9 ",
        "café ".encode(), "日本語の文。".encode(), b"\x1b[31mred\x1b[0m ", b"[bold]x[/] ", b"<p>para</p>",
        b"x" * 5000, b"\x80\x81\x82", b"\t", "\u2028".encode(), b"%PDF-",
    ]), max_size=60).map(b"".join),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile_bytes, extension=st.sampled_from(TEXT_EXTENSIONS))
@example(data=b"\x00\x01\x02binary", extension=".txt")
@example(data=b"line one\r\nline two\r\n", extension=".txt")
@example(data=b"a" * 200_000, extension=".txt")  # one huge line, no sentence end
@example(data=b"\xfe\xff" + b"\x00" * 64, extension=".txt")  # NUL characters behind a UTF-16 BOM (found by CI)
@example(data=b"\xfe\xff\r\n", extension=".txt")
@example(data=b"\x01", extension=".html")  # a control character, which XML (lxml) cannot hold (found by CI)
@example(data=b"\xff\xfe" + b"\x00\x01" * 15 + b"\xfe\xff", extension=".html")  # U+FFFE behind a BOM
def test_any_bytes_load_into_a_verbatim_document_or_one_clear_error(tmp_path, data, extension):
    path = tmp_path / f"doc{extension}"
    path.write_bytes(data)
    try:
        document = load_file(path)
    except LoadError as exc:
        assert str(path) in str(exc) and exc.reason  # names the file and the reason
        assert "\n" not in str(exc)
        return
    assert document.text.strip()
    if extension == ".txt":  # plain text is kept exactly as decoded, CRLF included
        assert "\x00" not in document.text
        assert document.text.encode("utf-8", "surrogatepass")
        if b"\r\n" in data and data[:2] not in (b"\xff\xfe", b"\xfe\xff") and b"\x00" not in data:
            assert "\r\n" in document.text  # (as UTF-16, the same bytes are other characters)
    for chunk in chunk_document(document):
        assert chunk.text == document.text[chunk.start:chunk.end]


def test_a_fifo_a_device_and_a_symlink_loop_are_refused_without_hanging(tmp_path):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    loop_a, loop_b = tmp_path / "a.txt", tmp_path / "b.txt"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "up").symlink_to(tmp_path)  # a folder that contains itself through a link
    (folder / "note.txt").write_text("A real note.", encoding="utf-8")

    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(
        out=load_paths([fifo, Path("/dev/zero"), loop_a, folder])), daemon=True)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "loading hung"
    documents, failures = result["out"]
    assert [d.text for d in documents] == ["A real note."]
    reasons = {Path(f.path).name: f.reason for f in failures}
    assert "not a regular file" in reasons["pipe.txt"]
    assert "not a regular file" in reasons["zero"]
    assert "loops" in reasons["a.txt"]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
@example("\x1b]52;c;ZXZpbA==\x07How many?")  # an OSC escape that would write the clipboard
@example("\x1b[2J\x1b[HWho?")
@example("   \t\n ")
@example("x" * 100_000)
def test_any_question_is_cleaned_to_one_line_or_refused_with_the_fix(question):
    try:
        cleaned = clean_question(question)
    except QuestionError as exc:
        assert "empty" in str(exc) or f"under {MAX_QUESTION:,}" in str(exc)
        return
    assert cleaned and cleaned == cleaned.strip()
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in cleaned)
    assert len(cleaned) <= MAX_QUESTION


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                      max_leaves=20)
script_like = st.fixed_dictionaries({}, optional={
    "engine": st.one_of(st.just("extractive"), scalars),
    "documents": st.one_of(values, st.lists(st.fixed_dictionaries({"title": st.text(max_size=10),
                                                                    "text": st.text(max_size=40)}), max_size=2)),
    "conversations": st.one_of(values, st.lists(st.fixed_dictionaries(
        {"turns": st.lists(st.fixed_dictionaries({"ask": st.text(max_size=40)},
                                                 optional={"expect": values}), max_size=3)},
        optional={"id": scalars, "documents": values}), max_size=3)),
    "extra": values,
})


@settings(max_examples=300, deadline=None)
@given(st.one_of(script_like.map(lambda d: yaml.safe_dump(d, allow_unicode=True)), script_like.map(json.dumps),
                 st.text(max_size=400)))
@example("conversations: [{turns: [{ask: 'x'}]}]\n\t- broken")
@example("&a [*a, *a]")
@example("documents:\n- ? '\n\n    '\n  : null\n")  # a key made of line breaks (found by CI)
@example("!!python/object/apply:os.system ['echo owned']")  # safe_load refuses it: no code runs
def test_any_script_text_parses_or_gets_one_error_naming_where(source):
    try:
        script = parse_script(source, "s.convo.yaml")
    except ScriptError as exc:
        message = str(exc)
        assert message.startswith("s.convo.yaml: ") and "\n" not in message.strip()
        return
    assert isinstance(script, Script) and script.conversations


def test_the_script_command_exits_2_with_the_message_for_a_broken_script(tmp_path):
    path = tmp_path / "broken.convo.yaml"
    path.write_text("conversations:\n  - turns:\n      - ask: 12\n        expect: {cited: maybe}\n", encoding="utf-8")
    done = run_assistant("script", str(path), env={**os.environ, "ASSISTANT_STORE": str(tmp_path / "store")})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "conversation c1, turn 1, field ask" in done.stderr
