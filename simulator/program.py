"""The Program: what the compiler's assembler produces and the simulator runs (no xDSL here).

A Program is
- `instrs`: an int64 array of shape [num_instructions, ROW.num_columns], one row per instruction,
  laid out by the row schema `ROW` below (unused fields are 0);
- `layers`: the model's operations in execution order (`Layer` records): accelerator layers
  (`conv2d`, `matmul`) own the instruction rows `[instr_begin, instr_end)`; host operations
  (`Relu`, `MaxPool`, ...) own none and run on the host;
- `constants`: weights and other constant tensors by name (numpy arrays);
- `tensors`: the shape of every tensor by name; `inputs` / `outputs`: the graph's I/O names;
- `target`: the fields of the Target the program was compiled for.

The row schema. `ROW` declares the fields of an instruction row once, in order: scalars (one
column) and fixed-width groups (`off[8]`, `size[8]`, `gemm[4]`, `steps[13]`, `sparse[10]`, whose
columns are also named one by one: `off0`, `m`, `c_full0`, `w_nnz`). Every producer builds rows
with `ROW.encode(count, **named values)` and every consumer reads them with
`ROW.view(rows).<field>` (numpy or JAX, one row or many); nothing else knows a column number.
The layout (`ROW.describe()` prints it; docs/program.md has the table):

    opcode layer kind dataflow       what every instruction carries (kind: CONFIG's layer kind)
    buffer slot bytes                LOAD / STORE: the transfer
    s_in s_w s_out acc gemm[4]       COMPUTE: slots read and written, the tile's GEMM view
    off[8] size[8]                   LOAD / COMPUTE / STORE: the tile (MAERI CONFIG: size = the
                                     spatial tile, the virtual neurons)
    stride[2]                        CONFIG: the layer's stride (conv2d)
    steps[13]                        MAERI CONFIG: the controller's port costs and the psum round
                                     trips (maeri.STEP_FIELDS), derived by the simulator before a run
    sparse[10]                       SIGMA COMPUTE: the tile's bitmap statistics and energy events
                                     (sigma.SPARSE_FIELDS)
    vector[4]                        VECTOR: operations, DRAM bytes read, DRAM bytes written,
                                     fused (1: in the output stage of the layer before it)

Instruction semantics (see docs/program.md for the full table):

    CONFIG   layer, dataflow, kind, stride [, size] start of a layer; sets the array's dataflow;
                                                  MAERI: the spatial tile per dim (size:
                                                  virtual neurons; the step costs follow)
    LOAD     layer, buffer, slot, bytes, off/size DRAM -> global buffer `buffer`, slot `slot`
    COMPUTE  layer, s_in, s_w, s_out, acc, gemm,  one buffer-level tile on the array: `reps`
             dataflow, off/size [, sparse]        independent GEMMs of m x n x k (the tile's GEMM
                                                  view); reads the input/weight slots, writes the
                                                  output slot (acc=1: adds to the partial sums)
    STORE    layer, slot, bytes, off/size         global buffer output slot -> DRAM
    VECTOR   layer, vector                        a non-GEMM operator on the vector unit
                                                  (simulator/vector.py): its operations and
                                                  DRAM bytes read / written

Loop dimensions, the meaning of off/size (tile offset and extent per dimension):

    conv2d: n g k c y x r s   (k = output channels per group, c = input channels per group,
                               y/x = output rows/cols, r/s = filter rows/cols)
    matmul: g m n k           (g = batch, out[g] = a[g] (m x k) @ b[g] (k x n))

Tensor layouts: conv2d input NCHW, weight [G*K, C, R, S], bias [G*K], output NCHW;
matmul a [G, M, K] (or [M, K]), b [G, K, N] (or [K, N]), bias [N], output [G, M, N] (or [M, N]).

Format versions: `FORMAT_VERSION` is written with every saved program and `Program.load` refuses
any other (`ProgramFormatError`, naming both). Format 11 is the schema's layout (10 had no
`c_wi`, `c_wi0` in MAERI's `steps`; 9 had no SIGMA energy events `sg_fwd` to `sg_rn` in
`sparse`; 8 had no `rt_cycles`, `rt_count`, `rt_drain` in MAERI's `steps`; 7 had no
`vec_fused`; 6 had no VECTOR instruction; 5 carried MAERI's step costs from the compiler and no
stride); formats 1 to 4 grew by appending columns. Older formats are not read (recompile them).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import AccelflowError

FORMAT_VERSION = 11

# Opcodes.
OP_NOP = 0
OP_CONFIG = 1
OP_LOAD = 2
OP_COMPUTE = 3
OP_STORE = 4
OP_VECTOR = 5
OPCODE_NAMES = {
    OP_NOP: "nop",
    OP_CONFIG: "config",
    OP_LOAD: "load",
    OP_COMPUTE: "compute",
    OP_STORE: "store",
    OP_VECTOR: "vector",
}

# Global-buffer operands (the `buffer` field of LOAD).
BUF_INPUT = 0
BUF_WEIGHT = 1
BUF_OUTPUT = 2
BUFFER_NAMES = ("input", "weight", "output")

# Dataflows (the `dataflow` field of CONFIG and COMPUTE).
DATAFLOWS = ("ws", "os", "is")

MAX_DIMS = 8
CONV_DIMS = ("n", "g", "k", "c", "y", "x", "r", "s")
MATMUL_DIMS = ("g", "m", "n", "k")
LAYER_DIMS = {"conv2d": CONV_DIMS, "matmul": MATMUL_DIMS}
# Accelerator layer kinds; the `kind` field of CONFIG is the index here.
LAYER_KINDS = tuple(LAYER_DIMS)
KIND_CODES = {kind: code for code, kind in enumerate(LAYER_KINDS)}


class ProgramFormatError(AccelflowError, ValueError):
    """A saved program of another format version (recompile it)."""


@dataclass(frozen=True)
class Field:
    """One named field of an instruction row: a scalar (one column) or a fixed-width group.

    `members` names a group's columns, in order (empty for a scalar). A group encoded from
    fewer values than its width leaves the missing trailing members 0. `timing` False: the
    timing never reads the field (rows that differ only there cost the same and take the same
    time, which the fast-forward relies on: simulator/fastforward.py).
    """

    name: str
    opcodes: tuple[str, ...]  # the instructions that use it
    doc: str
    members: tuple[str, ...] = ()
    timing: bool = True

    @property
    def width(self) -> int:
        return len(self.members) or 1


class RowView:
    """Named read access to instruction rows: `view.<name>` (or `view["<name>"]`) is
    `rows[..., column]` for a scalar field or a group member, `rows[..., start:stop]` for a
    group. Works on one row [F] or many [..., F], numpy or JAX; numpy results are views."""

    __slots__ = ("_rows", "_schema")

    def __init__(self, schema: RowSchema, rows: Any) -> None:
        self._schema = schema
        self._rows = rows

    def __getitem__(self, name: str) -> Any:
        return self._rows[..., self._schema.column(name)]

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(*err.args) from None


class ColumnView(RowView):
    """Named read access to many rows [N, F] as columns: a scalar field is `rows[:, column]`
    ([N]), a group `rows[:, start:stop].T` ([W, N], so `view.size[i]` is member i of every
    row, as in a one-row view). What the families' `tile_cost` reads, numpy or JAX."""

    __slots__ = ()

    def __getitem__(self, name: str) -> Any:
        column = self._schema.column(name)
        values = self._rows[:, column]
        return values if isinstance(column, int) else values.T


