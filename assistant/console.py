"""What every command shares: the consoles, the one-line user error, and settings read from flags and env."""

from __future__ import annotations

from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def _settings(cls, overrides: dict):
    from pydantic import ValidationError

    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UserError(f"setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def store_settings(args):
    """Store settings: command-line flags over ASSISTANT_* environment variables over defaults."""
    from store import StoreSettings

    return _settings(StoreSettings, {"store": args.store, "chroma_url": args.chroma_url})


def assistant_settings(args):
    from assistant.service import AssistantSettings

    return _settings(AssistantSettings, {"engine": getattr(args, "engine", None),
                                         "local_model": getattr(args, "model", None)})
