"""One ONNX node run by `onnx.reference.ReferenceEvaluator`: the oracle of the host-op tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def run_onnx(
    op: str, inputs: list[Any], attrs: dict[str, Any], opset: int = 17, outputs: int = 1
) -> list[np.ndarray]:
    """The outputs of a one-node model `op(inputs, **attrs)` at `opset` (inputs: arrays, or None
    for an absent optional input)."""
    names = ["" if v is None else f"in{i}" for i, v in enumerate(inputs)]
    while names and names[-1] == "":
        names.pop()
    outs = [f"out{i}" for i in range(outputs)]
    node = helper.make_node(op, names, outs, **attrs)
    graph_inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.asarray(v).dtype),
                                      np.shape(v))
        for n, v in zip(names, inputs, strict=False) if n
    ]  # fmt: skip
    graph_outputs = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None) for o in outs]
    model = helper.make_model(
        helper.make_graph([node], "g", graph_inputs, graph_outputs),
        opset_imports=[helper.make_opsetid("", opset)],
    )
    feeds = {n: np.asarray(v) for n, v in zip(names, inputs, strict=False) if n}
    return [np.asarray(r) for r in ReferenceEvaluator(model).run(None, feeds)]


def assert_same(got: Any, want: np.ndarray, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """A host op's output against the reference's: same dtype and shape; floats within
    rtol/atol, everything else exactly."""
    got = np.asarray(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    if np.issubdtype(want.dtype, np.floating):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    else:
        np.testing.assert_array_equal(got, want)
