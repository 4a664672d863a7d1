"""Settings as a user sets them: a flag, over an ASSISTANT_ variable, over config.toml, over the default;
`assistant config` says which one won. Every test has its own home: nothing reads the developer's config."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli import parser
from assistant.console import assistant_settings
from tui.cli import main

ROOT = Path(__file__).resolve().parent.parent
ASSISTANT = shutil.which("assistant", path=str(Path(sys.executable).parent))


@pytest.fixture
def config(tmp_path, monkeypatch) -> Path:
    """The config file of a fresh home (not written yet), with no ASSISTANT_ variable but ASSISTANT_CONFIG."""
    for variable in list(os.environ):
        if variable.upper().startswith("ASSISTANT_"):
            monkeypatch.delenv(variable)
    for variable, folder in (("HOME", "home"), ("XDG_CONFIG_HOME", "config"), ("XDG_DATA_HOME", "data"),
                             ("XDG_CACHE_HOME", "cache")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ASSISTANT_CONFIG", str(path))
    return path


def assistant(capsys, *argv: str) -> tuple[int, str, str]:
    """The installed command's `main`, run in this process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def effective(capsys, *flags: str) -> dict[str, dict]:
    code, stdout, stderr = assistant(capsys, "config", "--json", *flags)
    assert code == 0, stderr
    return json.loads(stdout)["settings"]


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(config, capsys, monkeypatch):
    config.write_text('ollama_model = "from-file"\nopenai_model = "from-file"\nollama_url = "http://file:11434"\n')
    monkeypatch.setenv("ASSISTANT_OLLAMA_MODEL", "from-env")
    monkeypatch.setenv("ASSISTANT_OPENAI_MODEL", "from-env")
    settings = effective(capsys, "--ollama-model", "from-flag")
    assert settings["ollama_model"] == {"value": "from-flag", "source": "--ollama-model"}
    assert settings["openai_model"] == {"value": "from-env", "source": "ASSISTANT_OPENAI_MODEL"}
    assert settings["ollama_url"] == {"value": "http://file:11434", "source": str(config)}
    assert settings["openai_base_url"] == {"value": None, "source": "default"}
    assert settings["engine"] == {"value": "extractive", "source": "default"}


def test_config_lists_each_setting_with_where_it_comes_from(config, capsys, monkeypatch):
    config.write_text('engine = "ollama"\nchunk_size = 800\n')
    monkeypatch.setenv("ASSISTANT_OPENAI_API_KEY", "sk-secret")
    code, stdout, stderr = assistant(capsys, "config", "--openai-base-url", "http://127.0.0.1:8080/v1")
    assert code == 0 and stderr == ""
    lines = {line.split(" ")[0]: " ".join(line.split()) for line in stdout.splitlines() if not line.startswith("#")}
    assert stdout.splitlines()[0] == f"# config file: {config} (read; from ASSISTANT_CONFIG)"
    assert lines["engine"] == f'engine = "ollama" # {config}'
    assert lines["chunk_size"] == f"chunk_size = 800 # {config}"
    assert lines["openai_base_url"] == 'openai_base_url = "http://127.0.0.1:8080/v1" # --openai-base-url'
    assert lines["ollama_model"] == 'ollama_model = "llama3.2" # default'
    assert lines["openai_api_key"] == 'openai_api_key = "********" # ASSISTANT_OPENAI_API_KEY'
    assert "sk-secret" not in stdout


