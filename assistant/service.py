"""The assistant as the CLI, scripts and the UI use it: conversations over an index, persisted in SQLite."""

from __future__ import annotations

import re
import sqlite3
import uuid
from pathlib import Path

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from store import CrossEncoder, HybridRetriever, Index, RetrievalOptions, StoreSettings
from store.config import default_data_dir

from assistant.chain import ConversationGraph
from assistant.engines.base import EngineError
from assistant.engines.extractive import ExtractiveEngine
from assistant.turns import Turn

MAX_QUESTION = 2000
# The best sentence's cross-encoder logit (question alone) below which the documents do not answer;
# calibrated on CoQA CNN dev in benchmarks/coqa_refusal.py.
REFUSE_BELOW = -7.5
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class AssistantSettings(BaseSettings):
    """How the assistant answers and where it keeps conversations (env ASSISTANT_*)."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore")

    engine: str = "extractive"
    conversations: Path = Field(default_factory=lambda: default_data_dir() / "conversations.sqlite")
    refuse_below: float = REFUSE_BELOW
    ollama_model: str = "llama3.2"
    ollama_url: str = "http://127.0.0.1:11434"
    openai_model: str = "gpt-4o-mini"
    openai_base_url: str | None = None  # any OpenAI-compatible server: llama.cpp, vLLM, LM Studio
    openai_api_key: str = "not-needed"
    llm_timeout: float = 60.0


class QuestionError(ValueError):
    """A question that cannot be asked as it is; the message says how to fix it."""


def clean_question(question: str) -> str:
    """The question without terminal escape sequences or control characters, on one line; or QuestionError."""
    cleaned = " ".join(_CONTROL.sub(" ", question).split())
    if not cleaned:
        raise QuestionError("the question is empty; type a question about the documents")
    if len(cleaned) > MAX_QUESTION:
        raise QuestionError(f"the question is {len(cleaned):,} characters long; keep it under {MAX_QUESTION:,}")
    return cleaned


class ConversationInfo(BaseModel):
    id: str
    turns: int
    first_question: str


class Assistant:
    """Answers questions in conversations that persist across runs."""

    def __init__(self, store_settings: StoreSettings, settings: AssistantSettings, checkpointer=None,
                 index: Index | None = None, cross_encoder: CrossEncoder | None = None, chat_model=None):
        """`chat_model` replaces the configured LLM (tests pass a fake one); the extractive engine needs none."""
        self.settings = settings
        self.index = index or Index(store_settings)
        self.index.ensure_bundled()
        encoder = cross_encoder or CrossEncoder()
        retriever = HybridRetriever(index=self.index, options=RetrievalOptions(rerank=False), cross_encoder=encoder)
        scorer = ExtractiveEngine(encoder, settings.refuse_below)
        self.engine = scorer if settings.engine == "extractive" else make_llm_engine(settings, scorer, chat_model)
        if checkpointer is None:
            checkpointer = _sqlite_checkpointer(settings.conversations)
        self.checkpointer = checkpointer
        self.chain = ConversationGraph(self.index, retriever, self.engine, checkpointer,
                                       rewrite=getattr(self.engine, "rewrite", None), corpus_noun=self._noun)

    def _noun(self, documents: list[str] | None) -> str:
        count = len(documents) if documents else len(self.index.documents())
        return "article" if count == 1 else "documents"

    def ask(self, question: str, conversation_id: str | None = None, documents: list[str] | None = None) -> tuple[str, Turn]:
        """Answer a question in a conversation (a new one without an id); returns the id and the turn."""
        question = clean_question(question)
        conversation_id = conversation_id or new_conversation_id()
        return conversation_id, self.chain.ask(conversation_id, question, documents)

    def turns(self, conversation_id: str) -> list[Turn]:
        return self.chain.turns(conversation_id)

    def conversations(self) -> list[ConversationInfo]:
        """Stored conversations, most recent first."""
        seen: dict[str, None] = {}
        for checkpoint in self.checkpointer.list(None):
            seen.setdefault(checkpoint.config["configurable"]["thread_id"], None)
        infos = []
        for thread in seen:
            turns = self.turns(thread)
            if turns:
                infos.append(ConversationInfo(id=thread, turns=len(turns), first_question=turns[0].question))
        return infos


def make_llm_engine(settings: AssistantSettings, scorer: ExtractiveEngine, chat_model=None):
    """An LLM engine for `settings.engine` (ollama, openai), or around the given chat model."""
    from assistant.engines.llm import LLMEngine

    if chat_model is not None:
        return LLMEngine(chat_model, settings.engine, type(chat_model).__name__, scorer)
    if settings.engine == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError:
            raise EngineError("the ollama engine needs its extra: pip install 'evidence-assistant[ollama]'") from None
        model = ChatOllama(model=settings.ollama_model, base_url=settings.ollama_url, temperature=0,
                           client_kwargs={"timeout": settings.llm_timeout})
        return LLMEngine(model, "ollama", settings.ollama_model, scorer)
    if settings.engine == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError:
            raise EngineError("the openai engine needs its extra: pip install 'evidence-assistant[openai]'") from None
        model = ChatOpenAI(model=settings.openai_model, base_url=settings.openai_base_url, api_key=settings.openai_api_key,
                           temperature=0, timeout=settings.llm_timeout, max_retries=1)
        return LLMEngine(model, "openai", settings.openai_model, scorer)
    if settings.engine == "local":
        raise EngineError("the local engine is not available yet; use --engine extractive, ollama or openai")
    raise EngineError(f"unknown engine {settings.engine!r}; choose extractive, ollama or openai")


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:12]


def _sqlite_checkpointer(path: Path):
    from langgraph.checkpoint.sqlite import SqliteSaver

    path.parent.mkdir(parents=True, exist_ok=True)
    return SqliteSaver(sqlite3.connect(str(path), check_same_thread=False))
