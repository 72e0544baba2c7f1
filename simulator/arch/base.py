"""The accelerator-family interface (`Family`) and the array helpers every family shares.

A family is one kind of accelerator (a systolic array, MAERI, SIGMA, or one an out-of-tree
package registers, docs/extending.md). It is the one home of everything that differs between
kinds; the passes, the tile search, the cost model, the tuner's space and the engine ask it:

    target       `fields` (a pydantic model of the family's own target fields, for a plugin),
                 `check_target`, `num_pes`, `tunable_hardware` (the hardware search's axes),
                 `unread_fields` (other families' fields it ignores)
    mapping      `dataflows` (what accel-map may choose), `spatial_axes`, `default_spatial`
                 (the heuristic's spatial unroll), `check_spatial` (legality), `spatial_options`
                 and `spatial_batch` (the tuner's spatial axes, vectorised legality), the tile
                 search's `tile_floors`
    program      `config_values` (the CONFIG row's family fields), `load_bytes` (what a LOAD
                 moves, e.g. bitmap-compressed weights), `compute_values` (per-COMPUTE data
                 from the weights), `prepare_rows` (fields the simulator derives before a run)
    timing       `params` (the traced target parameters), `tile_cost` (busy cycles, MACs,
                 global-buffer bytes, network hops of one COMPUTE): ONE function for the JAX
                 engine (`xp=jax.numpy`, inside `lax.switch` / `vmap`) and the numpy cost model
                 (`xp=numpy`, on arrays of tile shapes); energy events are its MACs, hops and
                 bytes, priced by `simulator.energy`.

`tile_cost(config, compute, params, xp)` reads its inputs by name: `config` the layer's CONFIG
row (`kind`, `dataflow`, `size` the family's spatial fields, `steps`, `stride`, ...), `compute`
the COMPUTE row (`reps m n k`, `dataflow`, `acc`, `size` the tile per loop dim, `sparse`), as
`simulator.program.ROW.view` gives them in the engine; the cost model passes `Fields` of arrays
with the same names. Index groups on their first axis only (`compute.size[i]`), so both work.

A family's methods have defaults that fit a family without spatial unroll, dataflow choice or
derived fields: a plugin overrides what it needs (`name`, `tile_cost` at least).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

if TYPE_CHECKING:
    import pydantic

    from simulator.target import Target
    from simulator.workload import LayerShape, Mapping


def default_xp() -> Any:
    """The array namespace of the timing functions when none is given: `jax.numpy` (imported
    on first use, so that compile-time callers never load JAX)."""
    import jax.numpy as jnp

    return jnp


def divisors(n: int, limit: int | None = None) -> list[int]:
    """The divisors of n up to `limit` (all of them without one); [1] when none is."""
    top = n if limit is None else min(n, max(limit, 1))
    return [d for d in range(1, top + 1) if n % d == 0] or [1]


def cdiv(a: Any, b: Any) -> Any:
    """Ceiling division of non-negative integers (arrays or scalars)."""
    return (a + b - 1) // b


def ceil_log2(v: Any, bits: int = 32) -> Any:
    """ceil(log2(v)) of integers v >= 1 without floating point (0 for v = 1)."""
    return sum(((v - 1) >> i) > 0 for i in range(bits))


class TileCost(NamedTuple):
    """What one COMPUTE costs (scalars in the engine, arrays in the cost model): cycles the
    array is busy, MACs executed, global-buffer BYTES read (input, weight, output partial sums)
    and written (output), element hops on the array's network (energy events), folds."""

    busy: Any
    macs: Any
    read_input: Any
    read_weight: Any
    write_output: Any
    read_output: Any
    hops: Any
    folds: Any


