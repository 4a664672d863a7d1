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
needs_llama_cpp = pytest.mark.skipif(
    not os.environ.get("CI") and not importlib.util.find_spec("llama_cpp"),
    reason="needs the local extra (make test installs it; CI always runs this)",
)
