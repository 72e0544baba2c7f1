"""What the ONNX importer is given: the model file, loaded and checked, and `--input-shape` text.

`ModelImportError` (the importer's one error type, raised by every `compiler.import_*` module),
`load_model` (a path or a proto -> `ModelProto`), `load_lean` (a path -> `LoadedModel`: the
large float32 weights not copied into the proto), and `parse_input_shape` /
`parse_input_shapes` (the CLI's `--input-shape NAME=1x3x224x224` options -> a name -> shape
dict for `import_onnx`).

`load_lean` reads the file once and walks its protobuf wire format (ModelProto field 7 the
graph, GraphProto field 5 an initializer, TensorProto field 9 its raw data, 1 its dims, 2 its
element type, 8 its name, 14 its data location): every float32 initializer of at least
`LEAN_MIN_BYTES` raw bytes is left out of the bytes handed to protobuf, and given instead as a
read-only numpy view of the file's bytes. Parsing copies only the rest (VGG-11: 0.4 s and 0.6 s
of copying saved on 507 MB of weights). Anything unexpected in the wire format falls back to
parsing the whole file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from simulator.errors import AccelflowError, existing_file

__all__ = [
    "LoadedModel",
    "ModelImportError",
    "load_lean",
    "load_model",
    "parse_input_shape",
    "parse_input_shapes",
]


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
    path = existing_file(model, ModelImportError)
    try:
        proto = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(f"{path.name}: not an ONNX model ({reason})") from None
    return _checked(proto, path)


def _checked(proto: onnx.ModelProto, path: Path) -> onnx.ModelProto:
    if proto.ir_version == 0 or not proto.HasField("graph"):
        raise ModelImportError(f"{path.name}: not an ONNX model (no ir_version or graph)")
    return proto


LEAN_MIN_BYTES = 1 << 16


@dataclass
class LoadedModel:
    """A model and the weights left out of its proto (`load_lean`): initializer name ->
    read-only array."""

    proto: onnx.ModelProto
    weights: dict[str, np.ndarray] = field(default_factory=dict)


def load_lean(model: str | Path | onnx.ModelProto | LoadedModel) -> LoadedModel:
    """The model, its large float32 weights as views of the file's bytes (module docstring)."""
    if isinstance(model, LoadedModel):
        return model
    if isinstance(model, onnx.ModelProto):
        return LoadedModel(model)
    path = existing_file(model, ModelImportError)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelImportError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    weights: dict[str, np.ndarray] = {}
    try:
        lean = _strip_model(data, weights)
    except (ValueError, IndexError):  # not the wire format expected: parse it whole
        lean, weights = data, {}
    try:
        proto = onnx.load_model_from_string(lean)
        if any(
            t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer
        ):  # as onnx.load does: the data files beside the model
            onnx.load_external_data_for_model(proto, str(path.parent))
    except Exception as exc:  # protobuf raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(f"{path.name}: not an ONNX model ({reason})") from None
    return LoadedModel(_checked(proto, path), weights)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int, int, int, object]]:
    """(field, wire type, first byte, end, value) of each field in buf[start:end]: value the
    integer of a varint, (start, end) of a length-delimited payload, None otherwise."""
    pos = start
    while pos < end:
        first = pos
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        value: object = None
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            length, pos = _varint(buf, pos)
            value, pos = (pos, pos + length), pos + length
        else:
            raise ValueError(f"wire type {wire}")
        if pos > end:
            raise ValueError("field beyond its message")
        yield number, wire, first, pos, value


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _message_field(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | 2) + _encode_varint(len(payload)) + payload


def _strip_model(buf: bytes, weights: dict[str, np.ndarray]) -> bytes:
    parts, graphs = [], 0
    for number, wire, first, end, value in _fields(buf, 0, len(buf)):
        if number == 7 and wire == 2:
            graphs += 1
            if graphs > 1:
                raise ValueError("two graph fields")
            start, stop = value  # type: ignore[misc]
            parts.append(_message_field(7, _strip_graph(buf, start, stop, weights)))
        else:
            parts.append(buf[first:end])
    return b"".join(parts)


def _strip_graph(buf: bytes, start: int, stop: int, weights: dict[str, np.ndarray]) -> bytes:
    parts = []
    for number, wire, first, end, value in _fields(buf, start, stop):
        if number == 5 and wire == 2:
            parts.append(_message_field(5, _strip_tensor(buf, *value, weights)))  # type: ignore[misc]
        else:
            parts.append(buf[first:end])
    return b"".join(parts)


def _strip_tensor(buf: bytes, start: int, stop: int, weights: dict[str, np.ndarray]) -> bytes:
    parts, dims, name, data_type, location, raw = [], [], None, 0, 0, None
    for number, wire, first, end, value in _fields(buf, start, stop):
        if number == 9 and wire == 2:
            raw = (first, end, value)
            continue
        parts.append(buf[first:end])
        if number == 8 and wire == 2:
            name = buf[value[0] : value[1]].decode("utf-8", errors="replace")  # type: ignore[index]
        elif number == 1 and wire == 0:
            dims.append(value)
        elif number == 1 and wire == 2:  # packed dims
            pos, packed_end = value  # type: ignore[misc]
            while pos < packed_end:
                dim, pos = _varint(buf, pos)
                dims.append(dim)
        elif number == 2 and wire == 0:
            data_type = value
        elif number == 14 and wire == 0:
            location = value
    if raw is not None:
        first, end, (data_start, data_end) = raw
        size = data_end - data_start
        if (
            data_type == onnx.TensorProto.FLOAT
            and location == onnx.TensorProto.DEFAULT
            and name
            and name not in weights
            and size >= LEAN_MIN_BYTES
            and size == 4 * int(np.prod(dims, dtype=np.int64))
        ):
            view = np.frombuffer(buf, dtype="<f4", count=size // 4, offset=data_start)
            weights[name] = view.reshape(tuple(dims))
        else:
            parts.append(buf[first:end])
    return b"".join(parts)
