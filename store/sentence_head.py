"""A head on the cross-encoder that scores a sentence as the answer to a question.

The ms-marco cross-encoder was trained to tell relevant web passages from others; choosing, among a document's
relevant sentences, the one that holds the answer is another task. The head reads the cross-encoder's last-layer
[CLS] state beside its logit: score = logit_weight · logit + weights · state + bias. It was fitted by
`benchmarks/train_head.py` (listwise, on SQuADShifts NYT dev questions and the sentences holding their answers) and
is kept in `store/data/sentence_head.json` with the sha256 of the model it reads: with another model file, it is
refused rather than misread.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from store.models import ModelError, ModelSpec

HEAD_FILE = "sentence_head.json"


class SentenceHead(BaseModel):
    """The head's weights and what they read."""

    model_config = ConfigDict(frozen=True)

    model_sha256: str = Field(description="sha256 of the model.onnx whose states the head reads")
    state: str = Field(description="the ONNX tensor read at its first token ([CLS])")
    logit_weight: float
    weights: tuple[float, ...]
    bias: float
    training: dict = Field(default_factory=dict, description="how it was fitted, and its held-out figures")
    _vector: np.ndarray = PrivateAttr()

    def model_post_init(self, context) -> None:
        self._vector = np.array(self.weights, dtype=np.float32)

    def score(self, logit: float, state: np.ndarray) -> float:
        return float(self.logit_weight * logit + self._vector @ state.astype(np.float32) + self.bias)

    @classmethod
    def untrained(cls, spec: ModelSpec, state: str, size: int) -> SentenceHead:
        """A head that reads `state` and scores by the logit alone (what a head is fitted from)."""
        return cls(model_sha256=dict(spec.files)["model.onnx"], state=state, logit_weight=1.0, weights=(0.0,) * size,
                   bias=0.0)

    @classmethod
    def shipped(cls, spec: ModelSpec) -> SentenceHead:
        """The head kept with the code, once it is found to be fitted on `spec`'s model file."""
        head = _shipped()
        if head.model_sha256 != dict(spec.files)["model.onnx"]:
            raise ModelError(f"the sentence head in store/data/{HEAD_FILE} was fitted on another model than "
                             f"{spec.name}; fit it again with: python benchmarks/train_head.py")
        return head


@cache
def _shipped() -> SentenceHead:
    text = resources.files("store").joinpath("data", HEAD_FILE).read_text(encoding="utf-8")
    return SentenceHead.model_validate(json.loads(text))
