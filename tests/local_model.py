"""The real local model for the tests that need it: `make test` installs llama.cpp and the 0.5B model and names
it in ASSISTANT_TEST_LOCAL_MODEL; CI always runs these tests, elsewhere they skip without them."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

REAL_MODEL = os.environ.get("ASSISTANT_TEST_LOCAL_MODEL", "")
needs_model = pytest.mark.skipif(
    not os.environ.get("CI") and not (REAL_MODEL and Path(REAL_MODEL).is_file() and importlib.util.find_spec("llama_cpp")),
    reason="needs the local extra and the 0.5B model (make test installs both; CI always runs this)",
)
ARTICLE = (Path(__file__).parent.parent / "store" / "data" / "nagorno-karabakh-ceasefire.txt").read_text(encoding="utf-8")


def assert_checked_against_the_article(turn: dict) -> None:
    """Whatever a real model wrote (a turn as --json gives it): the quotes shown as verified are the article's exact
    words, an answer with a quote that did not verify has its sentence flagged, and an answer with nothing flagged
    stands on a verified quote."""
    for c in turn["citations"]:
        if c["verified"]:
            assert ARTICLE[c["start"]:c["end"]] == c["text"], c
    if turn["citations"] and not all(c["verified"] for c in turn["citations"]):
        assert turn["unsupported"], turn
    if not turn["refused"] and not turn["unsupported"]:
        assert any(c["verified"] for c in turn["citations"]), turn


needs_llama_cpp = pytest.mark.skipif(
    not os.environ.get("CI") and not importlib.util.find_spec("llama_cpp"),
    reason="needs the local extra (make test installs it; CI always runs this)",
)
