"""This process's Chroma clients, one per store, and the embedded store's writer lock.

An open embedded Chroma keeps serving its old vector index to queries after another process writes (counts and
gets are fresh), so every writer leaves a new generation token in the store's folder on release, and a reader
whose client is older reopens it (`make_client`). A Chroma server orders concurrent writers itself.
"""

from __future__ import annotations

import fcntl
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path

from store.config import StoreSettings
from store.errors import StoreBusy
from store.files import write_whole

LOCK_FILE, GENERATION_FILE = "assistant-write.lock", "assistant-generation"

_CLIENTS: dict[str, tuple[object, str]] = {}  # embedded store folder -> (client, the store's write generation then)
_CLIENTS_LOCK = threading.RLock()
_HELD: dict[str, tuple[int, int]] = {}  # store folder -> (lock file descriptor, depth) while this process writes


def make_client(settings: StoreSettings):
    """The Chroma client of this process for the configured location: a server if a URL is set, else embedded
    (reopened if another process has written since it was opened)."""
    if settings.chroma_url:
        return _server_client(settings.chroma_url)
    settings.store.mkdir(parents=True, exist_ok=True)
    return _embedded_client(settings.store.resolve())


def forget_client(folder: Path) -> None:
    """Close and forget this process's client of an embedded store (before its folder is moved away)."""
    with _CLIENTS_LOCK:
        entry = _CLIENTS.pop(str(folder.resolve()), None)
    if entry is not None:
        with suppress(Exception):
            entry[0].close()


def _generation(folder: Path) -> str:
    """The token the last writer of an embedded store left (empty before the first write)."""
    try:
        return (folder / GENERATION_FILE).read_text(encoding="ascii")
    except (FileNotFoundError, UnicodeDecodeError):
        return ""


def _chroma_settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


@cache
def _server_client(url: str):
    from urllib.parse import urlparse

    import chromadb

    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 8000)
    return chromadb.HttpClient(host=parsed.hostname, port=port, ssl=parsed.scheme == "https", settings=_chroma_settings())


def _embedded_client(folder: Path):
    import chromadb

    key = str(folder)
    with _CLIENTS_LOCK:
        generation = _generation(folder)
        entry = _CLIENTS.get(key)
        if entry is not None and entry[1] == generation:
            return entry[0]
        if entry is not None:
            with suppress(Exception):
                entry[0].close()
        try:
            client = chromadb.PersistentClient(path=key, settings=_chroma_settings())
        except Exception:
            forget_failed_open(key)
            raise
        _CLIENTS[key] = (client, generation)
        return client


def forget_failed_open(key: str) -> None:
    """Chroma keeps the half-started system of a store it failed to open and hands it to the next client of that
    folder, which then fails for good; drop it so that a repaired or new store at that path can open.

    The one use of chromadb's private state (no public call releases a system that has no client):
    `test_index.py::test_chromadb_still_keeps_the_private_state_a_failed_open_is_dropped_from` fails on the
    upgrade that changes it.
    """
    from chromadb.api.shared_system_client import SharedSystemClient

    with SharedSystemClient._refcount_lock:
        SharedSystemClient._identifier_to_system.pop(key, None)
        SharedSystemClient._identifier_to_refcount.pop(key, None)


@contextmanager
def writing(settings: StoreSettings) -> Iterator[None]:
    """Hold the embedded store's write lock: one writing process at a time (a second is refused with StoreBusy,
    never left waiting or mixing its writes in); on release, readers in other processes are told to reopen.
    Re-entrant within a process; a no-op for a Chroma server."""
    if settings.chroma_url:
        yield
        return
    folder = settings.store.resolve()
    _acquire(folder)
    try:
        yield
    finally:
        _release(folder)


def _acquire(folder: Path) -> None:
    key = str(folder)
    with _CLIENTS_LOCK:
        if key in _HELD:
            fd, depth = _HELD[key]
            _HELD[key] = (fd, depth + 1)
            return
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreBusy(
                f"another assistant process is writing to the index at {folder}; wait for it to finish, or, "
                "for several processes at once, run a Chroma server (chroma run --path DIR) and give every "
                "process --chroma-url http://HOST:PORT"
            ) from None
        _HELD[key] = (fd, 1)


def _release(folder: Path) -> None:
    key = str(folder)
    with _CLIENTS_LOCK:
        fd, depth = _HELD[key]
        if depth > 1:
            _HELD[key] = (fd, depth - 1)
            return
        del _HELD[key]
        generation = uuid.uuid4().hex
        with suppress(OSError):  # a read-only or full store cannot have been written to either
            write_whole(folder / GENERATION_FILE, generation.encode("ascii"))
            if key in _CLIENTS:  # this process's client saw its own writes
                _CLIENTS[key] = (_CLIENTS[key][0], generation)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
