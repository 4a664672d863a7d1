"""The assistant as the CLI, scripts and the UI use it: conversations over an index, persisted in SQLite."""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from store import CrossEncoder, HybridRetriever, Index, LateInteraction, Passage, RetrievalOptions, StoreSettings

from assistant.analysis import QuestionAnalysis, analyse
from assistant.chain import ConversationGraph
from assistant.citations import recheck
from assistant.console import UserError, when
from assistant.engines.base import EngineError, TurnCancelled
from assistant.engines.extractive import ExtractiveEngine
from assistant.questions import MAX_QUESTION, QuestionError, clean_question, one_line  # noqa: F401  (the service's API)
from assistant.settings import REFUSE_BELOW, AssistantSettings, local_model_path  # noqa: F401  (likewise)
from assistant.turns import Turn

logger = logging.getLogger(__name__)

# Small local models phrase an answer from the scorer's best sentences rather than choose among passages
# (they pick the right sentence poorly: 0.20 of follow-ups for the 0.5B when given the top five).
LOCAL_EVIDENCE_SENTENCES = 2


class AddResult(BaseModel):
    documents: list[tuple[str, str]]  # (id, title) of every file that loaded
    added: list[str]
    updated: list[str]
    removed: list[str] = []  # documents whose files are gone from a re-indexed folder
    chunks: int
    failures: list[str]  # one sentence per path that could not be indexed


class ConversationInfo(BaseModel):
    id: str
    title: str  # the name the user gave it, else its first question
    turns: int
    first_question: str
    updated: str  # when it last changed (ISO 8601, UTC)
    documents: list[str] | None = None  # the documents it answers from (None: every indexed one)
    said: str = Field("", exclude=True, repr=False)  # its title, questions and answers, casefolded

    def matches(self, search: str) -> bool:
        """Whether its title, questions or answers hold every word of `search`, in any case."""
        return all(word in self.said for word in search.casefold().split())


class ConversationError(UserError):
    """A conversation that cannot be found or named; the message says what to do (the CLI prints it as any
    user error)."""


MAX_TITLE = 200
MAX_SEARCH = 50  # passages one search may return
PREPARE_DOCUMENTS = 50  # more documents than this are not read back to be prepared: each turn encodes what it needs


