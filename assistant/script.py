"""Scripted conversations: the YAML/JSON format, its checks, and the runner tests and benchmarks use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from store import Document, LoadError, load_file, text_document
from store.documents import bundled_document

from assistant.turns import Turn


class ScriptError(ValueError):
    """The script cannot be run; the message names the conversation, turn and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DocumentSpec(_Strict):
    """A file relative to the script, or inline text kept verbatim."""

    path: str | None = None
    title: str | None = None
    text: str | None = None

    @model_validator(mode="after")
    def _one_source(self):
        if (self.path is None) == (self.text is None):
            raise ValueError("give either `path` or `text` (with a `title`)")
        if self.text is not None and not self.title:
            raise ValueError("inline `text` needs a `title`")
        if self.text is not None and not self.text.strip():
            raise ValueError("inline `text` is empty")
        return self


class Expect(_Strict):
    """Checks on a turn; every listed one must hold."""

    answer_contains: list[str] | None = Field(default=None, min_length=1)
    sources_contain: list[str] | None = Field(default=None, min_length=1)
    cited: bool | None = None
    refuses: bool | None = None
    page: int | None = Field(default=None, ge=1)  # a verified citation stands on this page of its PDF


class TurnSpec(_Strict):
    ask: str = Field(min_length=1)
    expect: Expect | None = None


class ConversationSpec(_Strict):
    id: str | None = None
    documents: list[DocumentSpec] | None = Field(default=None, min_length=1)
    turns: list[TurnSpec] = Field(min_length=1)


class Script(_Strict):
    engine: str | None = None
    documents: list[DocumentSpec] | None = Field(default=None, min_length=1)
    conversations: list[ConversationSpec] = Field(min_length=1)


def _where(loc: tuple, data: object) -> str:
    """'conversation casualties, turn 2, field expect.cited' from a pydantic error location."""
    parts: list[str] = []
    rest = list(loc)
    if rest[:1] == ["conversations"] and len(rest) > 1 and isinstance(rest[1], int):
        number = rest[1]
        name = None
        try:
            name = data["conversations"][number].get("id")  # type: ignore[index]
        except (TypeError, KeyError, IndexError, AttributeError):
            pass
        parts.append(f"conversation {name or f'c{number + 1}'}")
        rest = rest[2:]
        if rest[:1] == ["turns"] and len(rest) > 1 and isinstance(rest[1], int):
            parts.append(f"turn {rest[1] + 1}")
            rest = rest[2:]
    field = ".".join(str(p) for p in rest)
    if field:
        parts.append(f"field {field}")
    return ", ".join(parts) or "the script"


def parse_script(source: str, name: str = "script") -> Script:
    """A validated script from YAML or JSON text, or ScriptError saying where and what is wrong."""
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        position = getattr(exc, "position", None)  # a ReaderError: a character YAML does not allow
        if mark:
            where, problem = f" at line {mark.line + 1}", exc.problem
        elif position is not None:
            character = getattr(exc, "character", "")
            shown = f"U+{ord(character):04X}" if isinstance(character, str) and character else repr(character)
            where, problem = f" at line {source.count(chr(10), 0, position) + 1}", f"the character {shown} is not allowed"
        else:
            where, problem = "", exc
        raise ScriptError(f"{name}: not valid YAML or JSON{where}: {' '.join(str(problem).split())}") from None
    if not isinstance(data, dict):
        raise ScriptError(f"{name}: a script is a mapping with a `conversations` list")
    try:
        script = Script.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ScriptError(" ".join(f"{name}: {_where(first['loc'], data)}: {first['msg']}".split())) from None
    ids = [c.id for c in script.conversations if c.id]
    if len(ids) != len(set(ids)):
        raise ScriptError(f"{name}: conversation ids must be unique")
    return script


def load_script(path: Path) -> Script:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScriptError(f"{path}: cannot be read ({exc})") from None
    return parse_script(source, str(path))


def resolve_documents(specs: list[DocumentSpec], base: Path) -> list[Document]:
    """The documents the specs name: files relative to `base`, inline text verbatim."""
    documents = []
    for spec in specs:
        if spec.text is not None:
            documents.append(text_document(spec.text, spec.title or "Untitled"))
            continue
        try:
            document = load_file((base / spec.path).resolve())
        except LoadError as exc:
            raise ScriptError(f"document {spec.path}: {exc.reason}") from None
        documents.append(document.model_copy(update={"title": spec.title}) if spec.title else document)
    return documents


