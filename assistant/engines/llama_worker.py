"""The local model's own process: llama.cpp loaded here, so that its crash, an out-of-memory kill or a hang costs
the turn it happened in and never the conversation or the UI.

Run as `python -m assistant.engines.llama_worker MODEL.gguf`. It reads requests from stdin and writes events to
its stdout, one JSON object a line; whatever llama.cpp itself prints goes to stderr, which the parent keeps the
end of for its error message:

    → {"id": 1, "messages": [...], "max_tokens": 160, "temperature": 0, "stop": []}
    ← {"ready": true, "variant": "zen4", "load_s": 0.4}        once, after the model loaded
    ← {"fatal": "ValueError: Failed to load model from file…"}   instead, when it cannot load; then it exits
    ← {"id": 1, "delta": "At least"} … {"id": 1, "done": true}   or {"id": 1, "error": "…"}
    → {"cancel": 1}                                              between two tokens: the answer stops there

One `Llama` lives as long as the process, so llama.cpp's cache of the last prompt's keys and values (the shared
prefix of the next prompt is not computed again) survives from turn to turn.

Which CPU module of the portable build to load is chosen here rather than by ggml: ggml scores the modules by
what `cpuid` reports, and a VM can report AMX that then faults (SIGILL in ggml_backend_amx_mul_mat). The AMX
module is used only after a forked child has asked the kernel for the tile state and run tile instructions
(an int8 tile product among them).
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import time
from pathlib import Path

from assistant.engines.llama_build import cpu_variants, library_dir

AMX_VARIANTS = {"sapphirerapids"}
ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA, SYS_ARCH_PRCTL = 0x1023, 18, 158
# ldtilecfg [rdi]; tilezero tmm0, tmm1, tmm2; tdpbssd tmm0, tmm1, tmm2 (the int8 product ggml's AMX code uses);
# tilerelease; ret
_TILE_CODE = bytes.fromhex("c4e2784907" "c4e27b49c0" "c4e27b49c8" "c4e27b49d0" "c4e26b5ec1" "c4e27849c0" "c3")


def amx_usable() -> bool:
    """Whether AMX tiles really work here: the kernel grants the tile state and a child runs tile instructions
    without a fault (a forked child, so a SIGILL ends it and not this process)."""
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if every step worked
        try:
            import faulthandler

            from store.cpu import MachineCode

            faulthandler.disable()  # a fault here is an answer, not a crash to report
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0:
                os._exit(3)
            config = (ctypes.c_uint8 * 64)()
            config[0] = 1  # palette 1
            for tile in range(3):  # tmm0..tmm2: 16 rows of 64 bytes (a 16x64 by 16x64 int8 product fits)
                config[16 + 2 * tile] = 64
                config[48 + tile] = 16
            MachineCode(_TILE_CODE, None, ctypes.c_void_p)(ctypes.addressof(config))
            os._exit(0)
        except BaseException:
            os._exit(4)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def choose_variant(lib: Path, allow_amx: bool | None = None) -> tuple[str, Path] | None:
    """The best CPU module this CPU runs, by ggml's own score of each (0: cannot run here); AMX only if usable."""
    best: tuple[int, str, Path] | None = None
    for name in cpu_variants([p.name for p in lib.iterdir()]):
        path = next(lib.glob(f"libggml-cpu-{name}.so*"))
        module = ctypes.CDLL(str(path))
        score = ctypes.CFUNCTYPE(ctypes.c_int)(("ggml_backend_score", module))()
        if score and name in AMX_VARIANTS:
            if allow_amx is None:
                allow_amx = amx_usable()
            if not allow_amx:
                score = 0
        if score and (best is None or score > best[0]):
            best = (score, name, path)
    return (best[1], best[2]) if best else None


def load_backend(lib: Path) -> str:
    """Register the chosen CPU module with ggml (a portable build has none built in); its name, or 'built-in'."""
    if not cpu_variants([p.name for p in lib.iterdir()]):
        return "built-in"  # a build with its CPU code linked in: nothing to choose
    # libggml.so first: it brings libggml-base.so (through its own run path), which the CPU modules need and
    # would not find by themselves
    ggml = ctypes.CDLL(str(lib / "libggml.so"))
    forced = os.environ.get("ASSISTANT_LLAMA_VARIANT")
    if forced:
        chosen = (forced, next(lib.glob(f"libggml-cpu-{forced}.so*")))
    else:
        chosen = choose_variant(lib)
    if chosen is None:
        raise RuntimeError("no CPU module of this llama.cpp build runs on this CPU (it needs at least x86-64)")
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(chosen[1]).encode()):
        raise RuntimeError(f"llama.cpp could not load its CPU module {chosen[1].name}")
    return chosen[0]


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


def serve(model_path: str, n_ctx: int, n_threads: int) -> None:
    channel = Channel()
    started = time.perf_counter()
    try:
        lib = library_dir()
        variant = load_backend(lib) if lib is not None else "built-in"
        from llama_cpp import Llama

        llama = Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    except Exception as exc:  # no llama.cpp, no CPU module, not a model: said once, then this process ends
        channel.send(fatal=f"{type(exc).__name__}: {exc}")
        raise SystemExit(2) from None
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
    parser.add_argument("model")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the parent's to handle
    serve(args.model, args.n_ctx, args.threads)


if __name__ == "__main__":
    main()
