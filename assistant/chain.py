"""The conversation graph: resolve the question → retrieve → answer → verify citations, checkpointed per conversation."""

from __future__ import annotations

import operator
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Annotated, Any, TypedDict, TypeVar

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from store import Document, HybridRetriever, Index, Passage, Span
from store.retriever import reciprocal_rank_fusion, sigmoid

from assistant.analysis import QuestionAnalysis, analyse
from assistant.citations import verify_quotes
from assistant.engines.base import AnswerEngine, Draft, EngineError, Evidence, Quote, TurnCancelled
from assistant.engines.extractive import rank_passages
from assistant.followup import keeps_question, resolve_followup
from assistant.turns import Source, Turn

SpanT = TypeVar("SpanT", bound=Span)

PASSAGES = 6  # passages the engine sees and the user is shown


class ConversationState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: Annotated[list[dict], operator.add]  # every finished Turn, as stored (read with Turn(**t))
    documents: list[str] | None  # restricts retrieval to these documents
    focus: list[str] | None  # ... and this turn to these: the ones the question names, or the last answer's
    question: str
    asked: str  # the question as the engine answers it: without the words that name its document
    standalone_question: str
    sources: list[Passage]  # retrieved, then ordered as shown
    draft: Draft
    analysis: QuestionAnalysis  # of the latest question (the next one may inherit from it)
    title: str  # the name the user gave the conversation ("": none, it goes by its first question)


# the types a checkpoint may hold besides plain data: nothing else is rebuilt when a conversation is read back
CHECKPOINT_TYPES = (Passage, Draft, Quote, QuestionAnalysis)


def _analysis(state: ConversationState) -> QuestionAnalysis | None:
    """The latest question's analysis (kept as a dict by conversations stored before the state was typed)."""
    analysis = state.get("analysis")
    return QuestionAnalysis(**analysis) if isinstance(analysis, dict) else analysis


def _does(noun: str) -> str:
    return "do" if noun.endswith("s") else "does"


def _in_scope(state: ConversationState) -> list[str] | None:
    """The documents this turn answers from: the ones it is about, else the conversation's (None: every one)."""
    return state["focus"] if state.get("focus") is not None else state.get("documents")


def finished_turns(state: ConversationState) -> list[Turn]:
    """The conversation's answered turns, oldest first (cancelled and failed ones are not its history)."""
    return [turn for turn in map(Turn.model_validate, state.get("turns", [])) if turn.status == "ok"]


def history_pairs(turns: Sequence[Turn]) -> list[tuple[str, str]]:
    return [(t.question, t.answer) for t in turns]


def first_citations(turns: Sequence[Turn]) -> list[tuple[str, int]]:
    """(document, start) of each answer's first citation, oldest first: where the conversation has been."""
    return [(t.citations[0].document_id, t.citations[0].start) for t in turns if t.citations]


