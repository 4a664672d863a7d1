"""Loading, chunking, embedding, indexing and retrieval. Knows nothing of conversations."""

from store.chunking import Chunk, chunk_document
from store.config import StoreSettings
from store.documents import Document, LoadError, bundled_document, load_file, text_document
from store.encoders import CrossEncoder, LateInteraction, OnnxEmbeddings
from store.errors import StoreBusy, StoreError, StoreMismatch
from store.index import DocumentInfo, Index
from store.models import ModelError
from store.rebuild import rebuild
from store.retriever import HybridRetriever, Passage, RetrievalOptions
from store.spans import Span
from store.writes import IndexReport

__all__ = [
    "Chunk", "CrossEncoder", "Document", "DocumentInfo", "HybridRetriever", "Index", "IndexReport", "LateInteraction", "LoadError",
    "ModelError", "OnnxEmbeddings", "Passage", "RetrievalOptions", "Span", "StoreBusy", "StoreError", "StoreMismatch", "StoreSettings",
    "bundled_document", "chunk_document", "load_file", "rebuild", "text_document",
]
