"""`assistant mcp`: the store and the answering chain served over the Model Context Protocol, so that agents and
editors (Claude Desktop and Code, oterm, Open WebUI…) get answers whose citations are exact, meaning-checked quotes.

Over stdio (what desktop clients launch) or streamable HTTP on a loopback port. Reading tools (`search`, `ask`,
`documents`) are always there; `index` and `remove` only when the server is started with --allow-writes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field, ValidationError

from store import DocumentInfo, LoadError, ModelError, Passage, StoreError

from assistant.console import UserError
from assistant.engines.base import EngineError
from assistant.questions import QuestionError
from assistant.service import AddResult, Assistant, ConversationError
from assistant.turns import Citation

WRITE_TOOLS = ("index", "remove")
# what a user can cause, told to the client in the message's own one sentence
_TOLD = (UserError, QuestionError, ConversationError, LoadError, ModelError, StoreError, EngineError)
T = TypeVar("T")


class Found(BaseModel):
    """The passages a search found, best first."""

    query: str
    passages: list[Passage] = Field(description="each an exact span of its document: document_id, start, end (character "
                                                "offsets), text, pages (a PDF's), title and score")


class Unsupported(BaseModel):
    """A sentence of the answer that no verified quote backs, and why."""

    sentence: str
    reason: str


class Answered(BaseModel):
    """An answer with its evidence."""

    conversation: str = Field(description="pass it to ask again to follow up in this conversation")
    answer: str = Field(description="the answer, its claims marked [n] for citations[n-1]")
    refused: bool = Field(description="the documents do not say: the answer says so, with the closest passages")
    searched: str = Field(description="the query searched: the question with what a follow-up carries over")
    citations: list[Citation] = Field(description="each [n]: an exact quote with its offsets (and pages), verified "
                                                  "against the document's text")
    unsupported: list[Unsupported] = Field(description="answer sentences shown without support, with the reason")


class Documents(BaseModel):
    """The indexed documents."""

    documents: list[DocumentInfo]


class Removed(BaseModel):
    """A document removed from the index."""

    removed: str


def server(assistant: Assistant, *, allow_writes: bool = False) -> MCPServer:
    """The MCP server over `assistant` (its store and engine); `index` and `remove` only with `allow_writes`."""
    lock = threading.Lock()  # tools run in worker threads; the assistant answers one call at a time

    def call(work: Callable[[], T]) -> T:
        with lock:
            try:
                return work()
            except _TOLD as exc:
                raise ToolError(str(exc)) from None

    mcp = _Server("evidence-assistant", allow_writes=allow_writes, instructions=(
        "Answers questions from the user's indexed documents. Every claim of an answer is cited [n] to an exact quote "
        "with its character offsets (and PDF page), checked for meaning; sentences no quote supports are listed as "
        "unsupported with the reason. Use `ask` for answers and follow-ups, `search` for passages, `documents` to see "
        "what is indexed."))

    @mcp.tool()
    def search(query: str, k: int = 4, documents: list[str] | None = None) -> Found:
        """Find the k passages (1-50) that best match the query, as exact quotes with their offsets, pages and scores;
        only from `documents` (ids) when given."""
        return call(lambda: Found(query=" ".join(query.split()), passages=assistant.search(query, k, documents)))

    @mcp.tool()
    def ask(question: str, conversation: str | None = None) -> Answered:
        """Answer a question from the indexed documents, each claim cited to a verified quote; pass the returned
        `conversation` to ask a follow-up ("And the other side?") in the same conversation."""

        def answer() -> Answered:
            if conversation is not None and not assistant.turns(conversation):
                raise UserError(f"no conversation {conversation}; call ask without one to start a conversation")
            conversation_id, turn = assistant.ask(question, conversation)
            return Answered(conversation=conversation_id, answer=turn.answer, refused=turn.refused,
                            searched=turn.standalone_question, citations=turn.citations,
                            unsupported=[Unsupported(sentence=s, reason=r) for s, r in turn.flagged()])

        return call(answer)

    @mcp.tool()
    def documents() -> Documents:
        """List the indexed documents: id, title, source (path or URL), passages and when each was indexed."""
        return call(lambda: Documents(documents=assistant.index.documents()))

    if allow_writes:
        @mcp.tool()
        def index(paths: list[str]) -> AddResult:
            """Index files, folders (.txt, .md, .html, .pdf) and http(s) pages, or update them; the good ones are
            indexed and each bad one is reported in `failures` with the reason."""
            return call(lambda: assistant.add_paths(paths))

        @mcp.tool()
        def remove(document: str) -> Removed:
            """Remove a document (by its id, as `documents` lists it) and all its passages from the index."""

            def drop() -> Removed:
                if not assistant.index.remove(document):
                    raise UserError(f"no document {document}; the documents tool lists the ids")
                return Removed(removed=document)

            return call(drop)

    return mcp


class _Server(MCPServer):
    """An MCPServer that tells a client why a writing tool is missing, rather than that it is unknown, and what is
    wrong with its arguments in one sentence, rather than in pydantic's report."""

    def __init__(self, name: str, *, allow_writes: bool, **settings: Any):
        super().__init__(name, **settings)
        self.allow_writes = allow_writes

    async def call_tool(self, name: str, arguments: dict[str, Any], context=None):
        if name in WRITE_TOOLS and not self.allow_writes:
            raise ToolError(f"this server is read-only, so it cannot {name}; start it with `assistant mcp "
                            "--allow-writes` to let clients index and remove documents")
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            wrong = "; ".join(f"{'.'.join(str(part) for part in error['loc']) or 'the arguments'}: "
                              f"{error['msg'][:1].lower()}{error['msg'][1:]}" for error in exc.__cause__.errors())
            # (the cause stays: the server's log names the fields, not their values)
            raise ToolError(f"{name} was called with bad arguments ({wrong}); see its input schema") from exc.__cause__


def cmd_mcp(args) -> int:
    """`assistant mcp [--http [--port N]] [--allow-writes]`: serve until the client (stdio) or Ctrl+C (HTTP) ends it."""
    import socket

    from assistant.console import assistant_settings, err, store_settings

    if args.http:
        with socket.socket() as probe:  # before the models load: a busy port is the user's to fix, at once
            try:
                probe.bind(("127.0.0.1", args.port))
            except OSError:
                raise UserError(f"port {args.port} on 127.0.0.1 is in use; choose another with --port") from None
    assistant = Assistant(store_settings(args), assistant_settings(args))
    assistant.warm_up()
    mcp = server(assistant, allow_writes=args.allow_writes)
    writes = "clients may index and remove documents" if args.allow_writes else "read-only (--allow-writes to index)"
    if args.http:
        err.print(f"MCP server on http://127.0.0.1:{args.port}/mcp, {writes}; Ctrl+C stops it")
        mcp.run("streamable-http", host="127.0.0.1", port=args.port)
    else:  # standard output is the protocol's: everything else goes to standard error
        err.print(f"MCP server on stdio, {writes}")
        mcp.run()
    return 0