def test_the_config_file_is_config_toml_in_the_user_config_folder(config, capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("ASSISTANT_CONFIG")
    folder = tmp_path / "config" / "evidence-assistant"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text('openai_model = "qwen2.5-7b-instruct"\n')
    code, stdout, _ = assistant(capsys, "config", "--json")
    payload = json.loads(stdout)
    assert payload["config_file"] == {"path": str(folder / "config.toml"), "exists": True, "source": "default"}
    assert payload["settings"]["openai_model"] == {"value": "qwen2.5-7b-instruct",
                                                   "source": str(folder / "config.toml")}


def test_model_names_from_the_file_and_from_flags_reach_the_settings(config):
    config.write_text('engine = "openai"\nollama_model = "qwen2.5:0.5b"\nopenai_model = "from-file"\n')
    args = parser().parse_args(["ask", "Who mediated?", "--openai-model", "gpt-4.1-mini",
                                "--openai-base-url", "http://127.0.0.1:8080/v1", "--ollama-url", "http://gpu:11434"])
    settings = assistant_settings(args)
    assert settings.engine == "openai" and settings.ollama_model == "qwen2.5:0.5b"
    assert settings.openai_model == "gpt-4.1-mini" and settings.openai_base_url == "http://127.0.0.1:8080/v1"
    assert settings.ollama_url == "http://gpu:11434"


def test_an_unknown_key_in_the_file_is_a_warning_naming_it_and_the_closest_setting(config, capsys):
    config.write_text('ollama_modle = "qwen2.5"\nengine = "extractive"\n')
    code, stdout, stderr = assistant(capsys, "config", "--json")
    assert code == 0 and json.loads(stdout)["settings"]["engine"]["source"] == str(config)
    assert stderr == f"warning: {config}: unknown key 'ollama_modle' (did you mean 'ollama_model'?) is ignored\n"


def test_a_section_in_the_file_is_a_warning_with_the_flat_keys_to_write(config, capsys):
    config.write_text('[openai]\nmodel = "gpt-4o"\nbase_url = "http://127.0.0.1:8080/v1"\n')
    code, _, stderr = assistant(capsys, "config")
    assert code == 0
    assert stderr == (f"warning: {config}: the section [openai] is ignored, the file is flat (one key per setting); "
                      "write openai_model, openai_base_url at the top instead\n")


def test_an_unknown_assistant_variable_is_a_warning_naming_it(config, capsys, monkeypatch):
    monkeypatch.setenv("ASSISTANT_ENGNE", "ollama")
    code, _, stderr = assistant(capsys, "config")
    assert code == 0
    assert stderr == ("warning: the environment variable ASSISTANT_ENGNE (did you mean ASSISTANT_ENGINE?) sets nothing "
                      "and is ignored (the settings are listed by `assistant config`)\n")


def test_the_variables_the_project_itself_reads_are_not_warned_about(config, capsys, monkeypatch):
    for variable in ("ASSISTANT_TEST_LOCAL_MODEL", "ASSISTANT_WHEELS", "ASSISTANT_LLAMA_VARIANT",
                     "ASSISTANT_LLAMA_CRASH"):
        monkeypatch.setenv(variable, "x")
    monkeypatch.setenv("ASSISTANT_MODELS", str(config.parent / "models"))
    code, _, stderr = assistant(capsys, "config")
    assert code == 0 and stderr == ""


def test_every_assistant_variable_named_in_the_project_is_known():
    from assistant.settings import OTHER_VARIABLES, setting_names

    known = {f"ASSISTANT_{name.upper()}" for name in setting_names()} | set(OTHER_VARIABLES)
    sources = [path for folder in ("assistant", "store", "tui", "tests", "benchmarks")
               for path in (ROOT / folder).rglob("*.py")]
    files = [ROOT / "Makefile", ROOT / "README.md", *sources]
    named = {name for path in files if path != Path(__file__).resolve()
             for name in re.findall(r"\bASSISTANT_[A-Z][A-Z0-9_]*", path.read_text(encoding="utf-8"))}
    assert named - known == set()


@pytest.mark.parametrize("where", ["environment", "file"])
def test_an_engine_that_is_not_one_is_one_sentence_with_the_choices(config, capsys, monkeypatch, where):
    if where == "file":
        config.write_text('engine = "gpt-4o"\n')
    else:
        monkeypatch.setenv("ASSISTANT_ENGINE", "gpt-4o")
    source = str(config) if where == "file" else "ASSISTANT_ENGINE"
    code, _, stderr = assistant(capsys, "config")
    assert code == 2
    assert stderr == (f"error: {source} sets engine to 'gpt-4o': input should be 'extractive', 'local', 'ollama' "
                      "or 'openai'\n")


def test_a_malformed_config_file_is_one_sentence_naming_the_file_and_the_line(config):
    config.write_text('engine = "extractive"\nollama_model = "qwen2.5\n')
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "300"}
    for command in ([ASSISTANT, "docs"], [sys.executable, "-m", "assistant", "config"]):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
        assert result.returncode == 2
        assert result.stderr == (f"error: {config}: line 2 is not valid TOML (illegal character '\\n'); "
                                 "fix it or move the file aside\n")
