"""Large constants held once: inside a compile, the IR carries a handle, the array lives here.

A model's weights would otherwise be copied at every step (the ONNX tensor, its numpy array,
the IR's bytes, each pass's decode, the assembler's decode): hundreds of megabytes for VGG-11.
Within `scope()` (what `accelflow.compile` opens around the import, the passes and the
assembler), `attribute(array)` of an array larger than `INLINE_BYTES` registers the array and
returns `dense_resource<handle> : tensor<...>` (MLIR's builtin attribute for data held outside
the IR text); `array_of(attr)` gives the array back, without a copy. The arrays are read-only
views (an ONNX initializer's raw bytes, a transpose of another constant) and never written.

Outside a scope (accelflow-opt reading and writing IR text, a test running a pass on its own
module), every constant is inline (`dense<"0x...">`), so the text it prints holds the values. A
handle whose scope has ended (IR text printed during a compile and read back later) has no
array: `array_of` returns None, the constant is elided, and the program simulates for timing
only, as with `dense_resource<__elided__>`.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    IntegerType,
    TensorType,
    f32,
    i64,
)
from xdsl.ir import Attribute

# Constants of at most this many bytes stay inline in the IR (readable and editable).
INLINE_BYTES = 256

_scopes: list[dict[str, np.ndarray]] = []
_numbers = itertools.count()


@contextlib.contextmanager
def scope() -> Iterator[None]:
    """Hold the constants registered inside, until the block ends."""
    _scopes.append({})
    try:
        yield
    finally:
        _scopes.pop()


def _normalised(array: np.ndarray) -> np.ndarray:
    """f32 for floats, i64 for integers and bools (the importer's convention), no copy when
    the array already is."""
    array = np.asarray(array)
    if np.issubdtype(array.dtype, np.floating):
        return array.astype("<f4", copy=False)
    return array.astype("<i8", copy=False)


def attribute(array: np.ndarray, hint: str = "constant") -> Attribute:
    """The IR attribute of a constant (module docstring): a handle inside a scope for a large
    array, else the inline dense attribute."""
    array = _normalised(array)
    typ = TensorType(f32 if array.dtype == np.float32 else i64, array.shape)
    if _scopes and array.nbytes > INLINE_BYTES:
        handle = f"{re.sub(r'[^A-Za-z0-9_.]', '_', hint)[-48:]}_{next(_numbers)}"
        _scopes[-1][handle] = array
        return DenseResourceAttr.from_params(handle, typ)
    return DenseIntOrFPElementsAttr(typ, BytesAttr(np.ascontiguousarray(array).tobytes()))


def array_of(attr: Attribute) -> np.ndarray | None:
    """The value of a constant's attribute (read-only, not copied); None for a handle without
    an array (elided)."""
    if isinstance(attr, DenseResourceAttr):
        handle = attr.resource_handle.data
        for held in reversed(_scopes):
            if handle in held:
                return held[handle]
        return None
    if not isinstance(attr, DenseIntOrFPElementsAttr):
        return None
    shape = tuple(int(v) for v in attr.get_shape())
    elem = attr.get_element_type()
    if isinstance(elem, IntegerType):
        width = elem.width.data
        dtype = {1: "<i1", 8: "<i1", 16: "<i2", 32: "<i4", 64: "<i8"}[width]
    else:
        width = elem.bitwidth if hasattr(elem, "bitwidth") else 32
        dtype = {16: "<f2", 32: "<f4", 64: "<f8"}[width]
    return np.frombuffer(attr.data.data, dtype=dtype).reshape(shape)
