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

    def warn(warning: str) -> None:
        app.call_from_thread(app.notify, warning, title="Settings", severity="warning", timeout=20)

    app = AssistantApp(loader(args, warn), conversation_id=getattr(args, "conversation", None),
                       paths=getattr(args, "paths", None) or [])
    app.run()
    return app.return_code or 0


def loader(args, warn=lambda warning: None):
    """A function that builds the Assistant the flags, environment and config file ask for (run in the app's
    worker); each config key and ASSISTANT_ variable that sets nothing is passed to `warn`."""

    def load():
        from assistant.console import assistant_settings, store_settings
        from assistant.service import Assistant
        from assistant.settings import unknown_names

        for warning in unknown_names():
            warn(warning)
        return Assistant(store_settings(args), assistant_settings(args))

    return load