class RowSchema:
    """The layout of an instruction row: its fields in order, the one encode and decode path."""

    def __init__(self, *fields: Field) -> None:
        self.fields = fields
        self._fields = {f.name: f for f in fields}
        self._columns: dict[str, int | slice] = {}
        names: list[str] = []
        for f in fields:
            start = len(names)
            if f.members:
                self._columns[f.name] = slice(start, start + f.width)
                self._columns.update({m: start + i for i, m in enumerate(f.members)})
                names.extend(f.members)
            else:
                self._columns[f.name] = start
                names.append(f.name)
        if len(self._columns) != len(fields) + sum(len(f.members) for f in fields):
            raise ValueError("row schema: a field or member name is used twice")
        self.column_names = tuple(names)
        self.num_columns = len(names)
        # The columns the timing reads (fields with `timing` True).
        self.timing_columns = tuple(
            i
            for f in fields
            if f.timing
            for i in (
                range(self._columns[f.name].start, self._columns[f.name].stop)
                if f.members
                else (self._columns[f.name],)
            )
        )

    def field(self, name: str) -> Field:
        return self._fields[name]

    def column(self, name: str) -> int | slice:
        """The column of a scalar field or a group member, the slice of a group's columns."""
        column = self._columns.get(name)
        if column is None:
            raise KeyError(
                f"instruction rows have no field '{name}' (fields: "
                f"{', '.join(f.name for f in self.fields)})"
            )
        return column

    def view(self, rows: Any) -> RowView:
        """Read `rows` ([F] or [..., F], numpy or JAX) by field name."""
        return RowView(self, rows)

    def columns(self, rows: Any) -> ColumnView:
        """Read many rows [N, F] (numpy or JAX) by field name, as columns (`ColumnView`)."""
        return ColumnView(self, rows)

    def encode(self, count: int, /, **values: Any) -> np.ndarray:
        """`count` rows (int64 [count, num_columns]) holding the named values, 0 elsewhere.

        A scalar field or a group member takes a number or `count` numbers; a group takes
        [w] or [count, w] values, w at most its width (the rest 0). None,
        or a group given no values ([count, 0]), leaves the field 0.
        """
        rows = np.zeros((count, self.num_columns), np.int64)
        for name, value in values.items():
            if value is None:
                continue
            column = self.column(name)
            if isinstance(column, int):
                rows[:, column] = value
                continue
            group = self._fields[name]
            value = np.asarray(value, np.int64)
            given = value.shape[-1] if value.ndim else -1
            if given == 0:
                continue
            if not 0 < given <= group.width:
                raise ValueError(
                    f"field '{name}' takes 1 to {group.width} values per row, got {value.shape}"
                )
            rows[:, column.start : column.start + given] = value
        return rows

    def describe(self) -> str:
        """The layout as a Markdown table (docs/program.md holds it)."""
        lines = ["| columns | field | used by | meaning |", "|---|---|---|---|"]
        for f in self.fields:
            column = self._columns[f.name]
            if isinstance(column, slice):
                where = f"{column.start}..{column.stop - 1}"
                name = f"{f.name}[{f.width}]: {' '.join(f.members)}"
            else:
                where, name = str(column), f.name
            lines.append(f"| {where} | {name} | {', '.join(f.opcodes)} | {f.doc} |")
        return "\n".join(lines)


