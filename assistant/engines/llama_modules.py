"""Which CPU module of the portable llama.cpp serves the local model: the best one, by ggml's score, that has
done a turn's work on this machine.

ggml scores its CPU modules by what `cpuid` reports, and a VM can report what then does not run: an Intel guest
that shows AMX died with SIGILL in ggml's AMX matrix product on its first long prompt, after a test of the tile
instructions alone had passed. So before a module serves a turn it has, in a throwaway child, loaded the model,
read a prompt long enough for the batched path and a few tokens one at a time (the path each generated token
takes), with the thread count the model process uses, and predicted the text's next tokens as a language model
does. A module that dies, hangs or predicts garbage there is skipped for the next best.

The verdicts are kept in the cache, keyed by the CPU (its `cpuid` and the kernel), the build (its library
files), the model file and the thread count: later starts check nothing, and a change of any of them checks
anew. A module that still dies during a turn is marked bad there, and the next turn takes the next best.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.engines.base import EngineError

# the 0.5B model predicts 0.365 of the bundled article's next tokens with every module (x64 to zen4); a matrix
# product gone wrong predicts next to none (a token in 150,000 at random)
MIN_ACCURACY = 0.1
# the deaths that say a module's code does not run here (an outside kill or a timeout says nothing of it)
CRASHES = {signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE}

_WHY = {
    signal.SIGILL: "this build of llama.cpp does not run on this CPU",
    signal.SIGSEGV: "llama.cpp crashed",
    signal.SIGBUS: "llama.cpp crashed",
    signal.SIGABRT: "llama.cpp aborted",
    signal.SIGKILL: "it was killed, perhaps because memory ran out",
}


@dataclass(frozen=True)
class Verdict:
    """What a module did here: `ok` if it passed its check and never died in a turn; `why` says what it did."""

    ok: bool
    why: str


@dataclass(frozen=True)
class Module:
    """One CPU module of the build, with ggml's score on this CPU (0: it cannot run here) and its verdict."""

    name: str
    score: int
    verdict: Verdict | None


def worker(*args: str) -> list[str]:
    return [sys.executable, "-m", "assistant.engines.llama_worker", *args]


def build_files(lib: Path) -> list[tuple[str, int, int]]:
    return sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in lib.iterdir() if ".so" in p.name)


