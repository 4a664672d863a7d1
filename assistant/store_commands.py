"""`assistant index`, `docs` and `search`: the store as the user drives it."""

from __future__ import annotations

import json
from pathlib import Path

from rich.control import strip_control_codes
from rich.markup import escape

from assistant.console import URL_WIDTH, UserError, download_amount, err, out, shortened, store_settings, when


def _open_index(args):
    from store import Index

    index = Index(store_settings(args))
    index.ensure_demo()
    return index


class _IndexingBar:
    """What `assistant index` shows on a terminal while it works: each page's download, then the embedding."""

    def __init__(self, bar):
        self.bar, self.embedding_task, self.fetch_tasks = bar, None, {}

    def embedding(self, done: int, total: int) -> None:
        if self.embedding_task is None:  # every page is in: the embedding follows the downloads
            for task in self.fetch_tasks.values():
                self.bar.remove_task(task)
            self.fetch_tasks.clear()
            self.embedding_task = self.bar.add_task("embedding", total=total, amount="")
        self.bar.update(self.embedding_task, completed=done, total=total, amount=f"{done}/{total} chunks")

    def fetching(self, url: str, got: int, declared: int | None) -> None:
        task = self.fetch_tasks.get(url)
        if task is None:
            task = self.fetch_tasks[url] = self.bar.add_task(f"fetching {shortened(url, URL_WIDTH)}", total=declared,
                                                             amount="")
        self.bar.update(task, completed=got, total=declared, amount=download_amount(got, declared))


def cmd_index(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from store import rebuild
    from store.web import is_url

    settings = store_settings(args)
    if args.watch:
        if not args.paths:
            raise UserError("--watch needs the files or folders to watch: assistant index --watch PATH…")
        if any(is_url(p) for p in args.paths):
            raise UserError("--watch follows files and folders, not web pages; index a page again to update it")
        missing = [p for p in args.paths if not Path(p).expanduser().exists()]
        if missing:
            raise UserError(f"{missing[0]} does not exist; give a file or folder to watch")
    with Progress(
        TextColumn("{task.description}", markup=False), BarColumn(), TextColumn("{task.fields[amount]}", markup=False),
        TimeRemainingColumn(), console=err, transient=True, disable=not err.is_terminal,
    ) as bar:
        shown = _IndexingBar(bar)
        progress = shown.embedding

        if args.rebuild:
            report = rebuild(settings, progress=progress)
            if report.moved_aside:
                err.print(f"the index at {escape(settings.location)} could not be read; it was moved to "
                          f"{escape(report.moved_aside)} and a new one started: add your documents again with "
                          "`assistant index PATH`")
            out.print(f"rebuilt the index at {escape(settings.location)}: {len(report.added)} documents, "
                      f"{report.chunks_embedded} chunks")
            if not args.paths and not args.remove:
                return 0
        index = _open_index(args)
        for doc_id in args.remove:
            if index.remove(doc_id):
                out.print(f"removed {escape(doc_id)}")
            else:
                err.print(f"error: no document {escape(doc_id)}; see `assistant docs` for the ids")
        documents, report, failures = index.add_paths(args.paths, progress, shown.fetching)
    _print_report(documents, report, failures)
    if args.watch:
        return _watch(index, args.paths)
    if failures:
        err.print(f"{len(failures)} path(s) not indexed: {', '.join(escape(f.path) for f in failures)}")
        return 1
    return 0


def _print_report(documents, report, failures, changed_only: bool = False) -> None:
    """What a write did, a line per document (`changed_only`: not those that were unchanged), then the totals."""
    for doc in documents:
        state = "new" if doc.id in report.added else "updated" if doc.id in report.updated else "unchanged"
        if not (changed_only and state == "unchanged"):
            out.print(f"{state:9} {escape(doc.id)}  {escape(doc.title)}")
    for doc_id in report.removed:
        out.print(f"{'removed':9} {escape(doc_id)}  (its file is gone)")
    if (documents and not changed_only) or report.added or report.updated or report.removed:
        out.print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
                  f"{len(report.removed)} removed; {report.chunks_embedded} chunks embedded, "
                  f"{report.chunks_removed} removed")
    for failure in failures:
        err.print(f"error: {escape(str(failure))}")


def _watch(index, paths) -> int:
    """Keep the index in step with the paths until Ctrl+C (or SIGTERM): each change is reported as `assistant
    index` reports it."""
    import signal
    import threading

    from store.watch import keep_in_step

    stop = threading.Event()

    def finish(signum, frame) -> None:
        # the write in progress ends first (an interrupt inside the store's calls could leave it half done); a
        # second Ctrl+C does not wait
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    handlers = {signum: signal.signal(signum, finish) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        keep_in_step(index, paths, lambda synced: _print_report(synced.documents, synced.report, synced.failures,
                                                                changed_only=True),
                     stop=stop, on_ready=lambda: out.print(f"watching {len(paths)} path(s) for changes; Ctrl+C stops"))
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    out.print("stopped watching")
    return 0


def cmd_docs(args) -> int:
    index = _open_index(args)
    infos = index.documents()
    if args.json:
        print(json.dumps([info.model_dump() for info in infos], ensure_ascii=False, indent=2))
        return 0
    if index.demo:
        err.print("[dim]the bundled demo article, answered from until you index documents of your own "
                  "(`assistant index PATH`); remove it with `assistant index --remove ID`[/dim]")
    elif not infos:
        err.print("[dim]nothing is indexed; add documents with `assistant index PATH`[/dim]")
    for info in infos:
        indexed = when(info.indexed_at) if info.indexed_at else "earlier"
        source = f"  [dim]{escape(info.source)}[/dim]" if info.source not in ("", "inline", "bundled") else ""
        out.print(f"{escape(info.id)}  {info.chunks:>5} chunks  {indexed}  {escape(info.title)}{source}")
    return 0


def cmd_search(args) -> int:
    from store import HybridRetriever, RetrievalOptions

    query = " ".join(args.query.split())
    if not query:
        raise UserError("the query is empty; give some words to search for")
    if args.k < 1:
        raise UserError("-k must be at least 1")
    options = RetrievalOptions(dense=not args.no_dense, lexical=not args.no_lexical, rerank=not args.no_rerank)
    if not (options.dense or options.lexical):
        raise UserError("--no-dense and --no-lexical together leave nothing to search with; keep one")
    index = _open_index(args)
    if args.doc:
        unknown = sorted(set(args.doc) - {d.id for d in index.documents()})
        if unknown:
            raise UserError(f"no document {', '.join(unknown)}; see `assistant docs` for the ids")
    retriever = HybridRetriever(index=index, k=args.k, options=options, document_ids=args.doc)
    passages = retriever.search(query)
    if args.json:
        print(json.dumps({"query": query, "passages": [p.model_dump() for p in passages]}, ensure_ascii=False, indent=2))
        return 0
    if not passages:
        out.print("no passage matches; try other words")
    for rank, p in enumerate(passages, start=1):
        out.print(f"[bold]{rank}.[/bold] {escape(p.title)} [dim]({escape(p.document_id)} {p.start}–{p.end}, "
                  f"score {p.score:.3f})[/dim]")
        out.print(strip_control_codes(p.text), markup=False)
        out.print()
    return 0