# The instruction row, format 11 (docs/program.md "Instructions"). The members of `steps` and
# `sparse` are the values simulator.arch.maeri.STEP_FIELDS and simulator.arch.sigma.SPARSE_FIELDS order
# (a test holds them equal; this module imports no architecture).
ROW = RowSchema(
    Field(
        "opcode",
        ("all",),
        "OP_NOP 0, OP_CONFIG 1, OP_LOAD 2, OP_COMPUTE 3, OP_STORE 4, OP_VECTOR 5",
    ),
    Field(
        "layer",
        ("all",),
        "index of the layer among the program's accelerator layers (VECTOR: among all layers)",
        timing=False,
    ),
    Field("kind", ("config",), "layer kind: `KIND_CODES` (0 conv2d, 1 matmul)"),
    Field("dataflow", ("config", "compute"), "`DATAFLOWS` index: 0 ws, 1 os, 2 is"),
    Field("buffer", ("load",), "`BUFFER_NAMES` index: 0 input, 1 weight, 2 output (partial sums)"),
    Field("slot", ("load", "store"), "buffer slot, 0 or 1"),
    Field("bytes", ("load", "store"), "bytes moved between DRAM and the global buffer"),
    Field("s_in", ("compute",), "input slot read"),
    Field("s_w", ("compute",), "weight slot read"),
    Field("s_out", ("compute",), "output slot written"),
    Field("acc", ("compute",), "1: add to the slot's partial sums, 0: start from the bias"),
    Field(
        "gemm",
        ("compute",),
        "the tile's GEMM view: `reps` products of (m x k) @ (k x n)",
        members=("reps", "m", "n", "k"),
    ),
    Field(
        "off",
        ("load", "compute", "store"),
        "the tile's offset per loop dim of the layer (`LAYER_DIMS` order)",
        members=tuple(f"off{i}" for i in range(MAX_DIMS)),
        timing=False,
    ),
    Field(
        "size",
        ("config", "load", "compute", "store"),
        "the tile's extent per loop dim; MAERI CONFIG: the spatial tile (virtual neurons)",
        members=tuple(f"size{i}" for i in range(MAX_DIMS)),
    ),
    Field(
        "stride",
        ("config",),
        "the layer's stride (rows, cols) for a conv2d, else 0",
        members=("stride_y", "stride_x"),
    ),
    Field(
        "steps",
        ("config",),
        "MAERI: the controller's port costs of the spatial tile and its slowest VN's partial-sum "
        "round trips and last-fold latency, derived by the simulator before a run (`simulator.arch.maeri.derive_steps`), "
        "never written by the compiler",
        members=(
            "c_w",
            "c_full",
            "c_col",
            "e_full",
            "e_col",
            "aux_ms",
            "c_full0",
            "c_col0",
            "c_wi",
            "c_wi0",
            "rt_cycles",
            "rt_count",
            "rt_drain",
        ),  # fmt: skip
    ),
    Field(
        "sparse",
        ("compute",),
        "SIGMA: the bitmap statistics of the tile's weights (simulator/arch/sigma.py): its "
        "timing and traffic, then STONNE's energy events per streamed column",
        members=(
            "sg_iters",
            "sg_fill",
            "sg_col",
            "sg_kreads",
            "w_nnz",
            "w_bitmap_bits",
            "sg_fwd",
            "sg_vns",
            "sg_three",
            "sg_rn",
        ),  # fmt: skip
    ),
    Field(
        "vector",
        ("vector",),
        "an operator on the vector unit: its operations, the bytes it reads from and writes to "
        "DRAM, and 1 when it runs in the output stage of the accelerator layer before it "
        "(fused, simulator/vector.py)",
        members=("vec_ops", "vec_read", "vec_write", "vec_fused"),
    ),
)
# The width of `sparse` (compiler/tiling.py sizes the statistics it computes with it).
NUM_SPARSE_FIELDS = ROW.field("sparse").width


