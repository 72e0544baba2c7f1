"""Graph inputs for a run: random ones that the model can take, and given ones checked.

`random_inputs(program, seed)`: float32 inputs are standard normal; integer inputs (token ids,
positions) are uniform in [0, n) where n is the smallest extent they index: the `axis` extent of
the data of every `Gather` / `GatherElements` / `OneHot` (depth) that reads them as indices (so
an embedding lookup stays in its table), else [0, 2); bool inputs (masks) are all True (a mask
that keeps everything, so no row of an attention is empty).

`coerce_inputs(program, arrays)` checks given arrays against the program's inputs (names, shapes)
and converts each to its input's dtype (`Program.input_dtype`): a float array given for an
integer input must hold whole numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.errors import AccelflowError
from simulator.program import Program


class InputError(AccelflowError):
    """Given inputs that do not fit the program: a missing or unknown name, a shape, a dtype."""


def _index_bound(program: Program, name: str) -> int | None:
    """The smallest extent `name` indexes as the indices of a gather-like host op, if any."""
    bounds = []
    for layer in program.layers:
        if layer.on_accel or name not in layer.inputs:
            continue
        position = layer.inputs.index(name)
        if layer.kind in ("Gather", "GatherElements") and position == 1:
            data = layer.inputs[0]
            shape = program.tensors.get(data)
            if shape is None and data in program.constants:
                shape = np.shape(program.constants[data])
            if shape:
                axis = int(layer.attrs.get("axis", 0))
                bounds.append(int(shape[axis]))
        elif layer.kind == "OneHot" and position == 0 and len(layer.inputs) > 1:
            depth = program.constants.get(layer.inputs[1])
            if depth is not None:
                bounds.append(int(np.asarray(depth).reshape(-1)[0]))
    return min(bounds) if bounds else None


def random_inputs(program: Program, seed: int = 0) -> dict[str, np.ndarray]:
    """Inputs the model can take, for every graph input (module docstring)."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name in program.inputs:
        shape = program.tensors[name]
        dtype = program.input_dtype(name)
        if dtype == np.bool_:
            out[name] = np.ones(shape, bool)
        elif np.issubdtype(dtype, np.integer):
            bound = _index_bound(program, name) or 2
            out[name] = rng.integers(0, max(bound, 1), size=shape).astype(dtype)
        else:
            out[name] = rng.standard_normal(shape).astype(np.float32)
    return out


def coerce_inputs(
    program: Program, arrays: dict[str, Any], where: str = ""
) -> dict[str, np.ndarray]:
    """`arrays` checked against the program's inputs and converted to their dtypes."""
    prefix = f"{where}: " if where else ""
    unknown = sorted(set(arrays) - set(program.inputs))
    if unknown:
        raise InputError(
            f"{prefix}'{unknown[0]}' is not a graph input (inputs: {', '.join(program.inputs)})"
        )
    out: dict[str, np.ndarray] = {}
    for name in program.inputs:
        if name not in arrays:
            raise InputError(f"{prefix}no value for graph input '{name}'")
        value = np.asarray(arrays[name])
        shape = tuple(program.tensors[name])
        if value.shape != shape:
            raise InputError(
                f"{prefix}input '{name}' has shape {'x'.join(map(str, value.shape)) or 'scalar'}, "
                f"the model takes {'x'.join(map(str, shape))}"
            )
        dtype = program.input_dtype(name)
        if value.dtype.kind not in "biuf":  # strings, bytes, complex, records, objects
            raise InputError(
                f"{prefix}input '{name}' has {value.dtype} values; the model takes {dtype} "
                "(give numbers)"
            )
        floats = np.issubdtype(dtype, np.integer) and not np.issubdtype(value.dtype, np.integer)
        if floats and (
            value.dtype == np.bool_ or not np.all(np.isfinite(value)) or np.any(value % 1)
        ):
            raise InputError(
                f"{prefix}input '{name}' takes {dtype} values (e.g. token ids), got "
                f"{value.dtype} values that are not whole numbers"
            )
        out[name] = value.astype(dtype)
    return out
