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

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from simulator.errors import AccelflowError, existing_file, first_line

__all__ = [
    "LoadedModel",
    "ModelImportError",
    "check_graph",
    "check_tensor_data",
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

_DIMS_RE = re.compile(r"^[0-9]+(x[0-9]+)*$")
_INT64_MAX = 2**63 - 1


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
        if any(d > _INT64_MAX for d in shape):
            raise ModelImportError(f"bad input shape '{text}': a dimension exceeds int64")
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
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(f"{path.name}: not an ONNX model ({reason})") from None
    _load_external(proto, path)
    return _checked(proto, path)


def _checked(
    proto: onnx.ModelProto, path: Path, weights: dict[str, np.ndarray] | None = None
) -> onnx.ModelProto:
    if proto.ir_version == 0 or not proto.HasField("graph"):
        raise ModelImportError(f"{path.name}: not an ONNX model (no ir_version or graph)")
    check_graph(proto, path.name, weights)
    return proto


# --------------------------------------------------------------------------------------------
# Graph invariants, checked once a file is loaded (before anything is allocated for it)
# --------------------------------------------------------------------------------------------

# The default-domain opsets the importer reads: ONNX's first to the installed onnx's newest.
MIN_OPSET = 1
# Initializers above this many elements are given to onnx.checker as typed graph inputs (the
# checker would otherwise serialise the weights; their sizes are checked here).
_CHECKER_MAX_CONST_ELEMENTS = 4096


def check_graph(
    proto: onnx.ModelProto, where: str, weights: dict[str, np.ndarray] | None = None
) -> None:
    """The invariants the importer relies on, each a ModelImportError naming `where` (the
    file) and the node or tensor: a supported default-domain opset; unique graph input and
    initializer names; one producer per tensor; an acyclic graph in topological order; tensor
    data as long as its dims say; then `onnx.checker.check_model(full_check=True)` (node
    arities, attribute types, strict shape inference: declared shapes that lie, mismatched
    operand shapes). `weights`: initializers `load_lean` took out of the proto (their size was
    checked when they were)."""
    _check_opsets(proto, where)
    _check_single_producers(proto.graph, where)
    _check_order(proto.graph, where)
    for init in proto.graph.initializer:
        if not weights or init.name not in weights:
            check_tensor_data(init, f"{where}: initializer '{init.name}'")
    for node in proto.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                check_tensor_data(attr.t, f"{where}: node '{node.name or node.op_type}'")
    _run_checker(proto, where, weights or {})


def _check_opsets(proto: onnx.ModelProto, where: str) -> None:
    newest = onnx.defs.onnx_opset_version()
    for opset in proto.opset_import:
        if opset.domain in ("", "ai.onnx") and not MIN_OPSET <= opset.version <= newest:
            raise ModelImportError(
                f"{where}: opset {opset.version} of the default ONNX domain is not supported "
                f"(this onnx {onnx.__version__} knows {MIN_OPSET} to {newest}); export the "
                "model with a supported opset"
            )


def _check_single_producers(graph: onnx.GraphProto, where: str) -> None:
    """Each tensor name has one source: a graph input, an initializer or one node's output."""
    source: dict[str, str] = {}

    def claim(name: str, what: str) -> None:
        if name in source and not (
            what == "an initializer" and source[name] == "a graph input"
        ):  # an initializer may also be listed as a graph input (IR < 4)
            raise ModelImportError(
                f"{where}: tensor '{name}' is produced twice ({source[name]} and {what}); "
                "every tensor needs a single producer"
            )
        source[name] = what

    for vi in graph.input:
        claim(vi.name, "a graph input")
    for init in graph.initializer:
        claim(init.name, "an initializer")
    for index, node in enumerate(graph.node):
        for out in node.output:
            if out:
                claim(out, f"node '{node.name or f'{node.op_type}_{index}'}'")


def _check_order(graph: onnx.GraphProto, where: str) -> None:
    """Every node input is known before the node (ONNX's topological order); a node that
    waits on a later one is reported as a cycle when it is part of one."""
    known = {vi.name for vi in graph.input} | {init.name for init in graph.initializer}
    producer = {out: i for i, node in enumerate(graph.node) for out in node.output if out}
    for index, node in enumerate(graph.node):
        label = node.name or f"{node.op_type}_{index}"
        for name in node.input:
            if not name or name in known:
                continue
            if name in producer:
                if _reaches(graph, producer, producer[name], index):
                    raise ModelImportError(
                        f"{where}: node '{label}' is on a cycle (its input '{name}' depends on "
                        "its own output); an ONNX graph must be acyclic"
                    )
                raise ModelImportError(
                    f"{where}: node '{label}' reads '{name}' before the node producing it; "
                    "ONNX nodes must be in topological order"
                )
            raise ModelImportError(
                f"{where}: node '{label}' (op {node.op_type}): input '{name}' is not produced "
                "by any node, initializer or graph input"
            )
        known.update(out for out in node.output if out)
    for out in graph.output:
        if out.name not in known:
            raise ModelImportError(
                f"{where}: graph output '{out.name}' is not produced by any node, initializer "
                "or graph input"
            )


def _reaches(graph: onnx.GraphProto, producer: dict[str, int], start: int, goal: int) -> bool:
    """Whether node `start` depends, through node inputs, on node `goal`."""
    seen, stack = set(), [start]
    while stack:
        i = stack.pop()
        if i == goal:
            return True
        if i in seen:
            continue
        seen.add(i)
        stack.extend(producer[n] for n in graph.node[i].input if n in producer)
    return False


# The repeated field holding a tensor's values when it has no raw_data, and how many entries
# one element takes there (ONNX's TensorProto rules).
_TYPED_FIELDS = {
    onnx.TensorProto.FLOAT: ("float_data", 1),
    onnx.TensorProto.DOUBLE: ("double_data", 1),
    onnx.TensorProto.INT64: ("int64_data", 1),
    onnx.TensorProto.UINT64: ("uint64_data", 1),
    onnx.TensorProto.UINT32: ("uint64_data", 1),
    onnx.TensorProto.COMPLEX64: ("float_data", 2),
    onnx.TensorProto.COMPLEX128: ("double_data", 2),
    onnx.TensorProto.STRING: ("string_data", 1),
}


def check_tensor_data(tensor: onnx.TensorProto, where: str) -> None:
    """A tensor's dims are not negative and its data holds exactly as many elements (checked
    before numpy reads it: a short buffer would be a ValueError, huge dims an allocation)."""
    if any(d < 0 for d in tensor.dims):
        raise ModelImportError(f"{where} has a negative dimension {list(tensor.dims)}")
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        return  # not loaded (load_external_data_for_model loads and checks what it reads)
    count = math.prod(int(d) for d in tensor.dims)
    if tensor.HasField("raw_data"):
        if tensor.data_type == onnx.TensorProto.STRING:
            return
        try:
            itemsize = onnx.helper.tensor_dtype_to_np_dtype(tensor.data_type).itemsize
        except Exception:
            return  # an element type the importer refuses by name later
        have, want = len(tensor.raw_data), count * itemsize
        if have != want and not (tensor.data_type in _SUB_BYTE and have * 8 >= want):
            raise ModelImportError(
                f"{where}: {have} bytes of data for dims {list(tensor.dims)} ({want} bytes "
                f"expected); the file is truncated or the dims are wrong"
            )
        return
    name, per_element = _TYPED_FIELDS.get(tensor.data_type, ("int32_data", 1))
    have = len(getattr(tensor, name))
    if have == 0 and count == 0:
        return
    if have != count * per_element:
        raise ModelImportError(
            f"{where}: {have // per_element} values for dims {list(tensor.dims)} ({count} expected)"
        )


_SUB_BYTE = {
    getattr(onnx.TensorProto, n)
    for n in ("INT4", "UINT4", "FLOAT4E2M1")
    if hasattr(onnx.TensorProto, n)
}


def _run_checker(proto: onnx.ModelProto, where: str, weights: dict[str, np.ndarray]) -> None:
    """onnx.checker's full check on a copy of `proto` whose large initializers are typed graph
    inputs (their values do not matter to it: serialising them would cost seconds)."""
    light = onnx.ModelProto()
    _copy_fields(proto, light, skip="graph")
    graph, lg = proto.graph, light.graph
    _copy_fields(graph, lg, skip="initializer")
    if any(not _has_shape(vi) for vi in graph.input):
        return  # the importer asks for --input-shape; the checker would refuse the model
    kept = [vi for vi in graph.output if _has_shape(vi)]  # a shapeless output: inferred
    del lg.output[:]
    lg.output.extend(kept)
    inputs = {vi.name for vi in graph.input}
    for init in graph.initializer:
        count = math.prod(int(d) for d in init.dims)
        if init.name not in weights and count <= _CHECKER_MAX_CONST_ELEMENTS:
            lg.initializer.append(init)
        elif init.name not in inputs:
            lg.input.append(
                onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims))
            )
    try:
        onnx.checker.check_model(light, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as err:
        raise ModelImportError(
            f"{where}: not a valid ONNX model: {_checker_message(err)}"
        ) from None


def _has_shape(value_info: onnx.ValueInfoProto) -> bool:
    kind = value_info.type.WhichOneof("value")
    return kind != "tensor_type" or value_info.type.tensor_type.HasField("shape")


_BAD_NODE = re.compile(r"Bad node spec for node\. Name: (\S*) OpType: (\S+)")
_INFERENCE_NODE = re.compile(r"\(op_type:(\S+), node name: ([^)]*)\): ")


def _checker_message(err: BaseException) -> str:
    """onnx.checker's report on one line, with the node it names first (`node 'n' (op T)`)."""
    text = str(err)
    line = first_line(err)
    for tag in ("[ShapeInferenceError] Inference error(s): ", "[ShapeInferenceError] "):
        line = line.replace(tag, "")
    found = _INFERENCE_NODE.search(line)
    if found:
        line = line.replace(found.group(0), "")
        return f"node '{found.group(2)}' (op {found.group(1)}): {line}"
    found = _BAD_NODE.search(text)
    if found:
        return f"node '{found.group(1)}' (op {found.group(2)}): {line}"
    return line


def _copy_fields(src: Any, dst: Any, skip: str) -> None:
    """The fields set in protobuf message `src`, but `skip`, copied into `dst`."""
    for descriptor, value in src.ListFields():
        if descriptor.name == skip:
            continue
        if descriptor.is_repeated:
            getattr(dst, descriptor.name).extend(value)
        elif descriptor.message_type is not None:
            getattr(dst, descriptor.name).CopyFrom(value)
        else:
            setattr(dst, descriptor.name, value)


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
        check_graph(model, f"model '{model.graph.name}'" if model.graph.name else "the model")
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
    except Exception as exc:  # protobuf raises several unrelated types
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(f"{path.name}: not an ONNX model ({reason})") from None
    _load_external(proto, path)
    return LoadedModel(_checked(proto, path, weights), weights)


def _load_external(proto: onnx.ModelProto, path: Path) -> None:
    """The initializers stored outside the model (`save_as_external_data`), read from their
    files beside it, as `onnx.load` does; a missing or short file is an error naming it."""
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return
    for tensor in external:
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        if not (path.parent / location).is_file():
            raise ModelImportError(
                f"{path.name}: its weight '{tensor.name}' is stored in '{location}' beside it, "
                f"and {path.parent / location} is missing"
            )
    try:
        onnx.load_external_data_for_model(proto, str(path.parent))
    except Exception as exc:  # a short or unreadable data file
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ModelImportError(
            f"{path.name}: cannot read its external weights ({reason})"
        ) from None


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