class CpuModules:
    """The CPU modules of the installed build, best first by ggml's score, and what each did here with this model
    and thread count; `choose()` checks them in that order until one works."""

    def __init__(self, lib: Path, cache: Path, model_path: str, n_threads: int, timeout: float | None = None):
        from store.cpu import identity

        model = Path(model_path)
        try:
            stat = model.stat()
        except OSError as exc:
            raise EngineError(f"the model file {model} cannot be read ({exc.strerror}); check --model or "
                              "ASSISTANT_LOCAL_MODEL") from None
        self.lib, self.model_path, self.n_threads = lib, model_path, n_threads
        # a check loads the model and reads a few hundred tokens: seconds for 0.5B, a minute for 7B on two cores
        self.timeout = timeout or 60.0 + 30.0 * stat.st_size / 1e9
        identity = {"cpu": identity(), "build": build_files(lib),
                    "model": [str(model.resolve()), stat.st_size, stat.st_mtime_ns], "threads": n_threads}
        self.identity = json.loads(json.dumps(identity))  # as it reads back from the file
        key = hashlib.sha256(json.dumps(self.identity, sort_keys=True).encode()).hexdigest()[:16]
        self.path = cache / "llama-modules" / f"{key}.json"

    def _read(self) -> dict:
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return saved if isinstance(saved, dict) and saved.get("identity") == self.identity else {}

    def _write(self, saved: dict) -> None:
        from store.files import write_whole

        saved["identity"] = self.identity
        try:
            write_whole(self.path, json.dumps(saved, indent=1).encode("utf-8"))
        except OSError:
            pass  # a read-only cache: the verdicts are found again next time

    def scores(self) -> dict[str, int]:
        """ggml's score of each module on this CPU, asked in a child (loading a module runs its code)."""
        saved = self._read()
        if "scores" not in saved:
            done = subprocess.run(worker("--scores"), capture_output=True, text=True, timeout=60)
            if done.returncode != 0:
                why = death_reason(done.returncode, done.stderr)
                raise EngineError(f"llama.cpp's CPU modules could not be listed ({why}); run `make setup-local` again, "
                                  "or use --engine extractive")
            saved["scores"] = _last_json(done.stdout)
            self._write(saved)
        return saved["scores"]

    def modules(self) -> list[Module]:
        """Every module, best first, with what it did here."""
        verdicts = {name: Verdict(**v) for name, v in self._read().get("verdicts", {}).items()}
        ranked = sorted(self.scores().items(), key=lambda item: -item[1])
        return [Module(name, score, verdicts.get(name)) for name, score in ranked]

    def remember(self, name: str, verdict: Verdict) -> None:
        saved = self._read()
        saved.setdefault("verdicts", {})[name] = asdict(verdict)
        self._write(saved)

    def forget(self) -> None:
        """Drop the verdicts: every module is checked again when next chosen."""
        self.path.unlink(missing_ok=True)

    def choose(self) -> str:
        """The best module that works here, checking in order those not yet checked; an EngineError if none does."""
        for module in self.modules():
            if module.score <= 0 or (module.verdict and not module.verdict.ok):
                continue
            if module.verdict is None:
                verdict = self.check(module.name)
                self.remember(module.name, verdict)
                if not verdict.ok:
                    continue
            return module.name
        tried = "; ".join(f"{m.name}: {m.verdict.why}" for m in self.modules() if m.verdict)
        raise EngineError(f"no CPU module of llama.cpp works on this CPU ({tried or 'none can run here'}); "
                          "use --engine extractive")

    def check(self, name: str) -> Verdict:
        """Run module `name` through a turn's work in a child; its verdict. A model that cannot load is no
        verdict on the module: an EngineError."""
        from store.documents import bundled_document

        started = time.perf_counter()
        command = worker(self.model_path, "--check", "--variant", name, "--threads", str(self.n_threads))
        try:
            done = subprocess.run(command, input=bundled_document().text, capture_output=True, text=True,
                                  timeout=self.timeout, start_new_session=True)
        except subprocess.TimeoutExpired:
            return Verdict(False, f"hung: its check did not finish in {self.timeout:.0f} s")
        if done.returncode < 0 and -done.returncode in CRASHES:
            return Verdict(False, f"died by {signal.Signals(-done.returncode).name} in its check")
        result = _last_json(done.stdout)
        if "module_error" in result:
            return Verdict(False, f"could not be loaded ({result['module_error']})")
        if "fatal" in result:
            raise EngineError(f"the local model could not start ({result['fatal']}); check it with "
                              "`assistant model list`, or use --engine extractive")
        if done.returncode != 0 or "accuracy" not in result:
            return Verdict(False, f"failed its check ({death_reason(done.returncode, done.stderr)})")
        if not result["finite"] or result["accuracy"] < MIN_ACCURACY:
            return Verdict(False, f"predicted garbage in its check (next-token accuracy {result['accuracy']:.2f}, "
                                  f"{'with' if not result['finite'] else 'no'} NaN or infinite logits)")
        return Verdict(True, f"passed its check in {time.perf_counter() - started:.1f} s "
                             f"(next-token accuracy {result['accuracy']:.2f} on {result['tokens']} tokens)")


def death_reason(returncode: int, stderr_tail: str = "", module: str | None = None) -> str:
    """Why the model process ended, in words: its signal and what that usually means (of CPU module `module`, if
    one was loaded), or its exit code."""
    if returncode < 0:
        try:
            sig = signal.Signals(-returncode)
        except ValueError:
            return f"signal {-returncode}"
        why = _WHY.get(sig)
        if why and module and sig == signal.SIGILL:
            why = f"llama.cpp's {module} module does not run on this CPU"
        return f"signal {sig.name}: {why}" if why else f"signal {sig.name}"
    last = stderr_tail.strip().splitlines()[-1:] or [""]
    return f"exit code {returncode}" + (f": {last[0][:200]}" if last[0] else "")


def _last_json(output: str) -> dict:
    for line in reversed(output.strip().splitlines()):
        try:
            found = json.loads(line)
        except ValueError:
            continue
        if isinstance(found, dict):
            return found
    return {}


def installed_modules(cache: Path, model_path: str, n_threads: int) -> CpuModules | None:
    """The CPU modules of the installed portable build, for this model and thread count; None for a build with its
    CPU code built in (or none installed)."""
    from assistant.engines.llama_build import cpu_variants, library_dir

    lib = library_dir()
    if lib is None or not lib.is_dir() or not cpu_variants([p.name for p in lib.iterdir()]):
        return None
    return CpuModules(lib, cache, model_path, n_threads)
