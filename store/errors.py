"""How the store fails: the errors callers catch, and one sentence for each cause with the way out."""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from store.config import StoreSettings


class StoreError(Exception):
    """The index cannot be used as it is; the message says what to do."""


class StoreMismatch(StoreError):
    """The index was built with another embedding model or chunking."""


def cause(exc: BaseException, settings: StoreSettings) -> str:
    """Why the store failed: "server", "full", "read-only" or "damaged" (anything else about the folder)."""
    if settings.chroma_url:
        return "server"
    text, code = str(exc).lower(), getattr(exc, "errno", None)
    if code == errno.ENOSPC or "disk is full" in text or _nearly_full(settings.store):
        return "full"
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text or "read-only" in text:
        return "read-only"
    return "damaged"


def explain(exc: BaseException, settings: StoreSettings, action: str) -> str:
    """One sentence for a failed `action` ("open", "read", "write to") on the store: what went wrong and the way out."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    folder = settings.store
    match cause(exc, settings):
        case "server":
            return (f"cannot {action} the index on the Chroma server at {settings.chroma_url} ({text}); check that "
                    "the server is running (chroma run --path DIR --port PORT) and that --chroma-url points at it")
        case "full":
            return (f"the disk holding the index at {folder} is full ({text}); free some space and run the command "
                    "again: documents left unfinished are finished by the next `assistant index`")
        case "read-only":
            return (f"the index folder {folder} cannot be written ({text}); make it writable, or give another "
                    "folder with --store or ASSISTANT_STORE")
    return (f"cannot {action} the index at {folder} ({text}); if it is damaged, `assistant index --rebuild` moves "
            "it aside and starts a new one")


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder if folder.exists() else folder.parent).free < 1 << 20
    except OSError:
        return False


class StoreBusy(StoreError):
    """Another process is writing to the embedded store."""


def is_store_failure(exc: BaseException) -> bool:
    """An error of the store or of the way to it (a server down, a file unreadable), not a bug of ours."""
    return isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in ("chromadb", "httpx", "httpcore", "sqlite3")


@contextmanager
def store_errors(settings: StoreSettings, action: str) -> Iterator[None]:
    """Turn the store's own failures into StoreError with the way out; our bugs keep their traceback."""
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        raise StoreError(explain(exc, settings, action)) from exc
