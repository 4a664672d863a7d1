"""The models give the same scores on every x86-64 CPU: int8 weights recast as uint8 compute the same integers
(checked against the original model where this CPU adds int8 products exactly), and the cross-encoder's logits
for a few pairs are the ones recorded on a CPU with VNNI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from store.cpu import cpuid, has_int8_dot_product, is_x86_64
from store.models import BGE_SMALL_EN, COLBERT_SMALL, MINILM_RERANKER
from store.onnx_int8 import unsaturating

PAIRS = [
    ("How many people were killed in the clashes?",
     "Military clashes have left at least 34 dead in that region of the South Caucasus."),
    ("How many people were killed in the clashes?", "The Azerbaijani side reported two civilian deaths in areas under its control."),
    ("Who brokered the ceasefire?", "The agreement has been reached with the mediation of the command of the Russian peacekeeping contingent."),
    ("What is the capital of Australia?", "Azerbaijan and Armenia fought over the territory."),
]
# the logits of PAIRS, computed by the original int8 model on an AMD EPYC with AVX512-VNNI (exact int8 sums);
# an AVX2 CPU without the recast gave other values (the int16 saturation this module avoids)
RECORDED = [6.1869, -0.9990, 0.0174, -11.1100]


def has_avx512() -> bool:
    return is_x86_64() and bool(cpuid(7, 0)[1] >> 16 & 1)


def _session(model) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _feed(session, spec, texts):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(spec.path("tokenizer.json")))
    tokenizer.enable_padding()
    encodings = tokenizer.encode_batch(texts)
    arrays = {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
              "token_type_ids": [e.type_ids for e in encodings]}
    names = {i.name for i in session.get_inputs()}
    return {k: np.array(v, dtype=np.int64) for k, v in arrays.items() if k in names}


@pytest.mark.parametrize("spec", [MINILM_RERANKER, BGE_SMALL_EN, COLBERT_SMALL], ids=lambda s: s.name)
def test_the_recast_model_computes_the_same_numbers(spec):
    if not has_int8_dot_product():
        pytest.skip("this CPU's int8 kernels saturate: the original model is not the reference here")
    original = _session(str(spec.path("model.onnx")))
    recast = _session(unsaturating(spec.path("model.onnx")))
    texts = PAIRS if spec is MINILM_RERANKER else [b for _, b in PAIRS]
    feed = _feed(original, spec, texts)
    assert np.array_equal(original.run(None, feed)[0], recast.run(None, feed)[0])


def test_the_cross_encoder_gives_the_recorded_logits_on_this_cpu(cross_encoder):
    logits = [cross_encoder.score(question, [passage])[0] for question, passage in PAIRS]
    # exact on any AVX-512 CPU (the same float kernels); an AVX2-only CPU runs other float kernels and differs a
    # little (0.063 at most under an emulated Haswell, against 0.26 for the saturating int8 kernels)
    assert logits == pytest.approx(RECORDED, abs=1e-3 if has_avx512() else 0.08)


def test_cpuid_reads_the_same_vnni_support_as_the_kernel_reports():
    """The CPU's VNNI support, read by our own cpuid, is what Linux says the CPU has (/proc/cpuinfo's flags)."""
    cpuinfo = Path("/proc/cpuinfo")
    if not (is_x86_64() and cpuinfo.is_file()):
        pytest.skip("needs Linux on x86-64, whose kernel lists the CPU's flags")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    assert has_int8_dot_product() == bool(flags & {"avx512_vnni", "avx_vnni"})
