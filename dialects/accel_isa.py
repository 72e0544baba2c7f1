"""The `accel_isa` dialect: the accelerator's instructions, one op per instruction.

`accel-emit` turns each tiled layer into an `accel_isa.layer` (one program per layer) whose body is
the straight-line instruction stream; the assembler packs it into a `simulator.program.Program`
(docs/program.md gives each instruction's semantics):

    %y = accel_isa.layer "conv2d" %x, %w attributes {layer_name = "/conv1/Conv", dims = {...}, ...} : (...) -> tensor<1x8x32x32xf32> {
      accel_isa.config ws
      (MAERI: accel_isa.config "os" spatial [1, 1, 2, 2, 1, 1, 3, 3], the virtual neurons)
      accel_isa.load "weight"[0] bytes 216 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 8, 3, 32, 32, 3, 3]
      accel_isa.load "input"[0] bytes 3468 at [0, 0, 0, 0, 0, 0, 0, 0] size [1, 1, 8, 3, 32, 32, 3, 3]
      accel_isa.compute in[0] w[0] out[0] acc false gemm [1, 1024, 8, 27] at [...] size [...]
      accel_isa.store [0] bytes 8192 at [...] size [...]
    }

On a SIGMA target each compute also carries its weights' bitmap statistics:

      accel_isa.compute in[0] w[0] out[0] acc false gemm [...] at [...] size [...] sparse [2, 8, 2, 27, 54, 216]

Offsets and sizes are per loop dimension of the layer (`conv2d: n g k c y x r s`,
`matmul: g m n k`); `gemm` is the tile's GEMM view `[reps, m, n, k]`; slots are 0 or 1.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    BoolAttr,
    DenseArrayBase,
    IntegerAttr,
    StringAttr,
    i64,
)
from xdsl.ir import Attribute, Dialect
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
)
from xdsl.utils.exceptions import VerifyException

from dialects.accel import DATAFLOWS, LAYER_KINDS, OPERANDS, LayerRegionOp, i64_array
from simulator.program import LAYER_DIMS, MAX_DIMS, ROW

# SIGMA's per-tile bitmap statistics on a compute: the row schema's `sparse` members.
SPARSE_FIELD_NAMES = ROW.field("sparse").members
NUM_SPARSE_FIELDS = len(SPARSE_FIELD_NAMES)
DIMS_OF_KIND = {kind: len(dims) for kind, dims in LAYER_DIMS.items()}


def _check_tile(op: IRDLOperation, offsets: DenseArrayBase, sizes: DenseArrayBase) -> None:
    offs, sizes_ = offsets.get_values(), sizes.get_values()
    if len(offs) != len(sizes_) or not 1 <= len(offs) <= MAX_DIMS:
        raise VerifyException(
            f"{op.name}: offsets ({len(offs)}) and sizes ({len(sizes_)}) must have the same "
            f"length, 1 to {MAX_DIMS}"
        )
    if min(offs) < 0 or min(sizes_) < 1:
        raise VerifyException(f"{op.name}: offsets must be >= 0 and sizes >= 1")


def _check_slot(op: IRDLOperation, name: str, slot: IntegerAttr) -> None:
    if slot.value.data not in (0, 1):
        raise VerifyException(f"{op.name}: {name} slot {slot.value.data} is not 0 or 1")


def _check_bytes(op: IRDLOperation, nbytes: IntegerAttr) -> None:
    if nbytes.value.data < 1:
        raise VerifyException(f"{op.name}: bytes must be >= 1, got {nbytes.value.data}")


@irdl_op_definition
class ConfigOp(IRDLOperation):
    """Start of a layer: set the array's dataflow; on MAERI also the virtual neurons.

    `spatial`: the spatial tile per loop dim of the layer (STONNE's T_R, T_S, ... in our dim
    order); absent on a systolic array. The controller's step costs follow from it (the
    simulator derives them, `simulator.arch.maeri.derive_steps`): edit the spatial tile and the
    timing follows."""

    name = "accel_isa.config"

    dataflow = prop_def(StringAttr)
    spatial = opt_prop_def(DenseArrayBase[I64])

    assembly_format = "$dataflow (`spatial` $spatial^)? attr-dict"

    def __init__(self, dataflow: str, spatial: Sequence[int] | None = None):
        properties: dict[str, Attribute] = {"dataflow": StringAttr(dataflow)}
        if spatial is not None:
            properties["spatial"] = i64_array(spatial)
        super().__init__(properties=properties)

    def verify_(self) -> None:
        if self.dataflow.data not in DATAFLOWS:
            raise VerifyException(
                f"accel_isa.config: unknown dataflow '{self.dataflow.data}' "
                f"(expected one of {', '.join(DATAFLOWS)})"
            )
        if self.spatial is None:
            return
        spatial = self.spatial.get_values()
        if not 1 <= len(spatial) <= MAX_DIMS or min(spatial) < 1:
            raise VerifyException(
                f"accel_isa.config: spatial must be 1 to {MAX_DIMS} factors >= 1, got {list(spatial)}"
            )


@irdl_op_definition
class LoadOp(IRDLOperation):
    """DMA a tile from DRAM into slot `slot` of the global buffer of `buffer`."""

    name = "accel_isa.load"

    buffer = prop_def(StringAttr)
    slot = prop_def(IntegerAttr[I64])
    bytes = prop_def(IntegerAttr[I64])
    offsets = prop_def(DenseArrayBase[I64])
    sizes = prop_def(DenseArrayBase[I64])

    assembly_format = "$buffer `[` $slot `]` `bytes` $bytes `at` $offsets `size` $sizes attr-dict"

    def __init__(
        self, buffer: str, slot: int, nbytes: int, offsets: Sequence[int], sizes: Sequence[int]
    ):
        super().__init__(
            properties={
                "buffer": StringAttr(buffer),
                "slot": IntegerAttr(slot, i64),
                "bytes": IntegerAttr(nbytes, i64),
                "offsets": i64_array(offsets),
                "sizes": i64_array(sizes),
            }
        )

    def verify_(self) -> None:
        if self.buffer.data not in OPERANDS:
            raise VerifyException(
                f"accel_isa.load: unknown buffer '{self.buffer.data}' "
                f"(expected one of {', '.join(OPERANDS)})"
            )
        _check_slot(self, "buffer", self.slot)
        _check_bytes(self, self.bytes)
        _check_tile(self, self.offsets, self.sizes)


@irdl_op_definition
class ComputeOp(IRDLOperation):
    """Run one tile on the array: `gemm` = [reps, m, n, k]; `acc` adds to the partial sums.

    `sparse` (SIGMA only): the bitmap statistics of the tile's weights, [sg_iters, sg_fill,
    sg_col, sg_kreads, w_nnz, w_bitmap_bits] (simulator/arch/sigma.py, docs/program.md)."""

    name = "accel_isa.compute"

    s_in = prop_def(IntegerAttr[I64])
    s_w = prop_def(IntegerAttr[I64])
    s_out = prop_def(IntegerAttr[I64])
    acc = prop_def(BoolAttr)
    gemm = prop_def(DenseArrayBase[I64])
    offsets = prop_def(DenseArrayBase[I64])
    sizes = prop_def(DenseArrayBase[I64])
    sparse = opt_prop_def(DenseArrayBase[I64])

    assembly_format = (
        "`in` `[` $s_in `]` `w` `[` $s_w `]` `out` `[` $s_out `]` `acc` $acc `gemm` $gemm "
        "`at` $offsets `size` $sizes (`sparse` $sparse^)? attr-dict"
    )

    def __init__(
        self,
        s_in: int,
        s_w: int,
        s_out: int,
        acc: bool,
        gemm: Sequence[int],
        offsets: Sequence[int],
        sizes: Sequence[int],
        sparse: Sequence[int] | None = None,
    ):
        properties: dict[str, Attribute] = {
            "s_in": IntegerAttr(s_in, i64),
            "s_w": IntegerAttr(s_w, i64),
            "s_out": IntegerAttr(s_out, i64),
            "acc": BoolAttr.from_bool(acc),
            "gemm": i64_array(gemm),
            "offsets": i64_array(offsets),
            "sizes": i64_array(sizes),
        }
        if sparse is not None:
            properties["sparse"] = i64_array(sparse)
        super().__init__(properties=properties)

    def verify_(self) -> None:
        for name, slot in (("input", self.s_in), ("weight", self.s_w), ("output", self.s_out)):
            _check_slot(self, name, slot)
        gemm = self.gemm.get_values()
        if len(gemm) != 4 or min(gemm) < 1:
            raise VerifyException(
                f"accel_isa.compute: gemm must be [reps, m, n, k] with every value >= 1, got {list(gemm)}"
            )
        _check_tile(self, self.offsets, self.sizes)
        if self.sparse is not None:
            sparse = self.sparse.get_values()
            if len(sparse) != NUM_SPARSE_FIELDS or min(sparse) < 0:
                raise VerifyException(
                    f"accel_isa.compute: sparse must be {NUM_SPARSE_FIELDS} values >= 0 "
                    f"[{', '.join(SPARSE_FIELD_NAMES)}], got {list(sparse)}"
                )


@irdl_op_definition
class StoreOp(IRDLOperation):
    """DMA output slot `slot` (a finished tile or partial sums) to DRAM."""

    name = "accel_isa.store"

    slot = prop_def(IntegerAttr[I64])
    bytes = prop_def(IntegerAttr[I64])
    offsets = prop_def(DenseArrayBase[I64])
    sizes = prop_def(DenseArrayBase[I64])

    assembly_format = "`[` $slot `]` `bytes` $bytes `at` $offsets `size` $sizes attr-dict"

    def __init__(self, slot: int, nbytes: int, offsets: Sequence[int], sizes: Sequence[int]):
        super().__init__(
            properties={
                "slot": IntegerAttr(slot, i64),
                "bytes": IntegerAttr(nbytes, i64),
                "offsets": i64_array(offsets),
                "sizes": i64_array(sizes),
            }
        )

    def verify_(self) -> None:
        _check_slot(self, "output", self.slot)
        _check_bytes(self, self.bytes)
        _check_tile(self, self.offsets, self.sizes)


INSTRUCTION_OPS = (ConfigOp, LoadOp, ComputeOp, StoreOp)


@irdl_op_definition
class LayerOp(LayerRegionOp):
    """One layer's program: operands and result as tensors, the instructions in the body.

    Properties as `accel.tiled`: kind, layer_name, dims, geometry, mapping."""

    name = "accel_isa.layer"

    def verify_(self) -> None:
        name = self.layer_name.data
        if self.kind.data not in LAYER_KINDS:
            raise VerifyException(f"accel_isa.layer '{name}': unknown kind '{self.kind.data}'")
        ops = list(self.body.block.ops)
        if not ops or not isinstance(ops[0], ConfigOp):
            raise VerifyException(f"accel_isa.layer '{name}': the program must start with config")
        ndims = DIMS_OF_KIND[self.kind.data]
        for op in ops:
            if not isinstance(op, INSTRUCTION_OPS):
                raise VerifyException(f"accel_isa.layer '{name}': {op.name} is not an instruction")
            if isinstance(op, ConfigOp):
                if op.spatial is not None and len(op.spatial.get_values()) != ndims:
                    raise VerifyException(
                        f"accel_isa.layer '{name}': config has {len(op.spatial.get_values())} "
                        f"spatial factors, a {self.kind.data} has {ndims} dims"
                    )
                continue
            if len(op.offsets.get_values()) != ndims:
                raise VerifyException(
                    f"accel_isa.layer '{name}': {op.name} has {len(op.offsets.get_values())} "
                    f"tile dims, a {self.kind.data} has {ndims}"
                )


AccelISA = Dialect("accel_isa", [LayerOp, *INSTRUCTION_OPS], [])
