"""The `assistant` command: index documents, list them, search them."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.control import strip_control_codes
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant", description="Answers from your documents, with the evidence for every claim — offline."
    )
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", type=Path, metavar="DIR", help="embedded index folder (env ASSISTANT_STORE)")
    where.add_argument(
        "--chroma-url", metavar="URL", help="use a Chroma server at http://HOST:PORT (env ASSISTANT_CHROMA_URL)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    index = commands.add_parser("index", parents=[where], help="add or update documents (.txt .md .html .pdf, folders)")
    index.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    index.add_argument("--rebuild", action="store_true", help="re-embed every stored document with the current model")
    index.add_argument("--remove", action="append", default=[], metavar="ID", help="remove a document by id")

    docs = commands.add_parser("docs", parents=[where], help="list the indexed documents")
    docs.add_argument("--json", action="store_true", help="JSON output")

    search = commands.add_parser("search", parents=[where], help="find the passages that answer a query")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=4, metavar="N", help="how many passages (default 4)")
    search.add_argument("--doc", action="append", metavar="ID", help="only search this document (repeatable)")
    search.add_argument("--json", action="store_true", help="JSON output")
    for stage in ("dense", "lexical", "rerank"):
        search.add_argument(f"--no-{stage}", action="store_true", help=f"switch off the {stage} stage")
    return parser


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def _settings(args):
    from pydantic import ValidationError

    from store import StoreSettings

    overrides = {}
    if args.store is not None:
        overrides["store"] = args.store
    if args.chroma_url is not None:
        overrides["chroma_url"] = args.chroma_url
    try:
        return StoreSettings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _open_index(args):
    from store import Index

    index = Index(_settings(args))
    index.ensure_bundled()
    return index


def cmd_index(args) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from store import LoadError, load_file, rebuild
    from store.documents import expand_paths

    settings = _settings(args)
    with Progress(
        TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TextColumn("chunks"), TimeRemainingColumn(),
        console=err, transient=True, disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("embed", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if args.rebuild:
            report = rebuild(settings, progress=progress)
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
        files, failures = expand_paths(args.paths)
        documents = []
        for path in files:
            try:
                documents.append(load_file(path))
            except LoadError as exc:
                failures.append(exc)
        report = index.add(documents, progress)
    for doc in documents:
        state = "new" if doc.id in report.added else "updated" if doc.id in report.updated else "unchanged"
        out.print(f"{state:9} {escape(doc.id)}  {escape(doc.title)}")
    if documents:
        out.print(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged; "
                  f"{report.chunks_embedded} chunks embedded, {report.chunks_removed} removed")
    for failure in failures:
        err.print(f"error: {escape(str(failure))}")
    if failures:
        err.print(f"{len(failures)} path(s) not indexed: {', '.join(escape(f.path) for f in failures)}")
        return 1
    return 0


def cmd_docs(args) -> int:
    infos = _open_index(args).documents()
    if args.json:
        print(json.dumps([info.model_dump() for info in infos], ensure_ascii=False, indent=2))
        return 0
    for info in infos:
        out.print(f"{escape(info.id)}  {info.chunks:>5} chunks  {escape(info.title)}")
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


COMMANDS = {"index": cmd_index, "docs": cmd_docs, "search": cmd_search}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["search", "What happened in Nagorno-Karabakh?", *(argv or [])])
    from store import LoadError, ModelError, StoreError

    try:
        return COMMANDS[args.command](args)
    except (UserError, LoadError, ModelError, StoreError) as exc:
        err.print(f"error: {escape(str(exc))}")
        return 2 if isinstance(exc, UserError) else 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
