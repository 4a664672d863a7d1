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
import sys
import threading
from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from assistant.engines.base import EngineError

_ROLES = {"system": "system", "human": "user", "ai": "assistant"}
_WHY = {
    signal.SIGILL: "this build of llama.cpp does not run on this CPU",
    signal.SIGSEGV: "llama.cpp crashed",
    signal.SIGBUS: "llama.cpp crashed",
    signal.SIGABRT: "llama.cpp aborted",
    signal.SIGKILL: "it was killed, perhaps because memory ran out",
}
ADVICE = "run `make setup-local` again, or use --engine extractive"


def death_reason(returncode: int, stderr_tail: str = "") -> str:
    """Why the model process ended, in words: its signal and what that usually means, or its exit code."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"signal {-returncode}"
        why = _WHY.get(sig)
        return f"signal {sig.name}: {why}" if why else f"signal {sig.name}"
    last = stderr_tail.strip().splitlines()[-1:] or [""]
    return f"exit code {returncode}" + (f": {last[0][:200]}" if last[0] else "")


class ModelProcess:
    """One running llama_worker: requests in, events out through a reader thread; stderr's end kept."""

    def __init__(self, model_path: str, n_ctx: int, n_threads: int):
        command = [sys.executable, "-m", "assistant.engines.llama_worker", model_path, "--n-ctx", str(n_ctx),
                   "--threads", str(n_threads)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)  # Ctrl+C in the terminal is not for it
        self.events: queue.Queue[dict | None] = queue.Queue()
        self.stderr: collections.deque[str] = collections.deque(maxlen=20)
        self.ready: dict | None = None
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

    def reason(self) -> str:
        try:
            code = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it stopped answering"
        return death_reason(code, "\n".join(self.stderr))

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()


class LlamaCppChat(BaseChatModel):
    """Chat completions from a local GGUF file in a child process; the process starts on first use."""

    model_path: str
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
        """The CPU module of llama.cpp the running process loaded (zen4, haswell, …)."""
        return (self._process.ready or {}).get("variant") if self._process is not None else None

    def close(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.stop()
                self._process = None

    def _running(self) -> ModelProcess:
        """The model process, started if it is not running (again, after it died)."""
        if self._process is None or not self._process.alive():
            if self._process is not None:
                self._process.stop()
            self._process = ModelProcess(self.model_path, self.n_ctx, self.n_threads or os.cpu_count() or 1)
        return self._process

    def _discard(self, process: ModelProcess) -> None:
        """End the process and forget it: the next request starts another."""
        process.stop()
        if self._process is process:
            self._process = None
        self._active = None

    def _stopped(self, process: ModelProcess, why: str) -> EngineError:
        self._discard(process)
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
                process.ready = event
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


def self_check(model_path: str, long_text: str) -> tuple[bool, list[str]]:
    """Run the installed llama.cpp on one short and one long prompt in a model process, as a turn would: whether
    it works on this CPU, and what it found (the CPU module loaded, the time each prompt took)."""
    import time

    from assistant.engines.llama_build import installed_problems

    lines = []
    problems = installed_problems()
    lines.append("llama.cpp build: " + ("portable (a CPU module per x86-64 family)" if not problems else
                                        "NOT portable: " + "; ".join(problems) + " — run `make setup-local`"))
    chat = LlamaCppChat(model_path=model_path, max_tokens=8)
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
        if chat.variant:
            lines.insert(1, f"CPU module loaded: {chat.variant}")
    finally:
        chat.close()
    lines.append("llama.cpp works on this CPU" if ok else "llama.cpp does NOT work on this CPU")
    return ok, lines
