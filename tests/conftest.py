"""Shared fixtures: the real models (loaded once), an embedded store and a real Chroma server."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from processes import free_port, start_chroma, stop
from store import CrossEncoder, Index, OnnxEmbeddings, StoreSettings

BACKENDS = ["embedded", "server"]

# CI runs the property tests on a fixed sequence of inputs, so a red run is reproducible and a green one means
# the code did not change; local runs explore new random inputs (what they find is pinned with @example).
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


@pytest.fixture(autouse=True, scope="session")
def _no_local_model_by_default(tmp_path_factory):
    """Nothing of the user's: their models, cache and config file would change what the suite sees (the
    local-engine tests name their model explicitly)."""
    os.environ["ASSISTANT_MODELS"] = str(tmp_path_factory.mktemp("no-models"))
    os.environ["ASSISTANT_CACHE"] = str(tmp_path_factory.mktemp("cache"))  # not the user's cache folder
    os.environ["ASSISTANT_CONFIG"] = str(tmp_path_factory.mktemp("config") / "config.toml")  # none: not the user's
    yield


@pytest.fixture(scope="session")
def embeddings() -> OnnxEmbeddings:
    return OnnxEmbeddings()


@pytest.fixture(scope="session")
def cross_encoder() -> CrossEncoder:
    return CrossEncoder()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on a free loopback port, stopped at the end of the session."""
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    with (data / "server.log").open("w") as log:
        try:
            process = start_chroma(data / "db", port, log=log)
        except RuntimeError as exc:
            pytest.fail(f"{exc}: {(data / 'server.log').read_text()[-2000:]}")
        yield f"http://127.0.0.1:{port}"
        stop(process)


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path) -> StoreSettings:
    """Store settings for a fresh index, embedded in a temp folder or on the test server (own collection)."""
    if request.param == "embedded":
        return StoreSettings(store=tmp_path / "store")
    url = request.getfixturevalue("chroma_server")
    return StoreSettings(chroma_url=url, collection=f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def index(settings, embeddings) -> Index:
    return Index(settings, embeddings)


@pytest.fixture(scope="session")
def shared_index(tmp_path_factory, embeddings) -> Index:
    """One embedded index with the bundled article, shared by the conversation tests."""
    index = Index(StoreSettings(store=tmp_path_factory.mktemp("shared-store")), embeddings)
    index.ensure_demo()
    return index


@pytest.fixture
def make_assistant(shared_index, cross_encoder, tmp_path):
    """Build an Assistant on the shared index with its own conversation store (SQLite in a temp folder)."""
    from assistant.service import Assistant, AssistantSettings

    def make(engine: str = "extractive", chat_model=None, conversations: Path | None = None, checkpointer=None,
             **more_settings):
        settings = AssistantSettings(conversations=conversations or tmp_path / "conversations.sqlite", **more_settings)
        # a fake chat model's engine is named "fake", which no user can choose: set past the settings' validation
        settings = settings.model_copy(update={"engine": engine})
        return Assistant(shared_index.settings, settings, index=shared_index, cross_encoder=cross_encoder,
                         chat_model=chat_model, checkpointer=checkpointer)

    return make


@pytest.fixture
def own_store(embeddings, cross_encoder, tmp_path):
    """A loader of an Assistant on a store of its own (this test's documents only) and its conversations file."""
    from assistant.service import Assistant, AssistantSettings

    settings = StoreSettings(store=tmp_path / "store")

    def load():
        return Assistant(settings, AssistantSettings(conversations=tmp_path / "c.sqlite"),
                         index=Index(settings, embeddings), cross_encoder=cross_encoder)

    return load


@pytest.fixture
def make_app(make_assistant):
    """A maker of the chat app on the shared index, answering with `engine`."""
    from tui.app import AssistantApp

    def make(engine: str = "extractive", chat_model=None, conversations=None, **kwargs) -> AssistantApp:
        return AssistantApp(lambda: make_assistant(engine, chat_model=chat_model, conversations=conversations), **kwargs)

    return make
