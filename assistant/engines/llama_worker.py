"""The local model's own process: llama.cpp loaded here, so that its crash, an out-of-memory kill or a hang costs
the turn it happened in and never the conversation or the UI.

Run as `python -m assistant.engines.llama_worker MODEL.gguf --variant NAME`. It reads requests from stdin and
writes events to its stdout, one JSON object a line; whatever llama.cpp itself prints goes to stderr, which the
parent keeps the end of for its error message:

    → {"id": 1, "messages": [...], "max_tokens": 160, "temperature": 0, "stop": []}
    ← {"ready": true, "variant": "zen4", "load_s": 0.4}        once, after the model loaded
    ← {"fatal": "ValueError: Failed to load model from file…"}   instead, when it cannot load; then it exits
                                                                 (with "module_error" too if the CPU module failed)
    ← {"id": 1, "delta": "At least"} … {"id": 1, "done": true}   or {"id": 1, "error": "…"}
    → {"cancel": 1}                                              between two tokens: the answer stops there

One `Llama` lives as long as the process, so llama.cpp's cache of the last prompt's keys and values (the shared
prefix of the next prompt is not computed again) survives from turn to turn.

Which CPU module of the portable build to load is the parent's choice (`--variant`; see
`assistant.engines.llama_modules`), made by what ran here rather than by what `cpuid` reports. The same program
answers the parent's two questions about the modules, each in a child of its own:

    llama_worker --scores                          ggml's score of every module on this CPU, as one JSON line
    llama_worker MODEL --check --variant NAME      a turn's work with that module, the text read from stdin:
    ← {"accuracy": 0.365, "finite": true, "tokens": 256}        (or "fatal" as above, or a death)
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
import time
from pathlib import Path

from assistant.engines.llama_build import cpu_variants, library_dir

CHECK_TOKENS = 256  # read in one batch, ggml's batched matrix product (where AMX died), the last few one at a time
CHECK_ONE_BY_ONE = 8


def module_path(lib: Path, name: str) -> Path:
    found = sorted(lib.glob(f"libggml-cpu-{name}.so*"))
    if not found:
        present = ", ".join(cpu_variants([p.name for p in lib.iterdir()]))
        raise RuntimeError(f"this llama.cpp build has no CPU module {name!r} (it has {present})")
    return found[0]


def scores(lib: Path) -> dict[str, int]:
    """ggml's own score of each CPU module on this CPU (0: it cannot run here), from what `cpuid` reports."""
    ctypes.CDLL(str(lib / "libggml.so"))  # brings libggml-base.so, which the modules need and would not find
    found = {}
    for name in cpu_variants([p.name for p in lib.iterdir()]):
        module = ctypes.CDLL(str(module_path(lib, name)))
        found[name] = ctypes.CFUNCTYPE(ctypes.c_int)(("ggml_backend_score", module))()
    return found


def load_backend(lib: Path, variant: str | None) -> str:
    """Register CPU module `variant` with ggml (a portable build has none built in); its name, or 'built-in'."""
    if not cpu_variants([p.name for p in lib.iterdir()]):
        return "built-in"  # a build with its CPU code linked in: nothing to choose
    if not variant:
        raise RuntimeError("no CPU module was chosen for this portable build (--variant)")
    # libggml.so first: it brings libggml-base.so (through its own run path), which the CPU modules need and
    # would not find by themselves
    ggml = ctypes.CDLL(str(lib / "libggml.so"))
    path = module_path(lib, variant)
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(path).encode()):
        raise RuntimeError(f"llama.cpp could not load its CPU module {path.name}")
    return variant


class Channel:
    """Events to the parent on a private copy of stdout; the real stdout then points at stderr, so nothing
    llama.cpp prints can end up inside the protocol."""

    def __init__(self):
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)

    def send(self, **event) -> None:
        self._out.write(json.dumps(event, ensure_ascii=False) + "\n")
        self._out.flush()


class Requests:
    """Lines from the parent, read from fd 0 without Python's buffering, so that `waiting()` sees every line
    already sent (a buffered reader can hold a cancel that select() then no longer reports)."""

    def __init__(self):
        self._buffer = b""
        self.closed = False

    def _fill(self, timeout: float | None) -> None:
        if select.select([0], [], [], timeout)[0]:
            chunk = os.read(0, 65536)
            self._buffer += chunk
            self.closed = self.closed or not chunk

    def next(self, timeout: float | None = None) -> dict | None:
        """The next message; None when none came within `timeout` (None: wait) or the parent is gone."""
        while b"\n" not in self._buffer and not self.closed:
            before = len(self._buffer)
            self._fill(timeout)
            if timeout is not None and len(self._buffer) == before:
                return None
        if b"\n" not in self._buffer:
            return None
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)


def _cancelled(requests: Requests, request_id: int, pending: list[dict]) -> bool:
    """Whether the parent asked to stop `request_id` (read without waiting; other requests are kept)."""
    while (message := requests.next(timeout=0)) is not None:
        if message.get("cancel") == request_id:
            return True
        pending.append(message)
    return requests.closed


