"""What every command shares: the consoles, the one-line user error, and the settings read from flags over
ASSISTANT_* environment variables over config.toml over defaults (and `assistant config`, which shows them)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# each setting a flag sets: the parsed argument that holds it (the flag is its name, dashed)
STORE_FLAGS = {"store": "store", "chroma_url": "chroma_url"}
ENGINE_FLAGS = {"engine": "engine", "local_model": "model", "ollama_model": "ollama_model", "ollama_url": "ollama_url",
                   "openai_model": "openai_model", "openai_base_url": "openai_base_url"}


def when(moment: str | float) -> str:
    """A stored time (ISO 8601, or seconds since the epoch) as a reader scans it: date and minute, local time."""
    from datetime import datetime, timezone

    at = datetime.fromisoformat(moment) if isinstance(moment, str) else datetime.fromtimestamp(moment, timezone.utc)
    return at.astimezone().strftime("%Y-%m-%d %H:%M")


def shortened(text: str, width: int) -> str:
    """`text` cut to `width` characters, the last one an ellipsis when it was cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


URL_WIDTH = 60  # characters of a URL shown while its page is fetched


def download_amount(got: int, declared: int | None) -> str:
    """How much of a page has come in, as a reader takes it in: "1.1 kB of 1.4 kB" ("1.1 kB" if its size was not
    said)."""
    from rich.filesize import decimal

    return decimal(got) + (f" of {decimal(declared)}" if declared else "")


class UserError(Exception):
    """A problem the user can fix; printed as one line."""


def given_flags(args) -> dict[str, str]:
    """The settings this command's flags set, each with its flag as the user wrote it."""
    return {name: "--" + argument.replace("_", "-") for name, argument in {**STORE_FLAGS, **ENGINE_FLAGS}.items()
            if getattr(args, argument, None) is not None}


def _settings(cls, args, flags: dict[str, str]):
    from pydantic import ValidationError

    from store.config import ConfigFileError

    overrides = {name: getattr(args, argument, None) for name, argument in flags.items()}
    try:
        return cls(**{name: value for name, value in overrides.items() if value is not None})
    except ConfigFileError as exc:
        raise UserError(str(exc)) from None
    except ValidationError as exc:
        from assistant.settings import sources

        first = exc.errors()[0]
        name = ".".join(map(str, first["loc"]))
        reason = first["msg"].removeprefix("Value error, ")
        raise UserError(f"{sources([name], given_flags(args))[name]} sets {name} to {first['input']!r}: "
                        f"{reason[0].lower()}{reason[1:]}") from None


def store_settings(args):
    """The store's settings for this command."""
    from store import StoreSettings

    return _settings(StoreSettings, args, STORE_FLAGS)


def assistant_settings(args):
    """The assistant's settings for this command."""
    from assistant.settings import AssistantSettings

    return _settings(AssistantSettings, args, ENGINE_FLAGS)


def cmd_config(args) -> int:
    """Every setting in effect for these flags, and where each one comes from."""
    import os

    from assistant.settings import sources
    from store.config import CONFIG_VARIABLE, config_file

    values = {**store_settings(args).model_dump(mode="json"), **assistant_settings(args).model_dump(mode="json")}
    settings = {}
    for name, source in sources(values, given_flags(args)).items():
        value = values[name]
        hidden = name.endswith("api_key") and source != "default"  # a secret is not printed
        settings[name] = {"value": "********" if hidden else value, "source": source}
    path = config_file()
    chosen_by = CONFIG_VARIABLE if os.environ.get(CONFIG_VARIABLE) else "default"
    where = {"path": str(path), "exists": path.is_file(), "source": chosen_by}
    if args.json:
        print(json.dumps({"config_file": where, "settings": settings}, ensure_ascii=False, indent=2))
        return 0
    chosen = f"; from {CONFIG_VARIABLE}" if chosen_by == CONFIG_VARIABLE else ""
    out.print(f"# config file: {escape(str(path))} ({'read' if where['exists'] else 'none there'}{chosen})")
    out.print("# each setting: flag, over ASSISTANT_ + its name in upper case, over this file, over the default")
    lines = [(f"{name} = {_toml(s['value'])}" if s["value"] is not None else f"# {name} is unset", s["source"])
             for name, s in settings.items()]
    width = max(len(line) for line, _ in lines)
    for line, source in lines:
        out.print(escape(f"{line:<{width}}  # {source}"))
    return 0


def _toml(value) -> str:
    """A value as config.toml would spell it (a JSON string is a TOML basic string)."""
    return json.dumps(value, ensure_ascii=False)
