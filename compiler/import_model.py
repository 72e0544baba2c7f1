"""What the ONNX importer is given: the model file, loaded and checked, and `--input-shape` text.

`ModelImportError` (the importer's one error type, raised by every `compiler.import_*` module),
`load_model` (a path or a proto -> `ModelProto`), and `parse_input_shape` / `parse_input_shapes`
(the CLI's `--input-shape NAME=1x3x224x224` options -> a name -> shape dict for `import_onnx`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import onnx

from simulator.errors import AccelflowError

__all__ = ["ModelImportError", "load_model", "parse_input_shape", "parse_input_shapes"]


class ModelImportError(AccelflowError):
    """The ONNX model cannot be imported (unreadable, unsupported op, dynamic shape, ...)."""


# --------------------------------------------------------------------------------------------
# Input shapes from the command line
# --------------------------------------------------------------------------------------------

_DIMS_RE = re.compile(r"^\d+(x\d+)*$")


def parse_input_shape(text: str) -> dict[str, tuple[int, ...]]:
    """Parse `--input-shape` text: `input=1x3x224x224`, several joined by commas, or `1x3x32x32`.

    A shape with no `NAME=` is returned under the key `""`, which `import_onnx` gives to the
    graph's only input.
    """
    shapes: dict[str, tuple[int, ...]] = {}
    parts = [part.strip() for part in text.split(",")]
    for part in parts:
        name, sep, dims = part.rpartition("=")
        name = name.strip()
        dims = dims.strip().lower()
        if (sep and not name) or not _DIMS_RE.match(dims):
            raise ModelImportError(
                f"bad input shape '{text}': expected NAME=1x3x224x224 "
                "(several separated by commas) or just 1x3x224x224"
            )
        shape = tuple(int(d) for d in dims.split("x"))
        if any(d <= 0 for d in shape):
            raise ModelImportError(f"bad input shape '{text}': dimensions must be positive")
        if not sep and len(parts) > 1:
            raise ModelImportError(
                f"bad input shape '{text}': name every input when giving several (NAME=1x3x224x224)"
            )
        if name in shapes:
            raise ModelImportError(f"bad input shape '{text}': input '{name}' is given twice")
        shapes[name] = shape
    return shapes


def parse_input_shapes(texts: Iterable[str]) -> dict[str, tuple[int, ...]]:
    """Merge several `--input-shape` options (the CLI's repeatable flag)."""
    shapes: dict[str, tuple[int, ...]] = {}
    for text in texts:
        for name, shape in parse_input_shape(text).items():
            if name in shapes:
                raise ModelImportError(f"input shape for '{name or '<the input>'}' is given twice")
            shapes[name] = shape
    return shapes


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_model(model: str | Path | onnx.ModelProto) -> onnx.ModelProto:
    """The ModelProto of `model` (a path or a proto), or ModelImportError naming the file."""
    if isinstance(model, onnx.ModelProto):
        return model
    path = Path(model)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(f"{path.name}: not an ONNX model ({reason})") from None
    if proto.ir_version == 0 or not proto.HasField("graph"):
        raise ModelImportError(f"{path.name}: not an ONNX model (no ir_version or graph)")
    return proto
