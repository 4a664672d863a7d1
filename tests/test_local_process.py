"""The local model in its own process, for real: the 0.5B model in a llama_worker child that dies by a real
signal mid-answer (killed from outside, or raising SIGILL / SIGSEGV itself). The turn fails with one sentence
that says why and what to do, it is kept as failed, and the next turn starts a new process and answers —
in the CLI's service and in the UI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.engines.base import EngineError
from assistant.engines.llamacpp import LlamaCppChat, death_reason
from local_model import REAL_MODEL, needs_llama_cpp, needs_model
from pilot import wait_for
from tui.app import AssistantApp

ASSISTANT = str(Path(sys.executable).parent / "assistant")
QUESTION = "How many people were killed in the clashes?"


def test_a_death_is_told_by_its_signal():
    assert death_reason(-signal.SIGILL) == "signal SIGILL: this build of llama.cpp does not run on this CPU"
    assert death_reason(-signal.SIGKILL) == "signal SIGKILL: it was killed, perhaps because memory ran out"
    assert death_reason(-signal.SIGSEGV) == "signal SIGSEGV: llama.cpp crashed"
    assert death_reason(1, "loading…\nerror: unknown model architecture 'x'") == \
        "exit code 1: error: unknown model architecture 'x'"


@pytest.fixture
def local(make_assistant):
    """Assistants with the local engine over the real model, built as the product builds them; their model
    processes are ended afterwards."""
    made = []

    def make(**settings):
        assistant = make_assistant("local", local_model=Path(REAL_MODEL), **settings)
        made.append(assistant.engine.chat_model)
        return assistant

    yield make
    for model in made:
        model.close()


def _kill_at_first_token(model: LlamaCppChat, sig: signal.Signals):
    def on_token(_delta: str) -> None:
        if model.pid is not None:
            os.kill(model.pid, sig)
    return on_token


@needs_model
@pytest.mark.parametrize("how", ["SIGKILL from outside", "SIGILL raised inside", "SIGSEGV raised inside"])
def test_a_model_process_that_dies_mid_answer_costs_one_turn(local, monkeypatch, how):
    assistant = local()
    model = assistant.engine.chat_model
    name = how.split()[0]
    on_token = None
    if "inside" in how:
        monkeypatch.setenv("ASSISTANT_LLAMA_CRASH", f"{name}:2")  # the process raises it at its second token
    else:
        on_token = _kill_at_first_token(model, signal.SIGKILL)
    with pytest.raises(EngineError) as failed:
        assistant.ask(QUESTION, "c", on_token=on_token)
    why = {"SIGKILL": "signal SIGKILL: it was killed, perhaps because memory ran out",
           "SIGILL": "signal SIGILL: this build of llama.cpp does not run on this CPU",
           "SIGSEGV": "signal SIGSEGV: llama.cpp crashed"}[name]
    assert str(failed.value) == f"the local model stopped ({why}); run `make setup-local` again, or use --engine extractive"
    assert model.pid is None  # gone, and not restarted behind the user's back
    monkeypatch.delenv("ASSISTANT_LLAMA_CRASH", raising=False)
    _, turn = assistant.ask(QUESTION, "c")  # a new process, a real answer
    assert model.pid is not None and not turn.refused and turn.answer
    assert any(c.verified for c in turn.citations) or turn.unsupported
    stored = assistant.turns("c")
    assert [t.status for t in stored] == ["failed", "ok"]
    assert stored[0].error == str(failed.value)


@needs_model
def test_the_process_outlives_turns_and_keeps_its_prompt_cache(local):
    """One process for the whole conversation (the key/value cache of the shared prompt prefix is reused)."""
    assistant = local()
    model = assistant.engine.chat_model
    assistant.ask(QUESTION, "c")
    pid = model.pid
    assistant.ask("And the Azerbaijani side?", "c")
    assert model.pid == pid and model.variant
    assistant.switch_engine("extractive")  # the model process is not left behind
    assert model.pid is None


@needs_model
def test_a_cancelled_answer_stops_the_model_and_the_process_answers_the_next_turn(local):
    from assistant.engines.base import TurnCancelled

    assistant = local()
    model = assistant.engine.chat_model
    seen: list[str] = []
    with pytest.raises(TurnCancelled):
        assistant.ask(QUESTION, "c", on_token=seen.append, should_stop=lambda: bool(seen))
    pid = model.pid
    assert pid is not None  # stopped between two tokens, not killed
    _, turn = assistant.ask(QUESTION, "c")
    assert model.pid == pid and turn.answer and not turn.refused
    assert [t.status for t in assistant.turns("c")] == ["cancelled", "ok"]


@needs_model
async def test_the_ui_survives_a_model_process_that_dies(local, monkeypatch):
    app = AssistantApp(local)
    monkeypatch.setenv("ASSISTANT_LLAMA_CRASH", "SIGILL:2")  # the first process dies at its second token
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.assistant is not None)
        await pilot.press(*QUESTION, "enter")
        await wait_for(pilot, lambda: app.turn_views and app.turn_views[-1].state != "running", timeout=120)
        assert app.turn_views[-1].state == "failed"
        shown = [n.message for n in app._notifications if n.severity == "error"]
        assert any("the local model stopped (signal SIGILL: this build of llama.cpp does not run on this CPU)" in m
                   and "make setup-local" in m for m in shown), shown
        assert app.query_one("#question").value == QUESTION  # kept, to ask again
        monkeypatch.delenv("ASSISTANT_LLAMA_CRASH")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.turn_views) == 2 and app.turn_views[-1].state != "running"
                       and not app.is_answering, timeout=120)
        assert app.turn_views[-1].state == "ok" and app.turn_views[-1].turn.answer
        assert [t.status for t in app.assistant.turns(app.conversation_id)] == ["failed", "ok"]


@needs_model
def test_model_list_checks_llama_cpp_on_this_cpu(tmp_path):
    """The self-check: a short and a long prompt in a child process, and a plain verdict."""
    env = dict(os.environ, ASSISTANT_LOCAL_MODEL=REAL_MODEL, ASSISTANT_MODELS=str(tmp_path))
    done = subprocess.run([ASSISTANT, "model", "list"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "llama.cpp build: portable" in done.stdout
    assert "short prompt: ok" in done.stdout and "long prompt: ok" in done.stdout
    assert "CPU module loaded:" in done.stdout and "llama.cpp works on this CPU" in done.stdout


@needs_model
def test_a_hung_model_process_is_stopped_and_the_next_turn_answers(local):
    """A real hang (the process stopped by SIGSTOP after its first token) costs the turn after the timeout."""
    assistant = local(llm_timeout=3.0)
    model = assistant.engine.chat_model
    with pytest.raises(EngineError, match=r"the local model stopped \(no output for 3 s, so it was stopped\)"):
        assistant.ask(QUESTION, "c", on_token=_kill_at_first_token(model, signal.SIGSTOP))
    _, turn = assistant.ask(QUESTION, "c")
    assert turn.answer and not turn.refused


@needs_model
@pytest.mark.parametrize("variant", ["haswell", None], ids=["the AVX2 module", "the module chosen for this CPU"])
def test_the_portable_build_answers_a_long_prompt(monkeypatch, variant):
    """The library `make setup-local` built, on a prompt long enough for batched matrix products (what died with
    SIGILL on a native build in a VM): the AVX2 module that any x86-64 CPU since 2013 runs, and the best one here."""
    from assistant.engines.llama_build import installed_problems
    from store import bundled_document

    assert installed_problems() == []
    if variant:
        monkeypatch.setenv("ASSISTANT_LLAMA_VARIANT", variant)
    model = LlamaCppChat(model_path=REAL_MODEL, max_tokens=8)
    try:
        reply = model.invoke(bundled_document().text + "\n\nIn one word, what is this text about?").content
        assert reply.strip()
        assert model.variant == (variant or model.variant) and model.variant != "built-in"
    finally:
        model.close()


def test_the_amx_probe_survives_a_cpu_without_working_tiles():
    """The probe runs tile instructions in a forked child: where they fault, the caller lives and hears 'no'."""
    from assistant.engines.llama_worker import _TILE_CODE, amx_usable
    from store.cpu import MachineCode, cpuid, is_x86_64

    if not is_x86_64():
        pytest.skip("AMX is x86-64")
    has_amx_flags = bool(cpuid(7, 0)[3] >> 25 & 1)
    usable = amx_usable()  # would kill this process if it ran the tiles here
    if not has_amx_flags:
        assert usable is False
        pid = os.fork()
        if pid == 0:  # without the probe's checks, the same code dies by SIGILL: what the probe protects from
            import ctypes
            import faulthandler

            faulthandler.disable()
            config = (ctypes.c_uint8 * 64)(1)
            MachineCode(_TILE_CODE, None, ctypes.c_void_p)(ctypes.addressof(config))
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGILL


def test_the_amx_module_is_chosen_only_when_tiles_work(tmp_path):
    from assistant.engines.llama_build import library_dir
    from assistant.engines.llama_worker import choose_variant

    lib = library_dir()
    if lib is None or not (lib / "libggml-cpu-sapphirerapids.so").exists():
        pytest.skip("needs the portable llama.cpp (make setup-local)")
    import ctypes

    ctypes.CDLL(str(lib / "libggml.so"))
    name, _ = choose_variant(lib, allow_amx=False)
    assert name != "sapphirerapids"


@needs_llama_cpp
def test_a_file_that_is_not_a_model_is_one_sentence_each_turn(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    model = LlamaCppChat(model_path=str(bad))
    for _ in range(2):  # and again on the next turn: a new process, the same clear sentence
        with pytest.raises(EngineError) as failed:
            model.invoke("hello")
        assert str(failed.value).startswith("the local model could not start (ValueError: Failed to load model from file")
        assert str(failed.value).endswith("check it with `assistant model list`, or use --engine extractive")
        assert model.pid is None
