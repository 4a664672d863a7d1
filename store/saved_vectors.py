"""Token vectors of a document's sentences kept on disk, so that the next process reads back what this one encoded.

One file per sentence list (a document's sentences, encoded together), named by the sha256 of the list: the same
text gives the same file, whichever process or store it came from. Plain arrays (`numpy.load` without pickle:
nothing in a file is executed). The folder is derived data: a damaged file is encoded again, and the least recently
used files go once the folder holds more than `limit` bytes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

import numpy as np

from store.files import write_whole

LIMIT = 256 * 1024 * 1024
logger = logging.getLogger(__name__)


class SavedVectors:
    """Sentence lists' token vectors (float16 matrices, one per sentence) in a folder."""

    def __init__(self, folder: Path, dimension: int, limit: int = LIMIT):
        self.folder = folder
        self.dimension = dimension
        self.limit = limit

    def _file(self, texts: Sequence[str]) -> Path:
        digest = hashlib.sha256()
        for text in texts:
            digest.update(text.encode("utf-8", "surrogatepass"))
            digest.update(b"\0")
        return self.folder / f"{digest.hexdigest()[:32]}.npz"

    def read(self, texts: Sequence[str]) -> list[np.ndarray] | None:
        """The vectors saved for exactly these texts, one matrix each, or None."""
        path = self._file(texts)
        try:
            with np.load(path, allow_pickle=False) as saved:
                vectors, rows = saved["vectors"], saved["rows"]
            if (len(rows) != len(texts) or int(rows.sum()) != len(vectors) or vectors.dtype != np.float16
                    or vectors.ndim != 2 or vectors.shape[1] != self.dimension):
                raise ValueError("its arrays do not fit its texts")
            os.utime(path)  # recently used: pruned last
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError) as exc:
            logger.info("encoding again, not reading %s: %s", path, exc)
            return None
        return np.split(vectors, np.cumsum(rows)[:-1])

    def write(self, texts: Sequence[str], vectors: Sequence[np.ndarray]) -> None:
        """Save the vectors of these texts, written whole (best effort: a read-only or full disk only costs the
        encoding next time)."""
        path = self._file(texts)
        rows = np.array([len(v) for v in vectors], dtype=np.int32)
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, self.dimension), dtype=np.float16)
        content = io.BytesIO()
        np.savez(content, vectors=matrix.astype(np.float16), rows=rows)
        try:
            write_whole(path, content.getvalue())
            self._prune()
        except OSError as exc:
            logger.info("could not save sentence vectors at %s: %s", path, exc)

    def _prune(self) -> None:
        files = []
        for entry in os.scandir(self.folder):
            if entry.name.endswith(".npz") and ".tmp-" not in entry.name:
                with suppress(FileNotFoundError):  # another process pruned it meanwhile
                    stat = entry.stat()
                    files.append((stat.st_mtime, stat.st_size, entry.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.limit:
                break
            Path(path).unlink(missing_ok=True)
            total -= size
