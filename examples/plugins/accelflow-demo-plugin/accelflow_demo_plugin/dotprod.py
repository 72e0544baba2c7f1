"""`dotprod`: a small accelerator family, out of tree (entry point group accelflow.architectures).

`lanes` dot-product units, each `vector_width` multipliers feeding an adder tree. A COMPUTE's
tile, seen as `reps` GEMMs (m x k) @ (k x n), runs output by output: the lanes take `lanes`
outputs of one row of the result at a time (along n), the row's input vector (k elements) is
broadcast to them and each lane streams its weight column through its multipliers, `vector_width`
products per cycle, then drains its tree (log2(vector_width) levels) and writes one result:

    busy   = reps * m * ceil(n / lanes) * ceil(k / vector_width) + ceil(log2(vector_width)) + 1
    reads  = input  reps * m * k * ceil(n / lanes)   (the row again for every group of lanes)
             weight reps * m * k * n                  (no weight reuse: weights stream)
    writes = output reps * m * n, read back as many when the COMPUTE adds to partial sums
    hops   = one adder-tree link per product (2 per MAC as in MAERI's trees)

An illustrative model, not a validated one: it shows what a family declares (its target fields
with limits, the hardware search's axes, its timing through `tile_cost`, which serves the JAX
engine and the numpy cost model alike) and that accelflow runs it end to end without changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from simulator.arch import Family, TileCost, cdiv, ceil_log2


class DotProductFields(BaseModel):
    """The target fields of a dotprod target (YAML / --set like any other field)."""

    model_config = ConfigDict(extra="forbid")

    lanes: int = Field(16, ge=1, le=4096)
    vector_width: int = Field(16, ge=1, le=1024)

    @field_validator("lanes", "vector_width")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value & (value - 1):
            raise ValueError("must be a power of two")
        return value


class DotProduct(Family):
    """The `dotprod` family (module docstring)."""

    name = "dotprod"
    description = "lanes of dot-product units (vector_width multipliers + adder tree each)"
    fields = DotProductFields
    tunable_hardware = {"lanes": (1, 1024), "vector_width": (1, 256)}

    def num_pes(self, target: Any) -> int:
        return int(target.lanes * target.vector_width)

    def describe(self, target: Any) -> str:
        return f"{target.lanes} lanes x {target.vector_width}"

    def params(self, target: Any) -> dict[str, Any]:
        mine = target is not None and target.arch == self.name
        return {
            "lanes": np.int64(target.lanes if mine else 1),
            "vector_width": np.int64(target.vector_width if mine else 1),
        }

    def tile_cost(self, config: Any, compute: Any, params: dict[str, Any], xp: Any) -> TileCost:
        c = compute
        lanes, width, eb = params["lanes"], params["vector_width"], params["element_bytes"]
        groups = cdiv(c.n, lanes)
        macs = c.reps * c.m * c.n * c.k
        outputs = c.reps * c.m * c.n
        busy = c.reps * c.m * groups * cdiv(c.k, width) + ceil_log2(width) + 1
        return TileCost(
            busy=busy,
            macs=macs,
            read_input=c.reps * c.m * c.k * groups * eb,
            read_weight=macs * eb,
            write_output=outputs * eb,
            read_output=outputs * c.acc * eb,
            hops=2 * macs,
            folds=c.reps * c.m * groups,
        )