class Assistant:
    """Answers questions in conversations that persist across runs."""

    def __init__(self, store_settings: StoreSettings, settings: AssistantSettings, checkpointer=None,
                 index: Index | None = None, cross_encoder: CrossEncoder | None = None, chat_model=None):
        """`chat_model` replaces the configured LLM (tests pass a fake one); the extractive engine needs none."""
        self.settings = settings
        self.index = index or Index(store_settings)
        self.index.ensure_demo()
        encoder = cross_encoder or CrossEncoder(cache=store_settings.cache)
        retriever = HybridRetriever(index=self.index, options=RetrievalOptions(rerank=False), cross_encoder=encoder)
        scorer = ExtractiveEngine(encoder, LateInteraction(cache=store_settings.cache), settings.refuse_below,
                                  embed=self.index.embeddings.embed)
        self._cache = store_settings.cache
        self.engine = (scorer if settings.engine == "extractive" else
                       make_llm_engine(settings, scorer, chat_model, cache=self._cache))
        if checkpointer is None:
            checkpointer = _sqlite_checkpointer(settings.conversations)
        self.checkpointer = checkpointer
        self._retriever, self._scorer, self._chat_model = retriever, scorer, chat_model
        self.chain = self._graph()

    def _graph(self) -> ConversationGraph:
        rewrite = self.engine.rewrite if getattr(self.engine, "rewrites", False) else None
        return ConversationGraph(self.index, self._retriever, self.engine, self.checkpointer,
                                 rewrite=rewrite, corpus_noun=self._noun)

    def switch_engine(self, name: str) -> None:
        """Answer with another engine from now on; EngineError (and no change) if it cannot be used."""
        settings = self.settings.model_copy(update={"engine": name})
        engine = (self._scorer if name == "extractive" else
                  make_llm_engine(settings, self._scorer, self._chat_model, cache=self._cache))
        previous, self.settings, self.engine = self.engine, settings, engine
        self.chain = self._graph()
        if previous is not engine and hasattr(previous, "close"):
            previous.close()  # an LLM engine: the local engine's model process is not left running

    @property
    def engine_model(self) -> str:
        return getattr(self.engine, "model", "")

    def document_text(self, document_id: str) -> str:
        document = self.index.document(document_id)
        return document.text if document else ""

    def add_paths(self, paths: Sequence[str | Path], progress=None, fetching=None) -> AddResult:
        """Load and index files, folders and web pages (http(s) URLs), and prepare them for questions; the good
        ones are indexed, the bad ones reported. A string that is no URL is a path (`~` is the home folder).
        `progress` and `fetching` are told how the embedding and each page's download go (`Index.add_paths`)."""
        documents, report, failures = self.index.add_paths(paths, progress, fetching)
        self._scorer.prepare([d.text for d in documents])  # the texts are in hand; too many sentences: skipped
        return AddResult(documents=[(d.id, d.title) for d in documents], added=list(report.added),
                         updated=list(report.updated), removed=list(report.removed), chunks=report.chunks_embedded,
                         failures=[str(f) for f in failures])

    def search(self, query: str, k: int = 4, documents: Sequence[str] | None = None) -> list[Passage]:
        """The k passages that best match the query (reranked, as `assistant search` finds them), each with the pages
        of a PDF it stands on; only from `documents` when given. UserError for an empty query, a bad k or an
        unknown document."""
        query = " ".join(query.split())
        if not query:
            raise UserError("the query is empty; give some words to search for")
        if not 1 <= k <= MAX_SEARCH:
            raise UserError(f"k is {k}; ask for 1 to {MAX_SEARCH} passages")
        if documents is not None:
            unknown = sorted(set(documents) - {d.id for d in self.index.documents()})
            if unknown:
                raise UserError(f"no document {', '.join(unknown)}; the documents tool lists the ids")
        retriever = HybridRetriever(index=self.index, k=k, cross_encoder=self._scorer.cross_encoder,
                                    document_ids=list(documents) if documents is not None else None)
        passages = retriever.search(query)
        texts = {p.document_id: self.index.document(p.document_id) for p in passages}
        return [p.model_copy(update={"pages": texts[p.document_id].pages(p.start, p.end)}) if texts[p.document_id] else p
                for p in passages]

    def watch(self, paths: Sequence[str | Path], on_change: Callable[[AddResult], None], stop: threading.Event,
              on_ready: Callable[[], None] | None = None) -> None:
        """Keep the index in step with these files and folders until `stop` is set: what changed while nobody
        watched first, then each change as it happens (store.watch), told to `on_change` when it changed anything;
        the changed documents are prepared for questions."""
        from store.watch import keep_in_step

        def changed(documents, report, failures) -> None:
            fresh = [d for d in documents if d.id in report.added or d.id in report.updated]
            self._scorer.prepare([d.text for d in fresh])
            if fresh or report.removed or failures:
                on_change(AddResult(documents=[(d.id, d.title) for d in fresh], added=list(report.added),
                                    updated=list(report.updated), removed=list(report.removed),
                                    chunks=report.chunks_embedded, failures=[str(f) for f in failures]))

        changed(*self.index.add_paths(paths))
        keep_in_step(self.index, paths, lambda synced: changed(synced.documents, synced.report, synced.failures),
                     stop, on_ready)

    def warm_up(self) -> None:
        """Load the models and the lexical index now rather than on the first question."""
        self._retriever.search("warm up", k=1)
        self._scorer.cross_encoder.score("warm up", ["warm up"])
        self._scorer.late.score("warm up", ["warm up"])
        analyse("What is this about?")  # loads and checks the spaCy pipeline

    def prepare(self, documents: list[str] | None = None) -> None:
        """Encode these documents' sentences (all documents if not given, when few enough) for the sentence scorer
        now, so that the first question about them does not wait for it."""
        ids = documents if documents is not None else [d.id for d in self.index.documents()]
        if len(ids) <= PREPARE_DOCUMENTS:
            self._scorer.prepare([self.document_text(i) for i in ids])

    def _noun(self, documents: list[str] | None) -> str:
        """What to call the documents a turn answers from: "article" for one news text (given as text or a web
        page), "document" for one file, else "documents"."""
        catalog = self.index.catalog()
        ids = documents if documents is not None else list(catalog.titles)
        if len(ids) != 1:
            return "documents"
        source = catalog.sources.get(ids[0], "")
        return "article" if source in ("", "inline", "bundled") or "://" in source else "document"

    def ask(self, question: str, conversation_id: str | None = None, documents: list[str] | None = None,
            on_token=None, should_stop=None) -> tuple[str, Turn]:
        """Answer a question in a conversation (a new one without an id); returns the id and the turn.
        `on_token` and `should_stop` stream and cancel the turn (see ConversationGraph.ask)."""
        question = clean_question(question)
        conversation_id = conversation_id or new_conversation_id()
        try:
            return conversation_id, self.chain.ask(conversation_id, question, documents, on_token, should_stop)
        except TurnCancelled as exc:
            self._keep_stopped(conversation_id, question, exc.partial, "cancelled")
            raise
        except EngineError as exc:  # unreachable, timed out, cut off mid-stream: the turn is kept as failed
            exc.conversation_id = conversation_id
            self._keep_stopped(conversation_id, question, exc.partial, "failed", str(exc))
            raise

    def _keep_stopped(self, conversation_id: str, question: str, partial: str, status: str, error: str | None = None):
        """Keep a cancelled or failed turn in the conversation, with the answer as far as it got."""
        turn = Turn(question=question, standalone_question=question, answer=partial, engine=self.engine.name,
                    status=status, error=error)
        try:
            self.chain.record(conversation_id, turn)
        except Exception:  # the conversation store is failing too: the turn's own error is the one to report
            logger.exception("could not store the %s turn of %s", status, conversation_id)

    def turns(self, conversation_id: str) -> list[Turn]:
        """The conversation's turns as they are shown, resumed or exported: each citation checked against its
        document as indexed now (a quote its changed document no longer holds there is stale: `citations.recheck`)."""
        return recheck(self.chain.turns(conversation_id), self.index.document, self._indexed_on)

    def _indexed_on(self, document_id: str) -> str:
        info = next((d for d in self.index.documents() if d.id == document_id), None)
        return when(info.indexed_at) if info is not None and info.indexed_at else "an unknown date"

    def analysis(self, conversation_id: str) -> QuestionAnalysis | None:
        """How the conversation's latest question was read: its rule, intent, expected answer (see `explanation`)."""
        return self.chain.analysis(conversation_id)

    def conversations(self, search: str = "") -> list[ConversationInfo]:
        """Stored conversations, most recent first; with `search`, those whose title, questions or answers hold
        every one of its words (in any case)."""
        updated: dict[str, str] = {}
        for checkpoint in self.checkpointer.list(None):
            updated.setdefault(checkpoint.config["configurable"]["thread_id"], checkpoint.checkpoint["ts"])
        infos = []
        for thread, at in sorted(updated.items(), key=lambda item: item[1], reverse=True):
            info = _conversation_info(thread, self.chain.state(thread), at)
            if info is not None and info.matches(search):
                infos.append(info)
        return infos

    def conversation(self, conversation_id: str) -> ConversationInfo:
        """One stored conversation, or ConversationError."""
        state, at = self.chain.state_at(conversation_id)
        info = _conversation_info(conversation_id, state, at) if at else None
        if info is None:
            raise ConversationError(f"no conversation {conversation_id}; see `assistant history` for the ids")
        return info

    def rename(self, conversation_id: str, title: str) -> None:
        """Name a conversation (an empty title: it goes by its first question again)."""
        title = one_line(title)
        if len(title) > MAX_TITLE:
            raise ConversationError(f"the title is {len(title)} characters long; keep it under {MAX_TITLE}")
        self.conversation(conversation_id)
        self.chain.update(conversation_id, title=title)

    def delete(self, conversation_id: str) -> None:
        """Delete a conversation and every checkpoint of it, for good."""
        self.conversation(conversation_id)
        self.checkpointer.delete_thread(conversation_id)

    def documents_of(self, conversation_id: str) -> list[str] | None:
        """The documents a stored conversation answers from (None: every indexed one)."""
        return self.chain.state(conversation_id).get("documents")

    def set_documents(self, conversation_id: str, documents: list[str] | None) -> None:
        """The documents a stored conversation answers from from now on (None: every indexed one)."""
        self.chain.update(conversation_id, documents=documents)


