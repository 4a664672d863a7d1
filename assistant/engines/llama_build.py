"""A llama.cpp that runs on any x86-64 CPU with AVX2: how it is built, how a build is recognised, and the set-up.

llama-cpp-python is a source package: pip compiles llama.cpp, by default for the CPU it is built on
(GGML_NATIVE), which can die with SIGILL on another CPU — or on the same CPU in a VM that hides a feature (AMX).
The portable build is the one llama.cpp's own releases ship: ggml's CPU backend compiled once per CPU family
(GGML_CPU_ALL_VARIANTS, from plain x86-64 up to Sapphire Rapids), each a module loaded at run time
(GGML_BACKEND_DL); the engine loads the best one this CPU can run (assistant.engines.llama_worker).

pip keeps the wheel it built in its cache and reuses it for the same version whatever CMAKE_ARGS say, so a
wheel built natively once would come back. `python -m assistant.engines.llama_build` (what `make setup-local`
runs) therefore builds with pip's cache off into a folder of our own, checks what the wheel holds before it
installs it, and checks the installed library again.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

REQUIREMENT = "llama-cpp-python==0.3.36"
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF",  # never -march=native: the build machine is not the user's
    "-DGGML_BACKEND_DL=ON",  # backends are modules chosen at run time
    "-DGGML_CPU_ALL_VARIANTS=ON",  # one CPU module per x86-64 family
    "-DGGML_BACKEND_DIR:STRING=llama_cpp/lib",  # beside libllama.so in the wheel (STRING: a PATH is made absolute)
    "-DLLAVA_BUILD=OFF",  # the multimodal library is not used
)
# the CPU modules a portable build must hold (a subset of GGML_CPU_ALL_VARIANTS on x86-64): the baseline,
# AVX2, AVX-512 and the AMX one
REQUIRED_VARIANTS = ("x64", "haswell", "skylakex", "icelake", "zen4", "sapphirerapids")


def library_dir() -> Path | None:
    """llama_cpp/lib of the installed llama-cpp-python, without importing it (importing loads the library)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def cpu_variants(names: list[str]) -> list[str]:
    """The CPU module variants among file names: libggml-cpu-haswell.so → haswell."""
    found = []
    for name in names:
        base = name.rsplit("/", 1)[-1]
        if base.startswith("libggml-cpu-") and ".so" in base:
            found.append(base[len("libggml-cpu-"):].split(".so")[0])
    return sorted(found)


def problems(names: list[str]) -> list[str]:
    """Why a build with these library files is not the portable one (nothing when it is)."""
    base = [n.rsplit("/", 1)[-1] for n in names]
    out = []
    if any(b.startswith("libggml-cpu.so") for b in base):
        out.append("its CPU code is built into libggml-cpu.so for one CPU (a native build)")
    missing = [v for v in REQUIRED_VARIANTS if v not in cpu_variants(names)]
    if missing:
        out.append(f"it lacks the CPU modules {', '.join(missing)}")
    if not any(b.startswith("libllama.so") for b in base):
        out.append("it has no libllama.so")
    return out


def installed_problems() -> list[str]:
    lib = library_dir()
    if lib is None:
        return ["llama-cpp-python is not installed"]
    if not lib.is_dir():
        return [f"{lib} is missing"]
    return problems([p.name for p in lib.iterdir()])


def wheel_problems(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return problems([n for n in archive.namelist() if n.startswith("llama_cpp/lib/")])


def wheel_folder() -> Path:
    """Where the portable wheel is kept between set-ups: per version and build flags, in the user cache."""
    from platformdirs import user_cache_dir

    key = hashlib.sha256(" ".join((REQUIREMENT, *CMAKE_ARGS)).encode()).hexdigest()[:12]
    root = Path(os.environ.get("ASSISTANT_WHEELS") or Path(user_cache_dir("evidence-assistant")) / "wheels")
    return root / f"llama-cpp-python-portable-{key}"


def _pip(*args: str, env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "pip", *args]
    done = subprocess.run(command, env=env)
    if done.returncode != 0:
        raise SystemExit(f"llama_build: `{' '.join(command)}` failed (exit {done.returncode})")


def build_wheel(folder: Path) -> Path:
    """Compile the portable wheel into `folder` (pip's cache off, so no earlier build comes back)."""
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / "building"
    env = dict(os.environ, CMAKE_ARGS=" ".join(CMAKE_ARGS), FORCE_CMAKE="1")
    print(f"llama_build: compiling {REQUIREMENT} for every x86-64 CPU family (8-10 minutes on 2 cores)", flush=True)
    _pip("wheel", "--no-deps", "--no-cache-dir", "--no-binary", "llama-cpp-python", "--wheel-dir", str(staging),
         REQUIREMENT, env=env)
    [wheel] = staging.glob("llama_cpp_python-*.whl")
    target = folder / wheel.name
    wheel.replace(target)
    staging.rmdir()
    return target


def ensure_portable() -> None:
    """Install the portable llama-cpp-python unless it is installed already; refuse anything else."""
    if not installed_problems():
        print("llama_build: the installed llama.cpp is the portable build")
        return
    folder = wheel_folder()
    wheels = sorted(folder.glob("llama_cpp_python-*.whl"))
    wheel = wheels[-1] if wheels and not wheel_problems(wheels[-1]) else None
    if wheel is None:
        for stale in wheels:
            stale.unlink()
        wheel = build_wheel(folder)
        found = wheel_problems(wheel)
        if found:
            wheel.unlink()
            raise SystemExit(f"llama_build: the wheel just built is not portable: {'; '.join(found)}")
    _pip("install", "--no-deps", "--force-reinstall", "--no-cache-dir", str(wheel))
    _pip("install", "--no-cache-dir", str(wheel))  # its dependencies (itself is now installed, from this wheel)
    found = installed_problems()
    if found:
        raise SystemExit(f"llama_build: the installed llama.cpp is not portable: {'; '.join(found)}")
    print(f"llama_build: installed {wheel.name} (CPU modules: {', '.join(cpu_variants([p.name for p in library_dir().iterdir()]))})")


if __name__ == "__main__":
    ensure_portable()
