"""The local model in its own process, for real: the 0.5B model in a llama_worker child that dies by a real
signal mid-answer (killed from outside, or raising SIGILL / SIGSEGV itself). The turn fails with one sentence
that says why and what to do, it is kept as failed, and the next turn starts a new process and answers —
in the CLI's service and in the UI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.engines.base import EngineError
from assistant.engines.llama_modules import CpuModules, death_reason
from assistant.engines.llamacpp import LlamaCppChat
from local_model import REAL_MODEL, assert_checked_against_the_article, needs_llama_cpp, needs_model
from pilot import wait_for
from tui.app import AssistantApp

ASSISTANT = str(Path(sys.executable).parent / "assistant")
QUESTION = "How many people were killed in the clashes?"


def test_a_death_is_told_by_its_signal():
    assert death_reason(-signal.SIGILL) == "signal SIGILL: this build of llama.cpp does not run on this CPU"
    assert death_reason(-signal.SIGKILL) == "signal SIGKILL: it was killed, perhaps because memory ran out"
    assert death_reason(-signal.SIGSEGV) == "signal SIGSEGV: llama.cpp crashed"
    assert death_reason(-signal.SIGILL, module="zen4") == \
        "signal SIGILL: llama.cpp's zen4 module does not run on this CPU"
    assert death_reason(1, "loading…\nerror: unknown model architecture 'x'") == \
        "exit code 1: error: unknown model architecture 'x'"


@pytest.fixture
def local(make_assistant, tmp_path):
    """Assistants with the local engine over the real model, built as the product builds them; their model
    processes are ended afterwards. Each test keeps its own verdicts on the CPU modules, so a module one test
    marks bad is not missing from the next."""
    made = []

    def make(**settings):
        assistant = make_assistant("local", local_model=Path(REAL_MODEL), **settings)
        assistant.engine.chat_model.module_cache = tmp_path / "cache"
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
    """A crash in native code sets the CPU module aside: the next turn answers with the next best, and the user
    is not sent to rebuild. A kill from outside says nothing of the module: the next turn uses it again."""
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
    first = model.variant
    why = {"SIGKILL": "signal SIGKILL: it was killed, perhaps because memory ran out",
           "SIGILL": f"signal SIGILL: llama.cpp's {first} module does not run on this CPU",
           "SIGSEGV": "signal SIGSEGV: llama.cpp crashed"}[name]
    fix = ("run `make setup-local` again, or use --engine extractive" if name == "SIGKILL" else
           f"llama.cpp's {first} module is set aside, and the next turn uses the next best")
    assert str(failed.value) == f"the local model stopped ({why}); {fix}"
    assert model.pid is None  # gone, and not restarted behind the user's back
    monkeypatch.delenv("ASSISTANT_LLAMA_CRASH", raising=False)
    _, turn = assistant.ask(QUESTION, "c")  # a new process, a real answer
    assert model.pid is not None and not turn.refused and turn.answer
    assert_checked_against_the_article(turn.model_dump())
    assert (model.variant == first) == (name == "SIGKILL")
    if name != "SIGKILL":
        [marked] = [m for m in model.modules().modules() if m.name == first]
        assert marked.verdict.why == f"died by {name} during a turn"
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
        assert any(re.search(r"the local model stopped \(signal SIGILL: llama.cpp's \w+ module does not run on this "
                             r"CPU\); llama.cpp's \w+ module is set aside, and the next turn uses the next best", m)
                   for m in shown), shown
        assert app.query_one("#question").value == QUESTION  # kept, to ask again
        monkeypatch.delenv("ASSISTANT_LLAMA_CRASH")
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(app.turn_views) == 2 and app.turn_views[-1].state != "running"
                       and not app.is_answering, timeout=120)
        assert app.turn_views[-1].state == "ok" and app.turn_views[-1].turn.answer
        assert [t.status for t in app.assistant.turns(app.conversation_id)] == ["failed", "ok"]


def model_list(cache: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, ASSISTANT_LOCAL_MODEL=REAL_MODEL, ASSISTANT_MODELS=str(cache.parent / "models"),
               ASSISTANT_CACHE=str(cache), COLUMNS="200", **env)
    return subprocess.run([ASSISTANT, "model", "list", *args], env=env, capture_output=True, text=True, timeout=300)


@needs_model
def test_model_list_checks_llama_cpp_on_this_cpu(tmp_path):
    """The self-check: the best CPU module checked, then a short and a long prompt in a model process, and a
    plain verdict."""
    done = model_list(tmp_path / "cache")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "llama.cpp build: portable" in done.stdout
    assert "short prompt: ok" in done.stdout and "long prompt: ok" in done.stdout
    assert "llama.cpp works on this CPU" in done.stdout
    used = re.search(r"CPU module loaded: (\S+)", done.stdout).group(1)
    assert re.search(rf"^  {used} +used: passed its check in [\d.]+ s \(next-token accuracy 0\.\d+", done.stdout, re.M)
    assert re.search(r"^  not checked, as a better one works: .*\bx64$", done.stdout, re.M)


def best_two_modules(cache: Path) -> tuple[str, str]:
    from assistant.engines.llama_build import library_dir

    modules = CpuModules(library_dir(), cache, REAL_MODEL, os.cpu_count() or 1)
    runnable = [m.name for m in modules.modules() if m.score > 0]
    return runnable[0], runnable[1]


@needs_model
def test_a_module_that_dies_in_its_check_is_skipped_and_the_next_best_answers(tmp_path):
    """What a guest whose best module faults sees (an AMX one on an Intel VM): the module dies in its check, the
    next best answers, and the verdict is kept — the next process reads it back and checks nothing again, even
    when the module would now pass."""
    cache = tmp_path / "cache"
    best, second = best_two_modules(cache)
    done = model_list(cache, ASSISTANT_LLAMA_CHECK_FAULT=f"{best}:SIGILL")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"CPU module loaded: {second}" in done.stdout
    assert re.search(rf"^  {best} +skipped: died by SIGILL in its check", done.stdout, re.M)
    assert re.search(rf"^  {second} +used: passed its check", done.stdout, re.M)
    assert "long prompt: ok" in done.stdout and "llama.cpp works on this CPU" in done.stdout
    again = model_list(cache)  # no fault now: the kept verdict decides, nothing is checked again
    assert re.search(rf"^  {best} +skipped: died by SIGILL in its check", again.stdout, re.M)
    assert f"CPU module loaded: {second}" in again.stdout
    rechecked = model_list(cache, "--recheck")  # unless asked to: then it chooses as a cache that never saw the fault
    fresh = model_list(tmp_path / "fresh")
    loaded = [re.search(r"CPU module loaded: (\S+)", done.stdout).group(1) for done in (rechecked, fresh)]
    assert loaded[0] == loaded[1], rechecked.stdout + fresh.stdout


@needs_model
@pytest.mark.parametrize("fault", ["hang", "garbage"])
def test_a_module_that_hangs_or_predicts_garbage_in_its_check_is_skipped(tmp_path, monkeypatch, fault):
    """Faults injected into the AVX2 module, which every x86-64 CPU since 2013 runs (the best module here may be
    one that really dies on this machine)."""
    from assistant.engines.llama_build import library_dir

    monkeypatch.setenv("ASSISTANT_LLAMA_CHECK_FAULT", f"haswell:{fault}")
    modules = CpuModules(library_dir(), tmp_path, REAL_MODEL, os.cpu_count() or 1, timeout=30)
    verdict = modules.check("haswell")
    assert not verdict.ok
    assert verdict.why == ("hung: its check did not finish in 30 s" if fault == "hang" else
                           "predicted garbage in its check (next-token accuracy 0.00, no NaN or infinite logits)")


@needs_llama_cpp
def test_the_verdicts_are_kept_for_this_cpu_build_and_model_only(tmp_path, monkeypatch):
    """A verdict holds for the CPU, the build, the model file and the thread count it was found with: another CPU
    (a VM moved to another host) or another model is checked anew."""
    import store.cpu
    from assistant.engines.llama_build import library_dir
    from assistant.engines.llama_modules import Verdict

    model = tmp_path / "model.gguf"
    model.write_bytes(b"GGUF")
    modules = CpuModules(library_dir(), tmp_path, str(model), 2)
    modules.remember("zen4", Verdict(False, "died by SIGILL in its check"))
    assert CpuModules(library_dir(), tmp_path, str(model), 2).modules() == modules.modules()
    assert {m.name: m.verdict for m in modules.modules()}["zen4"] == Verdict(False, "died by SIGILL in its check")
    other = tmp_path / "other.gguf"
    other.write_bytes(b"GGUF")
    assert all(m.verdict is None for m in CpuModules(library_dir(), tmp_path, str(other), 2).modules())
    assert all(m.verdict is None for m in CpuModules(library_dir(), tmp_path, str(model), 1).modules())
    monkeypatch.setattr(store.cpu, "identity", lambda: "x86_64 another CPU")
    assert all(m.verdict is None for m in CpuModules(library_dir(), tmp_path, str(model), 2).modules())


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
def test_the_portable_build_answers_a_long_prompt(monkeypatch, tmp_path, variant):
    """The library `make setup-local` built, on a prompt long enough for batched matrix products (what died with
    SIGILL on a native build in a VM): the AVX2 module that any x86-64 CPU since 2013 runs, and the best one here."""
    from assistant.engines.llama_build import installed_problems
    from store import bundled_document

    assert installed_problems() == []
    if variant:
        monkeypatch.setenv("ASSISTANT_LLAMA_VARIANT", variant)
    model = LlamaCppChat(model_path=REAL_MODEL, module_cache=tmp_path, max_tokens=8)
    try:
        reply = model.invoke(bundled_document().text + "\n\nIn one word, what is this text about?").content
        assert reply.strip()
        if variant:
            assert model.variant == variant
        else:  # the best-scored module whose check passed here (those above it failed theirs)
            checked = [m for m in model.modules().modules() if m.score > 0 and m.verdict is not None]
            assert checked and all(not m.verdict.ok for m in checked[:-1]) and checked[-1].verdict.ok
            assert model.variant == checked[-1].name
    finally:
        model.close()


@needs_llama_cpp
def test_a_file_that_is_not_a_model_is_one_sentence_each_turn(tmp_path):
    bad = tmp_path / "notes.gguf"
    bad.write_text("not a model")
    model = LlamaCppChat(model_path=str(bad), module_cache=tmp_path)
    for _ in range(2):  # and again on the next turn: a new process, the same clear sentence
        with pytest.raises(EngineError) as failed:
            model.invoke("hello")
        assert str(failed.value).startswith("the local model could not start (ValueError: Failed to load model from file")
        assert str(failed.value).endswith("check it with `assistant model list`, or use --engine extractive")
        assert model.pid is None
