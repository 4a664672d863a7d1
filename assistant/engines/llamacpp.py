"""A LangChain chat model over a local GGUF model that llama.cpp runs in a child process, streaming.

llama.cpp is native code: an illegal instruction, a segmentation fault, an out-of-memory kill or a hang there
would take the whole assistant with it — the chat UI included — if it ran in this process. The model runs in
`assistant.engines.llama_worker` instead, started on the first turn (start-up stays lazy) and kept for the
next ones, so llama.cpp's cache of the last prompt (it reuses the longest common prefix; the engine's prompts
put what does not change first) survives from turn to turn. When the process dies, the turn fails with an
`EngineError` that says why, and the next turn starts a new one.

A `multiprocessing` worker would pickle through a pipe all the same and start by importing this process's
main module (the UI); llama-cpp-python's server would add its web stack and a port. A plain child process
with JSON lines on its pipes is the smallest thing that streams, can be cancelled between two tokens, and
tells how it ended (`returncode` is minus the signal number).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.engines.base import EngineError
from assistant.engines.llama_modules import CRASHES, CpuModules, Verdict, death_reason, installed_modules, worker

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
ADVICE = "run `make setup-local` again, or use --engine extractive"


class ModelProcess:
    """One running llama_worker: requests in, events out through a reader thread; stderr's end kept."""

    def __init__(self, model_path: str, n_ctx: int, n_threads: int, module: str | None):
        command = worker(model_path, "--n-ctx", str(n_ctx), "--threads", str(n_threads),
                         *(("--variant", module) if module else ()))
        self.module = module
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)  # Ctrl+C in the terminal is not for it
        self.events: queue.Queue[dict | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        threading.Thread(target=self._read_events, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                continue
        self.events.put(None)  # the process closed its output: it ended

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line.decode("utf-8", "replace").rstrip())

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: dict) -> None:
        try:
            self.process.stdin.write((json.dumps(message, ensure_ascii=False) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it died: the reader's end-of-output says so

    def next_event(self, timeout: float) -> dict | None:
        """The next event; None if the process ended. Raises queue.Empty after `timeout` seconds of silence."""
        return self.events.get(timeout=timeout)

    def crashed(self) -> signal.Signals | None:
        """The signal of a crash in native code that ended the process (not an outside kill), if one did."""
        code = self.process.poll()
        return signal.Signals(-code) if code is not None and -code in CRASHES else None

    def reason(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        return death_reason(code, "\n".join(self.stderr), self.module)

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


class LlamaCppChat(BaseChatModel):
    """Chat completions from a local GGUF file in a child process; the process starts on first use."""

    model_path: str
    # the cache folder, where the verdicts on llama.cpp's CPU modules are kept (assistant.engines.llama_modules);
    # not `cache`, which is LangChain's switch for caching answers
    module_cache: Path
    n_ctx: int = 4096
    n_threads: int | None = None
    max_tokens: int = 160
    temperature: float = 0.0
    # how long the model may stay silent: the first token (which includes loading the model) and each next one
    first_token_timeout: float = 120.0
    token_timeout: float = 60.0
    _process: Any = PrivateAttr(default=None)
    # reentrant: an abandoned answer's generator may be finalized by the garbage collector on a thread that
    # holds the lock already (its clean-up then sees that the next request has taken over, and does nothing)
    _lock: Any = PrivateAttr(default_factory=threading.RLock)
    _requests: int = PrivateAttr(default=0)
    _active: int | None = PrivateAttr(default=None)  # the request whose answer is not finished
    _variant: str | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "max_tokens": self.max_tokens}

    @property
    def pid(self) -> int | None:
        """The model process's id while it runs (tests end it on purpose)."""
        return self._process.pid if self._process is not None and self._process.alive() else None

    @property
    def variant(self) -> str | None:
        """The CPU module of llama.cpp the last model process loaded (zen4, haswell, …), after it ended too."""
        return self._variant

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.stop()
                self._process = None

    @property
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1

    def modules(self) -> CpuModules | None:
        """llama.cpp's CPU modules and their verdicts for this model; None for a build with its CPU code built in."""
        return installed_modules(self.module_cache, self.model_path, self.threads)

    def _module(self) -> str | None:
        """The CPU module the next process loads: the one ASSISTANT_LLAMA_VARIANT names, else the best that has
        worked here (a module not yet checked is checked first, in a child of its own)."""
        forced = os.environ.get("ASSISTANT_LLAMA_VARIANT")
        if forced:
            return forced
        modules = self.modules()
        return modules.choose() if modules is not None else None

    def _running(self) -> ModelProcess:
        """The model process, started if it is not running (again, after it died)."""
        if self._process is None or not self._process.alive():
            if self._process is not None:
                self._process.stop()
            self._process = ModelProcess(self.model_path, self.n_ctx, self.threads, self._module())
        return self._process

    def _discard(self, process: ModelProcess) -> None:
        """End the process and forget it: the next request starts another."""
        process.stop()
        if self._process is process:
            self._process = None
        self._active = None

    def _stopped(self, process: ModelProcess, why: str) -> EngineError:
        """The error of a process that died or went silent. A crash in the CPU module this engine chose marks that
        module bad: the next turn takes the next best instead of sending the user to rebuild."""
        self._discard(process)
        crash = process.crashed()
        if crash and process.module and not os.environ.get("ASSISTANT_LLAMA_VARIANT"):
            modules = self.modules()
            if modules is not None:
                modules.remember(process.module, Verdict(False, f"died by {crash.name} during a turn"))
                return EngineError(f"the local model stopped ({why}); llama.cpp's {process.module} module is set "
                                   "aside, and the next turn uses the next best")
        return EngineError(f"the local model stopped ({why}); {ADVICE}")

    def _event(self, process: ModelProcess, rid: int, timeout: float) -> dict:
        """The next event of request `rid` (its next piece, its end or its error). The process's death, its
        silence for `timeout` seconds or its failure to load the model is an EngineError, and the process is
        discarded."""
        while True:
            try:
                event = process.next_event(timeout)
            except queue.Empty:
                raise self._stopped(process, f"no output for {timeout:.0f} s, so it was stopped") from None
            if event is None:
                raise self._stopped(process, process.reason())
            if "fatal" in event:
                self._discard(process)
                raise EngineError(f"the local model could not start ({event['fatal']}); check it with "
                                  "`assistant model list`, or use --engine extractive")
            if event.get("ready"):
                self._variant = event.get("variant")
            elif event.get("id") == rid:
                return event
            # else: the end of an earlier, cancelled request

    @staticmethod
    def to_chat(messages: list[BaseMessage]) -> list[dict[str, str]]:
        return [{"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages]

    def _deltas(self, messages: list[BaseMessage], stop: list[str] | None) -> Iterator[str]:
        """The answer's pieces as the model process writes them; a death or a silence is an EngineError.

        The lock is not held while pieces are yielded: a consumer that stops reading (a cancelled turn) may let
        this generator live on in a traceback, so the next request first ends the unfinished one itself."""
        with self._lock:
            process = self._running()
            if self._active is not None:
                self._cancel(process, self._active)
                process = self._running()
            self._requests += 1
            rid = self._active = self._requests
            process.send({"id": rid, "messages": self.to_chat(messages), "max_tokens": self.max_tokens,
                          "temperature": self.temperature, "stop": stop or []})
        try:
            timeout = self.first_token_timeout
            while "delta" in (event := self._event(process, rid, timeout)):
                timeout = self.token_timeout
                yield event["delta"]
            self._active = None
            if "error" in event:
                raise EngineError(f"the local model failed: {event['error']}; {ADVICE}")
        finally:
            with self._lock:
                if self._active == rid:
                    self._cancel(process, rid)

    def _cancel(self, process: ModelProcess, rid: int) -> None:
        """Stop request `rid` and wait for its end, so the next request starts clean; a process that does not
        stop within seconds is ended (the next request starts another)."""
        self._active = None
        if not process.alive() or process is not self._process:
            return
        process.send({"cancel": rid})
        try:
            while "delta" in self._event(process, rid, 10.0):
                pass
        except EngineError:
            pass  # it died or would not stop, and is discarded: nothing is left to cancel

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager=None,
                  **kwargs: Any) -> ChatResult:
        text = "".join(self._deltas(messages, stop))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    def _stream(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager=None,
                **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        for delta in self._deltas(messages, stop):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta))
            if run_manager:
                run_manager.on_llm_new_token(delta, chunk=chunk)
            yield chunk


def self_check(model_path: str, long_text: str, cache: Path, recheck: bool = False) -> tuple[bool, list[str]]:
    """Run the installed llama.cpp on one short and one long prompt in a model process, as a turn would: whether
    it works on this CPU, and what it found (the CPU modules tried and why each was kept or skipped, the time
    each prompt took). `recheck` forgets the modules' verdicts first."""
    import time

    from assistant.engines.llama_build import installed_problems

    problems = installed_problems()
    lines = ["llama.cpp build: " + ("portable (a CPU module per x86-64 family)" if not problems else
                                    "NOT portable: " + "; ".join(problems) + " — run `make setup-local`")]
    chat = LlamaCppChat(model_path=model_path, max_tokens=8, module_cache=cache)
    modules = chat.modules()
    if modules is not None and recheck:
        modules.forget()
    ok = True
    try:
        # the long prompt is what crashed a native build in a VM (a batched matrix multiply on AMX)
        for label, prompt in (("short prompt", "Say hello."),
                              ("long prompt", f"{long_text}\n\nIn one word, what is this text about?")):
            started = time.perf_counter()
            try:
                reply = chat.invoke(prompt).content
            except EngineError as exc:
                lines.append(f"{label}: FAILED — {exc}")
                ok = False
                break
            lines.append(f"{label}: ok in {time.perf_counter() - started:.1f} s ({len(prompt.split())} words in, "
                         f"{str(reply).strip()[:40]!r} out)")
        used = chat.variant
    finally:
        chat.close()
    lines[1:1] = _module_lines(modules, used)
    lines.append("llama.cpp works on this CPU" if ok else "llama.cpp does NOT work on this CPU")
    return ok, lines


def _module_lines(modules: CpuModules | None, used: str | None) -> list[str]:
    """The CPU modules, best first, each with what became of it here."""
    forced = os.environ.get("ASSISTANT_LLAMA_VARIANT")
    if forced:
        return [f"CPU module loaded: {used or forced} (named by ASSISTANT_LLAMA_VARIANT, not checked)"]
    if modules is None:
        return [f"CPU module loaded: {used}"] if used else []
    try:
        found = modules.modules()
    except EngineError as exc:
        return [f"CPU modules: {exc}"]
    lines = [f"CPU module loaded: {used or 'none'}",
             f"CPU modules, best first by ggml's score on this CPU (checked with {modules.n_threads} threads):"]
    unchecked = [m.name for m in found if m.score > 0 and m.verdict is None]
    for module in found:
        if module.verdict is not None:
            state = ("used" if module.name == used else "works, kept in reserve") if module.verdict.ok else "skipped"
            lines.append(f"  {module.name:<15} {state}: {module.verdict.why}")
    if unchecked:
        lines.append(f"  not checked, as a better one works: {', '.join(unchecked)}")
    if cannot := [m.name for m in found if m.score <= 0]:
        lines.append(f"  cannot run on this CPU, by its features: {', '.join(cannot)}")
    return lines
