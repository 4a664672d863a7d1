"""The `assistant` program: `assistant` / `assistant chat` open the UI; every other command is assistant.cli's.

Only argparse and Textual are imported before the window is up; the assistant (models, index, conversation
store) is built by the app in a worker thread.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from assistant import cli

    args = cli.parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.command is None:
        args = cli.parser().parse_args(["chat"])
    if args.command != "chat":
        return cli.run(args)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("error: the chat UI needs a terminal; use `assistant ask \"QUESTION\"` in scripts", file=sys.stderr)
        return 2
    from tui.app import AssistantApp

    app = AssistantApp(loader(args), conversation_id=getattr(args, "conversation", None),
                       paths=getattr(args, "paths", None) or [])
    app.run()
    return app.return_code or 0


def loader(args):
    """A function that builds the Assistant the flags and environment ask for (run in the app's worker)."""

    def load():
        from assistant.console import assistant_settings, store_settings
        from assistant.service import Assistant

        return Assistant(store_settings(args), assistant_settings(args))

    return load
