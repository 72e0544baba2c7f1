"""ONNX operators that run on the host, in jax.numpy, on whole tensors, with ONNX semantics.

`HOST_OPS[op_type](inputs, attrs) -> outputs`: `inputs` are arrays in ONNX input order, `None`
for an absent optional input (ONNX's empty name ""); `attrs` are plain Python values with the
ONNX defaults applied by the op when absent. Integer and bool tensors keep their dtypes (token
ids, masks); float tensors are float32.

One module per group of operators, each with its own `OPS` table, merged here (a name defined
twice is an error at import):

- core.py: activations, elementwise arithmetic, pooling, the first shape ops, Gemm / MatMul,
  BatchNormalization (the CNN set);
- elementwise.py: math, comparison and logic (Exp, Pow, Erf, Gelu, Where, Equal, Cast, ...);
- shape.py: indexing and shape (Gather, Slice, Split, Expand, Tile, Range, Pad, Resize, ...);
- nn.py: normalisation, reductions and other layers (LayerNormalization, ReduceMean,
  LogSoftmax, Einsum, ConvTranspose, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

from simulator.host_ops.core import HostOp

_MODULES = ("core", "elementwise", "shape", "nn")


def _merged() -> dict[str, HostOp]:
    ops: dict[str, HostOp] = {}
    for name in _MODULES:
        try:
            module: Any = importlib.import_module(f"simulator.host_ops.{name}")
        except ModuleNotFoundError as err:
            if err.name != f"simulator.host_ops.{name}":
                raise
            continue
        for op, fn in module.OPS.items():
            if op in ops:
                raise RuntimeError(f"host op '{op}' is defined twice (simulator.host_ops.{name})")
            ops[op] = fn
    return ops


HOST_OPS: dict[str, HostOp] = _merged()

__all__ = ["HOST_OPS", "HostOp"]