class Fields:
    """Named values, read as attributes (`fields.m`), the cost model's stand-in for a row view."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getitem__(self, name: str) -> Any:
        return self.__dict__[name]


@dataclass(frozen=True)
class SpatialBatch:
    """The spatial part of B candidate mappings, as the cost model and the tuner's space need
    it: `multipliers` [B] the PEs a full tile occupies, `legal` [B] within the family's limits (the
    spatial factors clamped to the buffer tiles),
    `config` the CONFIG fields (`Fields` of [B] arrays or [B, W] groups) `tile_cost` reads."""

    multipliers: np.ndarray
    legal: np.ndarray
    config: Fields


# Target fields of some families only (`Family.unread_fields` names those a family ignores): the
# systolic array's, the multiplier switches' (MAERI and SIGMA) and SIGMA's sparse operands'.
ARRAY_FIELDS = ("rows", "cols")
SWITCH_FIELDS = ("num_multipliers", "dn_bw_elems_per_cycle", "rn_bw_elems_per_cycle")
SPARSE_FIELDS = ("sparse_weights", "sparse_activations", "activation_density")


class Family:
    """An accelerator family (see the module docstring). Subclass it, set `name`, override
    `tile_cost`, and register an instance (`simulator.arch.register`, or the entry-point group
    `accelflow.architectures`)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    # The family's own target fields (a pydantic BaseModel: names, types, defaults, limits); a
    # target of this family takes them as ordinary fields (YAML, --set). None: none of its own.
    fields: ClassVar[type[pydantic.BaseModel] | None] = None
    # Target fields the hardware search may change, each with the range of powers of two it
    # may take (`tuner/hardware.py`).
    tunable_hardware: ClassVar[dict[str, tuple[float, float]]] = {}
    # The array axes a mapping's spatial unroll may name; `spatial_is_unroll`: the factors are
    # the real unroll (else descriptive: the timing reads the GEMM view).
    spatial_axes: ClassVar[tuple[str, ...]] = ()
    spatial_is_unroll: ClassVar[bool] = False
    # `prepare_rows` gives every row the same derived fields when each layer's rows are reduced
    # to their distinct ones (equal but for `off` and `layer`), in first-occurrence order: what
    # the fast-forward prepares (simulator/fastforward.py). False: timing runs the full scan.
    prepare_rows_on_distinct: ClassVar[bool] = True
    # The lowering hands the layer's weights to `compute_values` (SIGMA's bitmap statistics).
    uses_weights: ClassVar[bool] = False
    # `tile_cost` computes only the given dataflow's formulas when the COMPUTE fields' dataflow
    # is one number (the cost model then scores each dataflow's candidates apart).
    one_dataflow_cheaper: ClassVar[bool] = False
    # Target fields every target has that this family never reads (another family's: a systolic
    # array has no multiplier switches): `Target.unread_fields`. A `--set` of one warns, a sweep
    # over one is refused. Default: none (a plugin that does not say is never warned about).
    unread_fields: ClassVar[tuple[str, ...]] = ()

    # -- target ---------------------------------------------------------------------------------

    def check_target(self, target: Target) -> None:
        """Raise ValueError (its message names the fields) for a target this family cannot be."""

    def num_pes(self, target: Target) -> int:
        """Processing elements (utilisation's denominator)."""
        return int(target.num_multipliers)

    def describe(self, target: Target) -> str:
        """The array in a few words, for tables (`accelflow targets`)."""
        return f"{self.num_pes(target)} PEs"

    # -- mapping --------------------------------------------------------------------------------

    def dataflows(self, target: Target) -> tuple[str, ...]:
        """The dataflows a mapping may choose on this target (the tuner's dataflow axis)."""
        return (target.dataflow,)

    def default_tile_options(
        self, shape: LayerShape, mapping: Mapping, target: Target
    ) -> list[dict[str, int]]:
        """Other buffer tiles (smaller ones, which fit where `mapping`'s do) the default mapping
        should weigh against `choose_tiles`' for this family; `default_mapping` keeps the one
        with the fewest cycles by the cost model. Default: none."""
        return []

    def default_spatial(self, shape: LayerShape, mapping: Mapping, target: Target) -> Mapping:
        """`mapping` (its buffer tiles chosen) with the family's spatial unroll: its own,
        clamped to the tiles, if it has one, else the default heuristic's."""
        return mapping

    def check_spatial(
        self, shape: LayerShape, mapping: Mapping, target: Target, where: str
    ) -> None:
        """Raise `MappingError` (prefixed by `where`) for a spatial unroll this target cannot run."""
        from simulator.workload import MappingError

        if mapping.spatial:
            raise MappingError(
                f"{where}a {self.name} target takes no spatial unroll (got "
                f"{' '.join(sorted(mapping.spatial))})"
            )

    def parse_spatial(self, text: str, kind: str) -> dict[str, int]:
        """A spatial tile typed by a user (accel-map's `spatial` option) as {dim: factor}."""
        from simulator.workload import MappingError

        raise MappingError(f"a {self.name} target takes no spatial option")

    def with_spatial(
        self, shape: LayerShape, mapping: Mapping, target: Target, factors: dict[str, int]
    ) -> Mapping:
        """`mapping` with the spatial factors `factors` (clamped to its buffer tiles)."""
        return mapping

    def spatial_factors(self, shape: LayerShape, mapping: Mapping) -> dict[str, int]:
        """The real spatial factor of every dim (1 where not unrolled, or descriptive)."""
        return {d: 1 for d in shape.dim_names}

    def spatial_options(self, shape: LayerShape, target: Target) -> dict[str, list[int]]:
        """The tuner's spatial axes: per dim the factors it may take ({} : none tunable)."""
        return {}

    def spatial_batch(
        self, shape: LayerShape, target: Target, tiles: np.ndarray, spatial: np.ndarray,
        dataflow: np.ndarray, with_config: bool = True,
    ) -> SpatialBatch:  # fmt: skip
        """Vectorised spatial part of B candidates: tiles, spatial [B, D] (dims in
        `shape.dim_names` order), dataflow [B] codes; `with_config=False`: legality only (the
        CONFIG fields may be left empty)."""
        b = len(tiles)
        return SpatialBatch(np.full(b, self.num_pes(target)), np.ones(b, bool), Fields())

    def tile_floors(
        self, shape: LayerShape, dataflow: str, target: Target
    ) -> list[tuple[tuple[str, ...], int]]:
        """(dims of a GEMM axis, minimum product) the tile search tries to keep per tile."""
        from simulator.workload import GEMM_AXES

        dims = GEMM_AXES[shape.kind]["k"]
        return [(dims, min(self.num_pes(target), math.prod(shape.dims[d] for d in dims)))]

    # -- program --------------------------------------------------------------------------------

    def config_values(self, shape: LayerShape, mapping: Mapping, target: Target) -> dict[str, Any]:
        """The family's fields of the layer's CONFIG row (`ROW.encode` keywords)."""
        return {}

    def load_bytes(
        self,
        shape: LayerShape,
        target: Target,
        nbytes: list[Any],
        sizes: dict[str, Any],
        w_nnz: Any = None,
    ) -> list[Any]:
        """Bytes the LOADs of input, weight and output tiles of `sizes` move, from the dense
        `nbytes` (footprint x element bytes); `w_nnz`: the weight tiles' non-zeros that
        `compute_values` counted (None: dense). Default: the dense bytes."""
        return nbytes

    def compute_values(
        self,
        shape: LayerShape,
        target: Target,
        weights: np.ndarray | None,
        off: np.ndarray,
        size: np.ndarray,
    ) -> tuple[dict[str, Any], np.ndarray | None]:
        """Per COMPUTE (rows off, size [N, D]): the family's COMPUTE row fields computed from the
        layer's weights, and the weight tiles' non-zeros (None: dense)."""
        return {}, None

    def tile_fields(self, shape: LayerShape, target: Target, sizes: dict[str, Any]) -> Fields:
        """The COMPUTE fields `compute_values` gives tiles of `sizes` (arrays) with dense
        weights: what the cost model, which scores mappings without weights, reads."""
        return Fields()

    def prepare_rows(self, rows: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """The rows of one stream with the fields the simulator derives filled in (numpy, before
        the jitted run; `params` this family's `params` of the target). Default: unchanged."""
        return rows

    # -- timing ---------------------------------------------------------------------------------

    def params(self, target: Target | None) -> dict[str, Any]:
        """The family's traced target parameters (numpy scalars of fixed dtypes). `target` None
        (or another family's): neutral values of the same dtypes, so that targets of every
        family stack into one batch."""
        return {}

    def tile_cost(self, config: Any, compute: Any, params: dict[str, Any], xp: Any) -> TileCost:
        """The cost of one COMPUTE (module docstring)."""
        raise NotImplementedError(f"accelerator family '{self.name}' has no tile_cost")


FamilyFactory = Callable[[], Family]
