"""The store's settings, and how every settings class reads its sources: flags (the arguments), ASSISTANT_*
environment variables, then the user's config.toml, then the defaults. Read at the edge and passed in."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from platformdirs import user_cache_path, user_config_path, user_data_path
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from store.chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE


def default_data_dir() -> Path:
    return user_data_path("evidence-assistant", appauthor=False)


CONFIG_VARIABLE = "ASSISTANT_CONFIG"


def config_file() -> Path:
    """The config file settings are read from: $ASSISTANT_CONFIG, else config.toml in the user config folder."""
    chosen = os.environ.get(CONFIG_VARIABLE)
    return Path(chosen) if chosen else user_config_path("evidence-assistant", appauthor=False) / "config.toml"


class ConfigFileError(ValueError):
    """The config file cannot be read as TOML; the message names the file and the line."""


def read_config_file(path: Path) -> dict[str, Any]:
    """The file's keys and values ({} when there is no file); ConfigFileError when it is not TOML."""
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        reason, _, where = str(exc).partition(" (at ")
        line = re.match(r"line (\d+)", where)
        at = f"line {line.group(1)}" if line else "the end"
        raise ConfigFileError(f"{path}: {at} is not valid TOML ({reason[0].lower()}{reason[1:]}); "
                              "fix it or move the file aside") from None
    except UnicodeDecodeError:
        raise ConfigFileError(f"{path} is not UTF-8 text; a config file is TOML, written in UTF-8") from None
    except OSError as exc:
        raise ConfigFileError(f"{path} cannot be read ({exc.strerror}); set {CONFIG_VARIABLE} to another file"
                              ) from None


class _ConfigFileSource(TomlConfigSettingsSource):
    def _read_file(self, file_path: Path) -> dict[str, Any]:
        return read_config_file(file_path)


class ConfiguredSettings(BaseSettings):
    """Settings read from the arguments, over ASSISTANT_* environment variables, over config.toml, over defaults.

    The file is flat: one key per setting, the environment variable's name without ASSISTANT_, in lower case.
    """

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:  # no .env or secrets folder: the flags, the environment, the file
        return init_settings, env_settings, _ConfigFileSource(settings_cls, toml_file=config_file())


class StoreSettings(ConfiguredSettings):
    """Where the index lives and how documents are cut into chunks."""

    store: Path = Field(default_factory=lambda: default_data_dir() / "chroma", description="embedded Chroma folder")
    chroma_url: str | None = Field(default=None, description="http://HOST:PORT of a Chroma server; overrides `store`")
    collection: str = "documents"
    cache: Path = Field(default_factory=lambda: user_cache_path("evidence-assistant", appauthor=False),
                        description="derived data that can be made again: the BM25 index of a Chroma server's "
                        "collection, documents' sentence vectors, recast models")
    chunk_size: int = Field(default=DEFAULT_CHUNK_SIZE, ge=100, le=8000)
    chunk_overlap: int = Field(default=DEFAULT_CHUNK_OVERLAP, ge=0)

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        from urllib.parse import urlparse

        url = urlparse(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"{value!r} is not a Chroma server address; use http://HOST:PORT")
        return value

    @property
    def location(self) -> str:
        """Where the index is, in the user's words."""
        return self.chroma_url or str(self.store)
