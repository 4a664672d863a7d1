"""Folders and files kept in step with the index as they change: a changed file is indexed again, a new one added,
a deleted one (or a deleted folder's files) removed — with the guarantees of indexing (a kill loses nothing: the
next run finishes the write; a bad file costs its own line). Changes come from watchfiles (inotify, FSEvents…)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from store.documents import LOADERS, Document, LoadError
from store.index import Index
from store.writes import IndexReport

DEBOUNCE_MS = 800  # an editor's save is several events (a temporary file, a rename): they are taken together
READY_MS = 300  # how soon after it is in place the watch says so


class _Indexable(DefaultFilter):
    """What watchfiles reports: changes to files of a kind the index reads, new folders, and any deletion (a
    folder's too); not version control, caches and editors' temporary files (DefaultFilter's own list)."""

    def __call__(self, change: Change, path: str) -> bool:
        return super().__call__(change, path) and (change == Change.deleted or Path(path).suffix.lower() in LOADERS
                                                   or (change == Change.added and Path(path).is_dir()))


@dataclass
class Synced:
    """What one batch of changes did to the index."""

    documents: list[Document] = field(default_factory=list)  # the files (re)read
    report: IndexReport = field(default_factory=IndexReport)  # added, updated, unchanged; removed: deleted files'
    failures: list[LoadError] = field(default_factory=list)


def sync(index: Index, paths: Iterable[str | Path]) -> Synced:
    """Bring the index in step with these changed paths as they are now: a readable file of a supported kind is
    indexed (again, if it changed), a new folder with its files (whose own events may come before the folder is
    watched), and a path that is gone takes out the documents of its file or of files under it."""
    paths = {Path(p).resolve() for p in paths}
    present = sorted(p for p in paths if (p.is_file() and p.suffix.lower() in LOADERS) or p.is_dir())
    gone = [p for p in paths if not p.exists()]
    synced = Synced()
    if present:
        synced.documents, synced.report, synced.failures = index.add_paths(present)
    if gone:
        for info in index.documents():
            source = Path(info.source)
            if source.is_absolute() and not source.exists() and any(source.is_relative_to(g) for g in gone):
                if index.remove(info.id):
                    synced.report.removed.append(info.id)
                    synced.report.chunks_removed += info.chunks
    return synced


def keep_in_step(index: Index, paths: Sequence[str | Path], on_sync: Callable[[Synced], None],
                 stop: threading.Event | None = None, on_ready: Callable[[], None] | None = None) -> None:
    """Watch the files and folders and sync each batch of their changes into the index, telling `on_sync`, until
    `stop` is set (or KeyboardInterrupt); `on_ready` is told once the watch is in place (a change made before
    then is not seen)."""
    ready = on_ready
    # an empty batch now and then (yield_on_timeout): the first says the watch is in place
    for changes in watch(*paths, watch_filter=_Indexable(), debounce=DEBOUNCE_MS, stop_event=stop,
                         raise_interrupt=True, yield_on_timeout=True, rust_timeout=READY_MS):
        if ready is not None:
            ready, _ = None, ready()
        if changes:
            on_sync(sync(index, {path for _, path in changes}))
