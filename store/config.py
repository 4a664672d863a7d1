"""The store's settings, read from the environment (ASSISTANT_*) at the edge and passed in."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_cache_path, user_data_path
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from store.chunking import DEFAULT_CHUNK_OVERLAP, DEFAULT_CHUNK_SIZE


def default_data_dir() -> Path:
    return user_data_path("evidence-assistant", appauthor=False)


class StoreSettings(BaseSettings):
    """Where the index lives and how documents are cut into chunks."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    store: Path = Field(default_factory=lambda: default_data_dir() / "chroma", description="embedded Chroma folder")
    chroma_url: str | None = Field(default=None, description="http://HOST:PORT of a Chroma server; overrides `store`")
    collection: str = "documents"
    cache: Path = Field(default_factory=lambda: user_cache_path("evidence-assistant", appauthor=False),
                        description="derived data that can be rebuilt (the BM25 index of a Chroma server's collection)")
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