def _crash_after() -> tuple[int, int] | None:
    """Fault injection for the tests of the crash path: ASSISTANT_LLAMA_CRASH="SIGSEGV:3" makes this process
    raise that signal at its third token."""
    spec = os.environ.get("ASSISTANT_LLAMA_CRASH")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return int(signal.Signals[name]), int(count or 1)


def _check_fault(variant: str) -> str | None:
    """Fault injection for the tests of the module choice: ASSISTANT_LLAMA_CHECK_FAULT="zen4:SIGILL" makes the
    check of module zen4 die by that signal; "zen4:hang" makes it hang, "zen4:garbage" scrambles its predictions."""
    name, _, fault = os.environ.get("ASSISTANT_LLAMA_CHECK_FAULT", "").partition(":")
    return fault if name == variant else None


def _open(model_path: str, variant: str | None, channel: Channel, **options):
    """The model, with CPU module `variant` loaded first, and that module's name. A module that cannot be loaded
    is said as {"module_error": …}, anything else (no llama.cpp, not a model) as {"fatal": …}, once; then this
    process ends."""
    try:
        lib = library_dir()
        loaded = load_backend(lib, variant) if lib is not None else "built-in"
    except Exception as exc:
        channel.send(module_error=f"{type(exc).__name__}: {exc}", fatal=f"{type(exc).__name__}: {exc}")
        raise SystemExit(2) from None
    try:
        from llama_cpp import Llama

        return Llama(model_path=model_path, verbose=False, **options), loaded
    except Exception as exc:
        channel.send(fatal=f"{type(exc).__name__}: {exc}")
        raise SystemExit(2) from None


def check(model_path: str, variant: str, n_threads: int, text: str) -> None:
    """A turn's work with CPU module `variant`: read the start of `text` in one batch and its last tokens one at a
    time, and say how many next tokens the model predicted right (a broken matrix product predicts next to
    none); a module that does not run here dies or hangs on the way instead."""
    import numpy as np

    channel = Channel()
    llama, _ = _open(model_path, variant, channel, n_ctx=CHECK_TOKENS + 16, n_batch=CHECK_TOKENS,
                     n_threads=n_threads, logits_all=True)
    tokens = llama.tokenize(text.encode("utf-8"))[:CHECK_TOKENS]
    fault = _check_fault(variant)
    if fault == "hang":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif fault and fault != "garbage":
        signal.raise_signal(signal.Signals[fault])
    llama.eval(tokens[:-CHECK_ONE_BY_ONE])
    for token in tokens[-CHECK_ONE_BY_ONE:]:
        llama.eval([token])
    logits = llama.scores[: len(tokens)]
    if fault == "garbage":
        logits = -logits  # every prediction the least likely token
    right = logits[:-1].argmax(axis=1) == np.array(tokens[1:])
    channel.send(accuracy=round(float(right.mean()), 3), finite=bool(np.isfinite(logits).all()), tokens=len(tokens))


def serve(model_path: str, n_ctx: int, n_threads: int, variant: str | None) -> None:
    channel = Channel()
    started = time.perf_counter()
    llama, variant = _open(model_path, variant, channel, n_ctx=n_ctx, n_threads=n_threads)
    channel.send(ready=True, variant=variant, load_s=round(time.perf_counter() - started, 3))
    crash = _crash_after()
    tokens = 0
    requests, pending = Requests(), []
    while True:
        request = pending.pop(0) if pending else requests.next()
        if request is None:
            return  # the parent closed the pipe: its engine was closed or it exited
        if "messages" not in request:
            continue  # a cancel for a request already finished
        rid = request["id"]
        try:
            stream = llama.create_chat_completion(messages=request["messages"], stream=True,
                                                  temperature=request.get("temperature", 0.0),
                                                  max_tokens=request.get("max_tokens", 160), stop=request.get("stop") or [])
            for part in stream:
                delta = part["choices"][0].get("delta", {}).get("content")
                if delta:
                    tokens += 1
                    if crash and tokens >= crash[1]:
                        signal.raise_signal(crash[0])
                    channel.send(id=rid, delta=delta)
                if _cancelled(requests, rid, pending):
                    stream.close()
                    break
            channel.send(id=rid, done=True)
        except Exception as exc:  # a bad request or a llama.cpp error: this turn fails, the process goes on
            channel.send(id=rid, error=f"{type(exc).__name__}: {exc}")


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(prog="llama_worker")
    parser.add_argument("model", nargs="?")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--variant", help="the CPU module to load (libggml-cpu-VARIANT.so)")
    parser.add_argument("--check", action="store_true", help="check the module on the text on stdin, then exit")
    parser.add_argument("--scores", action="store_true", help="print ggml's score of every CPU module, then exit")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the parent's to handle
    if args.scores:
        print(json.dumps(scores(library_dir())))
    elif args.check:
        check(args.model, args.variant, args.threads, sys.stdin.read())
    else:
        serve(args.model, args.n_ctx, args.threads, args.variant)


if __name__ == "__main__":
    main()