def _conversation_info(thread: str, state: dict, updated: str) -> ConversationInfo | None:
    """What a conversation list shows of a stored state (None: it has no turn)."""
    turns = [Turn(**t) for t in state.get("turns", [])]
    if not turns:
        return None
    title = state.get("title") or turns[0].question
    return ConversationInfo(id=thread, title=title, turns=len(turns), first_question=turns[0].question,
                            updated=updated, documents=state.get("documents"),
                            said=" ".join([title, *(f"{t.question} {t.answer}" for t in turns)]).casefold())


def make_llm_engine(settings: AssistantSettings, scorer: ExtractiveEngine, chat_model=None, *, cache: Path):
    """An LLM engine for `settings.engine` (ollama, openai, local), or around the given chat model; `cache` keeps
    the local engine's verdicts on llama.cpp's CPU modules."""
    from assistant.engines.llm import LLMEngine

    if chat_model is not None:
        return LLMEngine(chat_model, settings.engine, type(chat_model).__name__, scorer, style=settings.answer_style)
    # the ways to reach a served model: LangChain's init_chat_model builds the provider's chat model
    served = {
        "ollama": (settings.ollama_model, {"base_url": settings.ollama_url,
                                           "client_kwargs": {"timeout": settings.llm_timeout}}),
        "openai": (settings.openai_model, {"base_url": settings.openai_base_url, "api_key": settings.openai_api_key,
                                           "timeout": settings.llm_timeout, "max_retries": 1}),
    }
    if settings.engine in served:
        from langchain.chat_models import init_chat_model

        name, options = served[settings.engine]
        try:
            model = init_chat_model(name, model_provider=str(settings.engine), temperature=0, **options)
        except ImportError:
            raise EngineError(f"the {settings.engine} engine needs its extra: "
                              f"pip install 'evidence-assistant[{settings.engine}]'") from None
        return LLMEngine(model, str(settings.engine), name, scorer, style=settings.answer_style)
    if settings.engine == "local":
        path = local_model_path(settings)
        if path is None:
            raise EngineError("no local model is installed: run `assistant model install 0.5b`, or give --model FILE.gguf")
        if not path.is_file():
            raise EngineError(f"the model file {path} does not exist; check --model or ASSISTANT_LOCAL_MODEL")
        import importlib.util

        from assistant.engines.llamacpp import LlamaCppChat

        if importlib.util.find_spec("llama_cpp") is None:  # not imported here: llama.cpp runs in its own process
            raise EngineError("the local engine needs llama.cpp: run `make setup-local` (or see the README)")
        # the first token also waits for the model to load: twice the wait of the next ones, two minutes at least
        model = LlamaCppChat(model_path=str(path), n_threads=settings.local_threads, module_cache=cache,
                             token_timeout=settings.llm_timeout,
                             first_token_timeout=max(120.0, 2 * settings.llm_timeout))
        return LLMEngine(model, "local", path.name, scorer, sentences=LOCAL_EVIDENCE_SENTENCES,
                         rewrites=settings.local_rewrite, style=settings.answer_style)
    raise EngineError(f"unknown engine {settings.engine!r}; choose extractive, local, ollama or openai")


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:12]


def _sqlite_checkpointer(path: Path):
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
    from langgraph.checkpoint.sqlite import SqliteSaver

    from assistant.chain import CHECKPOINT_TYPES

    path.parent.mkdir(parents=True, exist_ok=True)
    # a conversation read back rebuilds only our own state's types (and LangChain's messages), nothing a
    # tampered file names
    serde = JsonPlusSerializer(allowed_msgpack_modules=CHECKPOINT_TYPES)
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False), serde=serde)