class ConversationGraph:
    """Builds and runs the graph; the engine and retriever live here, the state holds only plain data."""

    def __init__(
        self,
        index: Index,
        retriever: HybridRetriever,
        engine: AnswerEngine,
        checkpointer,
        rewrite: Callable[[str, list[tuple[str, str]]], str] | None = None,  # an LLM's follow-up rewriter
        corpus_noun: Callable[[list[str] | None], str] = lambda docs: "article",
    ):
        self.index = index
        self.retriever = retriever
        self.engine = engine
        self.rewrite = rewrite
        self.corpus_noun = corpus_noun
        self.on_token: Callable[[str], None] | None = None  # default for ask(); `assistant ask` streams with it
        self._call = threading.local()
        self._lock = threading.Lock()  # one turn at a time per graph: the engines keep no per-turn state
        self._documents: dict[str, Document | None] = {}
        graph = StateGraph(ConversationState)
        graph.add_node("resolve", self._resolve)
        graph.add_node("retrieve", self._retrieve)
        graph.add_node("answer", self._answer)
        graph.add_node("verify", self._verify)
        graph.add_edge(START, "resolve")
        graph.add_edge("resolve", "retrieve")
        graph.add_edge("retrieve", "answer")
        graph.add_edge("answer", "verify")
        graph.add_edge("verify", END)
        self.graph = graph.compile(checkpointer=checkpointer)

    # --- nodes ---------------------------------------------------------------------------

    def _resolve(self, state: ConversationState) -> dict:
        history = history_pairs(finished_turns(state))
        question = state["question"]
        previous = _analysis(state) if history else None
        analysis = analyse(question, previous)
        focus = self._focus(analysis, state)
        # "In the Wi-Fi article, how far ...?" once the article is chosen asks "How far ...?"
        asked = analysis.asks if focus and analysis.asks else question
        standalone = self.rewrite(asked, history) if self.rewrite and history else None
        if standalone is None or not keeps_question(asked, standalone):
            standalone = resolve_followup(asked, history)
        return {"standalone_question": standalone, "asked": asked, "analysis": analysis, "focus": focus}

    def _focus(self, analysis: QuestionAnalysis, state: ConversationState) -> list[str] | None:
        """In a conversation over several documents, the ones this turn is about: those the question names ("in
        the Wi-Fi article", "biblatex.pdf"); else for a question that leans on the last turn ("And the short
        one?", "this document") the document of the last answer, unless the question's words name others by
        their titles; else those ("In hyperref, …"); None: all of the conversation's."""
        documents = state.get("documents")
        scope = documents if documents is not None else list(self.index.catalog().titles)  # (read at most once a second)
        if len(scope) < 2:
            return None
        # "the biblatex manual", "biblatex.pdf": named by title or file name; "In hyperref, …": by words that only a
        # few documents' titles or files bear; "the Wi-Fi article": by the text that best matches the phrase
        named = self._named(analysis.documents_named, scope, by_name=True)
        titled = [] if named else self.retriever.documents_titled(analysis.words, scope, analysis.proper)
        if not named and not titled:
            named = self._named(analysis.documents_named, scope, by_name=False)
        if named:
            return named
        cited = first_citations(finished_turns(state))
        last = cited[-1][0] if cited else None
        if (analysis.depends_on_previous or analysis.this_document) and last in scope and (not titled or last in titled):
            return [last]  # "And for URLs?", "What is this document about?": the last answer's document
        return titled or None

    def _named(self, phrases: list[str], scope: list[str], by_name: bool) -> list[str]:
        named: list[str] = []
        for phrase in phrases:
            document = self.retriever.document_named(phrase, scope, by_name=by_name)
            if document is not None and document not in named:
                named.append(document)
        return named

    def _retrieve(self, state: ConversationState) -> dict:
        self._check_stop()
        question, query = state["asked"], state["standalone_question"]
        documents = _in_scope(state)
        depth = self.retriever.options.candidates
        rankings = [self.retriever.search(query, k=depth, document_ids=documents)]
        if query != question:
            rankings.append(self.retriever.search(question, k=depth, document_ids=documents))
        fused = reciprocal_rank_fusion(rankings, key=lambda p: p.chunk_id)
        passages = [p for p, _ in fused[: PASSAGES * 2]]
        return {"sources": passages}

    def _document(self, document_id: str) -> Document | None:
        if document_id not in self._documents:
            self._documents[document_id] = self.index.document(document_id)
        return self._documents[document_id]

    def _document_text(self, document_id: str) -> str:
        document = self._document(document_id)
        return document.text if document else ""

    def _unknown_names(self, analysis: QuestionAnalysis | None, documents: list[str] | None) -> list[str]:
        """The names the question uses that none of the documents it is asked of holds (by any word of them)."""
        if analysis is None or not analysis.proper:
            return []
        lexical = self.retriever.lexical_index()
        unknown = []
        for name in analysis.proper:
            holders = lexical.documents_with(name, alike=True)  # a misspelt name is no unknown one
            if documents is not None:
                holders &= set(documents)
            # (an acronym may be spelled out in the text: "the IMF", "the International Monetary Fund")
            if (not holders and re.search(r"[^\W\d_]{3,}", name) and not re.fullmatch(r"[A-Z]{2,6}s?", name)
                    and name.lower() not in {"the", "and", "for", "this", "that"}):
                unknown.append(name)
        return unknown

    def _paged(self, span: SpanT) -> SpanT:
        """The span with the pages it stands on, if its document has pages."""
        document = self._document(span.document_id)
        pages = document.pages(span.start, span.end) if document else []
        return span.model_copy(update={"pages": pages}) if pages else span

    def _answer(self, state: ConversationState) -> dict:
        passages = state["sources"]
        turns = finished_turns(state)
        evidence = Evidence(
            question=state["asked"],
            query=state["standalone_question"],
            passages=passages,
            document_text=self._document_text,
            history=history_pairs(turns),
            cited=first_citations(turns),
            quoted=[(c.document_id, c.start) for t in turns for c in t.citations],
            documents=_in_scope(state),
            analysis=_analysis(state),
        )
        self._check_stop()
        if self._unknown_names(evidence.analysis, evidence.documents):
            # "What about Tokyo?" where no document names Tokyo: nothing in them can answer it
            return {"sources": passages[:PASSAGES], "draft": Draft(text="", quotes=[], refused=True)}
        draft = self.engine.answer(evidence, self._token_sink())
        # Show first the passages holding the best-scored sentences (the runner-ups often hold the answer);
        # a passage's score becomes its best sentence's (0..1), so order and scores agree.
        ranked = rank_passages(passages, draft.ranked) if draft.ranked else []
        if ranked:
            passages = [p.model_copy(update={"score": round(sigmoid(s), 6) if s is not None else 0.0}) for p, s in ranked]
        return {"sources": passages[:PASSAGES], "draft": replace(draft, ranked=[])}  # the ranking is not kept

    def _verify(self, state: ConversationState) -> dict:
        draft = state["draft"]
        self._check_stop(draft.text)
        sources = [self._paged(Source(rank=i, **passage.model_dump(exclude={"page"})))
                   for i, passage in enumerate(state["sources"], start=1)]
        if draft.refused:
            noun = self.corpus_noun(_in_scope(state))
            if draft.text:  # what the documents do say about it, cited
                citations, unsupported = verify_quotes(draft.text, draft.quotes, self._document_text)
                answer = f"The {noun} {_does(noun)} not say. {draft.text}"
            else:
                answer = f"The {noun} {_does(noun)} not say. The closest passages are listed as sources."
                citations, unsupported = [], []
        else:
            answer = draft.text
            citations, unsupported = verify_quotes(answer, draft.quotes, self._document_text)
        citations = [self._paged(c) for c in citations]
        turn = Turn(
            question=state["question"], standalone_question=state["standalone_question"], answer=answer,
            refused=draft.refused, engine=self.engine.name, citations=citations, sources=sources,
            unsupported=[sentence for sentence, _ in unsupported], reasons=[reason for _, reason in unsupported],
        )
        return {
            "turns": [turn.model_dump()],
            "messages": [HumanMessage(state["question"]), AIMessage(answer)],
        }

    # --- running -------------------------------------------------------------------------

    def _check_stop(self, partial: str = "") -> None:
        should_stop = getattr(self._call, "should_stop", None)
        if should_stop is not None and should_stop():
            raise TurnCancelled(partial or getattr(self._call, "partial", ""))

    def _token_sink(self) -> Callable[[str], None]:
        on_token = getattr(self._call, "on_token", None)
        self._call.partial = ""

        def sink(delta: str) -> None:
            self._check_stop()  # a token that comes after the stop is not part of the kept answer
            if not self._call.partial:
                self._call.first_token = time.perf_counter()
            self._call.partial += delta
            if on_token:
                on_token(delta)

        return sink

    def ask(self, conversation_id: str, question: str, documents: list[str] | None = None,
            on_token: Callable[[str], None] | None = None, should_stop: Callable[[], bool] | None = None) -> Turn:
        """Run one turn of the conversation and return it, timed.

        `on_token` receives the answer as it is written; `should_stop` is polled between steps and tokens, and
        when it says so the turn stops with TurnCancelled. Neither that nor an EngineError stores the turn; both
        carry the partial answer.
        """
        started = time.perf_counter()
        with self._lock:
            self._call.on_token = on_token or self.on_token
            self._call.should_stop = should_stop
            self._call.partial = ""
            self._call.first_token = None
            try:
                self._documents.clear()  # documents may have been re-indexed since the last turn
                config = {"configurable": {"thread_id": conversation_id}}
                update: dict[str, Any] = {"question": question}
                if documents is not None:
                    update["documents"] = documents
                state = self.graph.invoke(update, config)
            except EngineError as exc:  # like TurnCancelled, it carries the answer as far as it got
                exc.partial = self._call.partial
                raise
            finally:
                self._call.on_token = self._call.should_stop = None
        turn = Turn(**state["turns"][-1])
        turn.latency_ms = round((time.perf_counter() - started) * 1000, 1)
        if self._call.first_token is not None:
            turn.first_token_ms = round((self._call.first_token - started) * 1000, 1)
        return turn

    def record(self, conversation_id: str, turn: Turn) -> None:
        """Store a turn that did not run to its end (cancelled or failed), so the transcript shows it; later turns
        do not treat it as history."""
        self.graph.update_state({"configurable": {"thread_id": conversation_id}}, {"turns": [turn.model_dump()]},
                                as_node="verify")

    def turns(self, conversation_id: str) -> list[Turn]:
        return [Turn(**t) for t in self.state(conversation_id).get("turns", [])]

    def analysis(self, conversation_id: str) -> QuestionAnalysis | None:
        """How the conversation's latest question was read (None before its first)."""
        return _analysis(self.state(conversation_id))

    def state(self, conversation_id: str) -> ConversationState:
        """The conversation's latest state ({} for one never stored)."""
        return self.state_at(conversation_id)[0]

    def state_at(self, conversation_id: str) -> tuple[ConversationState, str | None]:
        """The latest state and when it was stored (ISO 8601; None: never stored)."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": conversation_id}})
        return snapshot.values or {}, snapshot.created_at

    def update(self, conversation_id: str, **values: Any) -> None:
        """Set the conversation's title or documents, kept from now on (no turn runs)."""
        self.graph.update_state({"configurable": {"thread_id": conversation_id}}, values, as_node="verify")
