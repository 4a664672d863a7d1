"""How the assistant answers and where it keeps conversations: the settings users set by flag, ASSISTANT_*
environment variable or config.toml (store.config.ConfiguredSettings reads them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from store.config import ConfiguredSettings, default_data_dir

from assistant.engines import Engine

# The best sentence's cross-encoder logit (question alone) below which the documents do not answer;
# calibrated on CoQA CNN dev in benchmarks/coqa_refusal.py.
REFUSE_BELOW = -7.5


class AssistantSettings(ConfiguredSettings):
    """How the assistant answers and where it keeps conversations."""

    # `extractive` unless chosen: on natural dev the 0.5B model's answers are right less often than the extractive
    # engine's (0.554 against 0.661), so installing a model does not make it the default
    engine: Engine = Engine.extractive
    models: Path = Field(default_factory=lambda: default_data_dir() / "models")  # where `assistant model install` puts them
    local_model: Path | None = None  # any GGUF file; overrides the installed ones
    local_threads: int | None = None
    # the 0.5B model's rewrites score below the raw question on CANARD (benchmarks/canard.py): off by default,
    # follow-ups then resolve deterministically as with the extractive engine
    local_rewrite: bool = False
    conversations: Path = Field(default_factory=lambda: default_data_dir() / "conversations.sqlite")
    refuse_below: float = REFUSE_BELOW
    ollama_model: str = "llama3.2"
    ollama_url: str = "http://127.0.0.1:11434"
    openai_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None  # any OpenAI-compatible server: llama.cpp, vLLM, LM Studio
    openai_api_key: str = "not-needed"
    llm_timeout: float = 60.0
    # how an LLM engine's short answer is shown: followed by the sentence it stands on ("evidence"), or alone
    # ("short": the fewest words, what CoQA's F1 rewards)
    answer_style: Literal["evidence", "short"] = "evidence"
    # files and folders the chat UI keeps indexed as they change (`assistant index --watch` does it from a shell)
    watch: list[Path] = []

    @field_validator("watch")
    @classmethod
    def _home_folder(cls, paths: list[Path]) -> list[Path]:
        return [path.expanduser() for path in paths]  # `watch = ["~/notes"]`


def local_model_path(settings: AssistantSettings) -> Path | None:
    """The GGUF file the local engine would use: --model, else the first installed model."""
    from assistant.engines.local_models import installed

    if settings.local_model is not None:
        return settings.local_model
    found = installed(settings.models)
    return found[0][1] if found else None


# ASSISTANT_ variables that are read elsewhere than by the settings classes: known, so never warned about
OTHER_VARIABLES = {
    "ASSISTANT_CONFIG": "the config file to read instead of config.toml in the user config folder",
    "ASSISTANT_WHEELS": "where the llama.cpp wheels built here are kept (engines/llama_build.py)",
    "ASSISTANT_LLAMA_VARIANT": "the CPU module of llama.cpp the local model's process loads, unchecked "
                               "(engines/llama_modules.py)",
    "ASSISTANT_PDF_FAULT": "fault injection for the tests of a crashing PDF reader (store/pdf_child.py)",
    "ASSISTANT_LLAMA_CHECK_FAULT": "fault injection for the tests of the CPU module checks (engines/llama_worker.py)",
    "ASSISTANT_LLAMA_CRASH": "fault injection for the tests of a crashing local model (engines/llama_worker.py)",
    "ASSISTANT_TEST_LOCAL_MODEL": "the real GGUF model the tests of the local engine run (tests/local_model.py)",
}


def setting_names() -> list[str]:
    """Every setting a user can set, as config.toml spells it (the environment: ASSISTANT_ + upper case)."""
    from store.config import StoreSettings

    return [*StoreSettings.model_fields, *AssistantSettings.model_fields]


def environment_variable(name: str) -> str | None:
    """The environment variable that sets `name`, if one is set (matched regardless of case, as they are read)."""
    import os

    wanted = f"ASSISTANT_{name}".upper()
    return next((variable for variable in os.environ if variable.upper() == wanted), None)


def sources(names, flags: dict[str, str]) -> dict[str, str]:
    """Where each setting's value comes from: its flag (`flags` maps a setting to the flag given), its
    environment variable, the config file's path, or "default"."""
    from store.config import config_file, read_config_file

    path = config_file()
    in_file = read_config_file(path)
    return {name: flags.get(name) or environment_variable(name) or (str(path) if name in in_file else "default")
            for name in names}


def unknown_names() -> list[str]:
    """One warning per key of the config file and ASSISTANT_ environment variable that sets nothing."""
    import difflib
    import os

    from store.config import config_file, read_config_file

    names = setting_names()
    path = config_file()
    warnings = []
    for key, value in read_config_file(path).items():
        if key in names:
            continue
        if isinstance(value, dict):  # a [section]: its keys, joined to its name, may be settings
            meant = [f"{key}_{inner}" for inner in value if f"{key}_{inner}" in names]
            hint = f"; write {', '.join(meant)} at the top instead" if meant else ""
            warnings.append(f"{path}: the section [{key}] is ignored, the file is flat (one key per setting){hint}")
            continue
        near = difflib.get_close_matches(key.replace("-", "_"), names, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        warnings.append(f"{path}: unknown key {key!r}{hint} is ignored")
    variables = [f"ASSISTANT_{name.upper()}" for name in names] + list(OTHER_VARIABLES)
    for variable in os.environ:
        if variable.upper().startswith("ASSISTANT_") and variable.upper() not in variables:
            near = difflib.get_close_matches(variable.upper(), variables, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            warnings.append(f"the environment variable {variable}{hint} sets nothing and is ignored "
                            f"(the settings are listed by `assistant config`)")
    return warnings
