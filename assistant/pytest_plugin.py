"""A pytest plugin: every conversation in a `*.convo.yaml` file is a test item, run by the script runner.

Installed with the package (entry point `pytest11`), so users' own conversation files are tests too.
A failure reports the turn, the failed checks, the answer and the sources — readable without rerunning.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from assistant.script import Script, ScriptAssistants, ScriptError, TurnResult, load_script, run_script

SUFFIX = ".convo.yaml"


def pytest_collect_file(parent, file_path: Path):
    if file_path.name.endswith(SUFFIX):
        return ConversationFile.from_parent(parent, path=file_path)
    return None


class ConversationFailed(Exception):
    def __init__(self, results: list[TurnResult]):
        self.results = results


def _make_assistants() -> tuple[ScriptAssistants, Path]:
    """One assistant per engine for the whole session, on a throw-away embedded store."""
    from assistant.service import AssistantSettings
    from store import StoreSettings

    folder = Path(tempfile.mkdtemp(prefix="convo-tests-"))
    return ScriptAssistants(StoreSettings(store=folder / "store"), AssistantSettings(), folder), folder


_ASSISTANTS = pytest.StashKey[ScriptAssistants]()


def _assistants(config) -> ScriptAssistants:
    if _ASSISTANTS not in config.stash:
        config.stash[_ASSISTANTS], folder = _make_assistants()
        config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    return config.stash[_ASSISTANTS]


class ConversationFile(pytest.File):
    def collect(self):
        try:
            script = load_script(self.path)
        except ScriptError as exc:
            raise self.CollectError(str(exc)) from None
        for number, conversation in enumerate(script.conversations, start=1):
            single = script.model_copy(update={"conversations": [conversation]})
            yield ConversationItem.from_parent(self, name=conversation.id or f"c{number}", script=single)


class ConversationItem(pytest.Item):
    def __init__(self, *, script: Script, **kwargs):
        super().__init__(**kwargs)
        self.script = script

    def runtest(self):
        assistants = _assistants(self.config)
        results = list(run_script(self.script, self.path.parent, assistants))
        failed = [r for r in results if not r.passed]
        if failed:
            raise ConversationFailed(failed)

    def repr_failure(self, excinfo, style=None):
        if not isinstance(excinfo.value, ConversationFailed):
            return super().repr_failure(excinfo, style)
        lines = []
        for r in excinfo.value.results:
            failed = ", ".join(check for check, ok in r.checks.items() if not ok)
            lines += [
                f"turn {r.turn}: {r.question!r} failed {failed}",
                f"  searched: {r.standalone_question}",
                f"  answer:   {r.answer}",
                f"  refused:  {r.refused}; verified citations: {sum(c['verified'] for c in r.citations)}",
                "  sources:",
                *(f"    {s['rank']}. ({s['score']:.3f}) {' '.join(s['text'].split())[:150]}" for s in r.sources),
            ]
        return "\n".join(lines)

    def reportinfo(self):
        return self.path, 0, f"conversation {self.name}"
