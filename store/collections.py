"""Which Chroma collections hold a corpus: a set of three (chunk vectors, document records, document texts),
found through a pointer so that a rebuilt set replaces the old one in one step.

A corpus called `documents` starts as the set `documents` (the layout of stores made before sets had pointers);
a rebuild writes the set `documents.r<token>` beside it and then points `documents-current` at it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from store.errors import StoreMismatch

SCHEMA_VERSION = 1


def demo_corpus(corpus: str) -> str:
    """The bundled article's own corpus beside the user's `corpus`: answered from only while that one is empty."""
    return f"{corpus}.demo"


@dataclass(frozen=True)
class CollectionSet:
    """The three collections of one version of a corpus."""

    name: str
    chunks: Any
    documents: Any
    texts: Any


def build_signature(embeddings, settings) -> dict[str, str | int]:
    """What a set's vectors depend on: recorded on its collections, checked whenever they are opened."""
    return {
        "embedding_model": embeddings.name,
        "embedding_dimension": embeddings.dimension,
        "chunk_size": settings.chunk_size,
        "chunk_overlap": settings.chunk_overlap,
        "schema_version": SCHEMA_VERSION,
    }


def member_names(name: str) -> tuple[str, str, str]:
    return name, f"{name}-documents", f"{name}-texts"


def collection_names(client) -> set[str]:
    return {c if isinstance(c, str) else c.name for c in client.list_collections()}


def _pointer_name(corpus: str) -> str:
    return f"{corpus}-current"


def pointed_set(client, corpus: str) -> str | None:
    """The name of the set the corpus's pointer leads to; None before its first rebuild (or, for the demo, before
    it was made)."""
    if not exists(client, _pointer_name(corpus)):
        return None
    return (client.get_collection(_pointer_name(corpus), embedding_function=None).metadata or {}).get("set")


def point_at(client, corpus: str, name: str) -> None:
    """Make the corpus the set `name`: one metadata write, so a reader sees the old set or the new one."""
    pointer = client.get_or_create_collection(_pointer_name(corpus), embedding_function=None)
    pointer.modify(metadata={"set": name})


def new_set_name(corpus: str) -> str:
    return f"{corpus}.r{uuid.uuid4().hex[:8]}"


def first_set_name(corpus: str) -> str:
    """The set a corpus made with a pointer starts as: the same for every process that makes it."""
    return f"{corpus}.r00000000"


def exists(client, name: str) -> bool:
    return name in collection_names(client)


def unused_sets(client, corpus: str) -> list[str]:
    """Sets of the corpus no pointer leads to: the old set after a switch, or a rebuild a kill cut short."""
    current = pointed_set(client, corpus) or corpus
    rebuilt = re.compile(re.escape(corpus) + r"(\.r[0-9a-f]{8})?")
    return sorted(n for n in collection_names(client) if rebuilt.fullmatch(n) and n != current)


def delete_set(client, name: str) -> None:
    names = collection_names(client)
    for member in member_names(name):
        if member in names:
            client.delete_collection(member)


def open_set(client, name: str, signature: dict, location: str) -> CollectionSet:
    """The set `name`, created if it does not exist; StoreMismatch if it was built with another model or chunking."""
    chunks, documents, texts = member_names(name)
    return CollectionSet(
        name=name,
        chunks=_open(client, chunks, signature, location, cosine=True),
        documents=_open(client, documents, signature, location, cosine=False),
        texts=_open(client, texts, signature, location, cosine=False),
    )


def _open(client, name: str, signature: dict, location: str, cosine: bool):
    configuration = {"hnsw": {"space": "cosine"}} if cosine else None
    # embedding_function=None: never let Chroma fall back to its default model, which it would download
    collection = client.get_or_create_collection(
        name, embedding_function=None, metadata=signature, configuration=configuration
    )
    recorded = {key: (collection.metadata or {}).get(key) for key in signature}
    if recorded != signature:
        built = ", ".join(f"{k}={v}" for k, v in recorded.items() if v != signature[k])
        wanted = ", ".join(f"{k}={signature[k]}" for k, v in recorded.items() if v != signature[k])
        raise StoreMismatch(
            f"the index at {location} was built with {built}, but this run uses {wanted}; "
            "rebuild it with: assistant index --rebuild"
        )
    return collection


def read_documents(client, name: str):
    """The records and text parts of set `name`, without checking how it was built (for a rebuild)."""
    _, documents, texts = member_names(name)
    names = collection_names(client)
    if documents not in names:
        return None, None
    records = client.get_collection(documents, embedding_function=None).get(include=["documents", "metadatas"])
    parts = (client.get_collection(texts, embedding_function=None).get(include=["documents", "metadatas"])
             if texts in names else None)
    return records, parts