def check_turn(turn: Turn, expect: Expect | None) -> dict[str, bool]:
    """Each listed expectation and whether the turn meets it."""
    if expect is None:
        return {}
    checks: dict[str, bool] = {}
    if expect.answer_contains is not None:
        answer = turn.answer.lower()
        checks["answer_contains"] = any(want.lower() in answer for want in expect.answer_contains)
    if expect.sources_contain is not None:
        texts = [s.text.lower() for s in turn.sources]
        checks["sources_contain"] = any(want.lower() in t for want in expect.sources_contain for t in texts)
    if expect.cited is not None:
        checks["cited"] = any(c.verified for c in turn.citations) == expect.cited
    if expect.refuses is not None:
        checks["refuses"] = turn.refused == expect.refuses
    if expect.page is not None:
        checks["page"] = any(expect.page in c.pages for c in turn.citations if c.verified)
    return checks


class TurnResult(BaseModel):
    """One line of `assistant script --json`."""

    conversation: str
    turn: int
    question: str
    standalone_question: str
    answer: str
    refused: bool
    engine: str
    citations: list[dict]
    sources: list[dict]
    unsupported: list[str]
    reasons: list[str] = []
    checks: dict[str, bool]
    passed: bool
    latency_ms: float
    first_token_ms: float | None = None


def run_script(script: Script, base: Path, assistant_for, indexed: bool = False) -> Iterator[TurnResult]:
    """Run every conversation in its own fresh state; `assistant_for(engine)` gives the assistant to ask.
    `indexed`: every conversation answers from the documents already in the store, and the script names none."""
    if indexed and (script.documents or any(spec.documents for spec in script.conversations)):
        raise ScriptError("the script names documents, but --indexed answers from the store's; drop one of the two")
    shared = resolve_documents(script.documents, base) if script.documents else None
    assistant = assistant_for(script.engine)
    for number, spec in enumerate(script.conversations, start=1):
        name = spec.id or f"c{number}"
        document_ids = None
        if not indexed:
            # no documents: the bundled article, indexed beside the script's others (it is no demo here)
            documents = (resolve_documents(spec.documents, base) if spec.documents else shared) or [bundled_document()]
            assistant.index.add(documents)
            document_ids = [d.id for d in documents]
        assistant.prepare(document_ids)
        conversation_id = None
        for turn_number, turn_spec in enumerate(spec.turns, start=1):
            conversation_id, turn = assistant.ask(turn_spec.ask, conversation_id, documents=document_ids)
            checks = check_turn(turn, turn_spec.expect)
            yield TurnResult(
                conversation=name, turn=turn_number, question=turn.question,
                standalone_question=turn.standalone_question, answer=turn.answer, refused=turn.refused,
                engine=turn.engine, citations=[c.model_dump() for c in turn.citations],
                sources=[s.model_dump() for s in turn.sources], unsupported=turn.unsupported, reasons=turn.reasons,
                checks=checks,
                passed=all(checks.values()), latency_ms=turn.latency_ms, first_token_ms=turn.first_token_ms,
            )


class ScriptAssistants:
    """The assistant for each engine a script asks for, made once: documents go to the store's `scripts`
    collection (unless the script answers from the `indexed` ones), conversations to a throw-away file in
    `scratch`; `override` (the --engine flag) wins."""

    def __init__(self, store, settings, scratch: Path, override: str | None = None, indexed: bool = False):
        self.store = store if indexed else store.model_copy(update={"collection": "scripts"})
        self.settings = settings.model_copy(update={"conversations": scratch / "conversations.sqlite"})
        self.override = override
        self._made: dict[str, object] = {}

    def __call__(self, engine: str | None):
        from assistant.service import Assistant

        chosen = self.override or engine or self.settings.engine
        if chosen not in self._made:
            self._made[chosen] = Assistant(self.store, self.settings.model_copy(update={"engine": chosen}))
        return self._made[chosen]


def to_json_line(result: TurnResult) -> str:
    return json.dumps(result.model_dump(), ensure_ascii=False)