@dataclass
class Layer:
    """One operation of the model, in execution order."""

    name: str
    kind: str  # "conv2d" | "matmul" for the accelerator; the ONNX op type for host operations
    on_accel: bool
    inputs: list[str]  # tensor names; "" marks an absent optional input
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)
    # Accelerator layers only:
    dims: dict[str, int] = field(default_factory=dict)  # loop dimension -> extent
    mapping: dict[str, Any] = field(default_factory=dict)  # dataflow, spatial, tiles, order, ...
    instr_begin: int = 0
    instr_end: int = 0
    # An operator run in an accelerator layer's output stage: that layer's name (accel-fuse).
    fused_into: str = ""

    @property
    def macs(self) -> int:
        if not self.on_accel:
            return 0
        return int(np.prod([v for v in self.dims.values()], dtype=np.int64))


@dataclass
class Program:
    instrs: np.ndarray
    layers: list[Layer]
    constants: dict[str, np.ndarray]
    tensors: dict[str, tuple[int, ...]]
    inputs: list[str]
    outputs: list[str]
    target: dict[str, Any] = field(default_factory=dict)
    # Constants whose values were elided from the IR the program was assembled from: the
    # program simulates for timing, but cannot run functionally.
    elided_constants: list[str] = field(default_factory=list)
    # The numpy dtype of each graph input ("float32", "int64", "int32", "bool"); absent: float32.
    input_dtypes: dict[str, str] = field(default_factory=dict)

    def input_dtype(self, name: str) -> np.dtype:
        """The dtype graph input `name` takes (float32 unless the model says otherwise)."""
        return np.dtype(self.input_dtypes.get(name, "float32"))

    def __post_init__(self) -> None:
        self.instrs = np.asarray(self.instrs, dtype=np.int64).reshape(-1, ROW.num_columns)

    @property
    def num_instructions(self) -> int:
        return int(self.instrs.shape[0])

    def accel_layers(self) -> list[Layer]:
        return [layer for layer in self.layers if layer.on_accel]

    def save(self, folder: str | Path) -> Path:
        """Write `program.npz` (instructions, constants) and `program.json` (metadata)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"instrs": self.instrs}
        const_keys = {}
        for i, (name, value) in enumerate(self.constants.items()):
            const_keys[name] = f"const{i}"
            arrays[f"const{i}"] = np.asarray(value)
        np.savez(folder / "program.npz", **arrays)
        meta = {
            "format_version": FORMAT_VERSION,
            "fields": list(ROW.column_names),
            "layers": [asdict(layer) for layer in self.layers],
            "constants": const_keys,
            "tensors": {k: list(v) for k, v in self.tensors.items()},
            "inputs": self.inputs,
            "outputs": self.outputs,
            "target": self.target,
            "elided_constants": self.elided_constants,
            "input_dtypes": self.input_dtypes,
        }
        (folder / "program.json").write_text(json.dumps(meta, indent=1))
        return folder

    @staticmethod
    def load(folder: str | Path) -> Program:
        folder = Path(folder)
        meta = json.loads((folder / "program.json").read_text())
        version = meta.get("format_version")
        if version != FORMAT_VERSION:
            raise ProgramFormatError(
                f"{folder}: the program is format {version}, this accelflow reads format "
                f"{FORMAT_VERSION} only: compile the model again"
            )
        with np.load(folder / "program.npz") as data:
            instrs = data["instrs"]
            constants = {name: data[key] for name, key in meta["constants"].items()}
        return Program(
            instrs=instrs,
            layers=[Layer(**layer) for layer in meta["layers"]],
            constants=constants,
            tensors={k: tuple(v) for k, v in meta["tensors"].items()},
            inputs=meta["inputs"],
            outputs=meta["outputs"],
            target=meta["target"],
            elided_constants=meta.get("elided_constants", []),
            input_dtypes=meta.get("input_dtypes", {}),
        )

    def to_asm(self, max_lines: int | None = None) -> str:
        """Readable assembly: one line per instruction, grouped by layer."""
        lines: list[str] = []
        for index, layer in enumerate(self.layers):
            where = "accel" if layer.on_accel else "host"
            lines.append(
                f"; layer {index} {layer.name} [{layer.kind} on {where}] "
                f"{', '.join(layer.inputs)} -> {', '.join(layer.outputs)}"
            )
            for row in self.instrs[layer.instr_begin : layer.instr_end]:
                lines.append("  " + format_instruction(row, layer.kind))
                if max_lines is not None and len(lines) >= max_lines:
                    lines.append("  ...")
                    return "\n".join(lines)
        return "\n".join(lines)


def _named(values: Mapping[str, Any]) -> str:
    return " ".join(f"{name}={int(value)}" for name, value in values.items())


def format_instruction(row: np.ndarray, kind: str = "conv2d") -> str:
    r = ROW.view(row)
    op = int(r.opcode)
    dims = LAYER_DIMS.get(kind, CONV_DIMS)
    tile = " ".join(f"{d}={int(o)}+{int(s)}" for d, o, s in zip(dims, r.off, r.size, strict=False))
    if op == OP_CONFIG:
        text = f"config    dataflow={DATAFLOWS[int(r.dataflow)]}"
        if r.size.any():
            spatial = _named(dict(zip(dims, r.size, strict=False)))
            text += f" spatial {spatial}"
            if r.steps.any():  # derived by the simulator (a prepared stream)
                text += " " + _named(dict(zip(ROW.field("steps").members, r.steps, strict=True)))
        return text
    if op == OP_LOAD:
        return f"load      {BUFFER_NAMES[int(r.buffer)]}[{int(r.slot)}] bytes={int(r.bytes)} {tile}"
    if op == OP_VECTOR:
        return (
            f"vector    {kind} ops={int(r.vec_ops)} read={int(r.vec_read)} write={int(r.vec_write)}"
            + (" fused" if r.vec_fused else "")
        )
    if op == OP_COMPUTE:
        gemm = "x".join(str(int(v)) for v in r.gemm)
        text = (
            f"compute   in[{int(r.s_in)}] w[{int(r.s_w)}] out[{int(r.s_out)}] "
            f"acc={int(r.acc)} gemm={gemm} {tile}"
        )
        if r.sparse.any():
            text += " sparse " + _named(
                dict(zip(ROW.field("sparse").members, r.sparse, strict=True))
            )
        return text
    if op == OP_STORE:
        return f"store     output[{int(r.slot)}] bytes={int(r.bytes)} {tile}"
    return OPCODE_NAMES.get(op, f"op{op}")
