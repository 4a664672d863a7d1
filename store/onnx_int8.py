"""The models as onnxruntime runs them: on every x86-64 CPU the same int8 arithmetic (the int8 weights recast as
uint8 at load time), and inner states a trained head reads made outputs of the graph.

The bundled models multiply uint8 activations by int8 weights (`MatMulInteger`). onnxruntime computes that
exactly on CPUs with VNNI (and on ARM), but on AVX2 and AVX-512 CPUs without VNNI its u8·s8 kernel adds pairs of
products in 16 bits with saturation, so the same question gets other scores there (a cross-encoder logit moved
by 0.3, and another passage list, under an emulated Haswell). Adding 128 to an int8 weight and to its zero point
gives the uint8 weight of the same value: (w + 128) − (z + 128) = w − z, so the products are the same integers,
and onnxruntime's u8·u8 kernels widen to 16 bits before they multiply, which cannot saturate. On a VNNI CPU the
scores are the same numbers as before; elsewhere they become those numbers.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from store.files import write_whole

RECAST = 1  # the version of what `derive` makes: a cached model of another version is made again
logger = logging.getLogger(__name__)


def unsaturating(path: Path) -> bytes:
    """The model at `path`, serialized, with every int8 `MatMulInteger` weight and zero point made uint8."""
    return derive(path, recast=True)


def derive(path: Path, *, recast: bool, outputs: tuple[str, ...] = ()) -> bytes:
    """The model at `path`, serialized: recast (every int8 `MatMulInteger` weight and zero point made uint8) when
    `recast`, and with the float tensors named in `outputs` added to its outputs (after its own)."""
    import onnx

    model = onnx.load(str(path))
    if recast:
        _recast(model)
    known = {value for node in model.graph.node for value in node.output}
    for name in outputs:
        if name not in known:
            raise ValueError(f"the model computes no tensor named {name!r}")
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString()


def _recast(model) -> None:
    import onnx
    from onnx import numpy_helper

    initializers = {i.name: i for i in model.graph.initializer}
    recast: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "MatMulInteger" or len(node.input) < 4:
            continue
        weight, zero_point = node.input[1], node.input[3]
        if weight not in initializers or zero_point not in initializers:
            continue  # a weight computed at run time: left as the model has it
        for name in (weight, zero_point):
            tensor = initializers[name]
            if name in recast or tensor.data_type != onnx.TensorProto.INT8:
                continue
            values = numpy_helper.to_array(tensor).astype(np.int16) + 128
            tensor.CopyFrom(numpy_helper.from_array(values.astype(np.uint8), name))
            recast.add(name)


def derived(path: Path, sha256: str, cache: Path | None, *, recast: bool, outputs: tuple[str, ...] = ()) -> bytes:
    """`derive(path, ...)`, made once and kept in the `cache` folder with its own sha256: making it imports the
    onnx package (about a second), reading it back costs a hash. `sha256` is the verified source model's; without
    a cache folder, or when it cannot be written, the model is made each time."""
    if cache is None:
        return derive(path, recast=recast, outputs=outputs)
    variant = "uint8" if recast else "int8"
    if outputs:
        variant += "-" + hashlib.sha256("\n".join(outputs).encode("utf-8")).hexdigest()[:8]
    model = cache / "models" / f"{sha256[:24]}-{variant}-v{RECAST}.onnx"
    recorded = model.with_name(model.name + ".sha256")
    try:
        data = model.read_bytes()
        if hashlib.sha256(data).hexdigest() == recorded.read_text(encoding="ascii").strip():
            return data
        logger.info("making %s again: it does not match its recorded sha256", model)
    except OSError:
        pass
    data = derive(path, recast=recast, outputs=outputs)
    try:
        write_whole(model, data)
        # the hash last: a reader between the two writes sees a mismatch and makes its own
        write_whole(recorded, hashlib.sha256(data).hexdigest().encode("ascii"))
    except OSError as exc:  # a read-only or full disk: made again next time
        logger.info("could not keep the derived model at %s: %s", model, exc)
    return data
