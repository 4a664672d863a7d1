"""LangChain's own standard tests (langchain-tests) for the retriever and the embeddings we ship."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from store import HybridRetriever, Index, OnnxEmbeddings, StoreSettings


@functools.cache
def _index() -> Index:
    """One real embedded store with the bundled article, for every retriever test of this module."""
    index = Index(StoreSettings(store=Path(tempfile.mkdtemp(prefix="lc-standard-")) / "store"), OnnxEmbeddings())
    index.ensure_demo()
    return index


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"index": _index()}

    @property
    def retriever_query_example(self) -> str:
        return "How many people were killed in the clashes?"


class _OurEmbeddings:
    """The embeddings the index uses, built as a user would (the verified bge-small model, no parameters)."""

    @property
    def embeddings_class(self) -> type[OnnxEmbeddings]:
        return OnnxEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {}


class TestOnnxEmbeddingsUnit(_OurEmbeddings, EmbeddingsUnitTests):
    pass


class TestOnnxEmbeddingsIntegration(_OurEmbeddings, EmbeddingsIntegrationTests):
    pass
