"""Hardware search (`accelflow tune --hw`): the target parameters marked tunable, under a budget.

    target, result = tune_hardware("alexnet.onnx", "maeri-128", TuneConfig(budget=2000),
                                   hw_budget=64, log="maps.log.jsonl", db="maps.json")

The space (`HardwareSpace`) has one axis per tunable field of the target's architecture
(the family's `tunable_hardware`: systolic rows and cols; MAERI/SIGMA multipliers and distribution /
reduction bandwidths; global-buffer sizes; SRAM banks; DRAM bandwidth), each over powers of two
around the base target's value (which is always a point). A point is legal when it builds a valid
`Target` and stays within the budget: PEs (rows x cols, or multipliers) <= `pe_budget`, the three
buffers together <= `buffer_kib_budget` KiB, DRAM bandwidth <= `dram_bw_budget` bytes/cycle
(each defaults to the base target's, so the search redistributes the same silicon).

The same strategies search it (they only need genomes, `legal`, `sample`, `neighbours`,
`enumerate`). A hardware point's cost is the model's latency by the cost model: per distinct
layer, the best of the default mapping and `inner` random legal mappings, times the number of
layers sharing it. Every point is appended to `<log>.hw.jsonl` as it is scored (a resumed run
answers it from there). The best point is then tuned in full (`tuner.tune.tune`, or `resume`
when its log exists) and returned with the result.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from simulator.errors import AccelflowError
from simulator.target import Target, TargetError, load_target, make_target
from tuner.cost_model import evaluate
from tuner.log import TuneError, TuneLog
from tuner.space import MappingSpace, mixed_radix
from tuner.strategies import make_strategy
from tuner.tune import TuneConfig, TuneResult, model_layers, resume, tune

# The fields every target may tune (the family's own: `Family.tunable_hardware`, with their
# ranges), and the range of powers of two each may take.
COMMON_FIELDS = (
    "ifmap_sram_kib",
    "filter_sram_kib",
    "ofmap_sram_kib",
    "sram_banks",
    "dram_bw_bytes_per_cycle",
)
RANGES: dict[str, tuple[float, float]] = {
    "ifmap_sram_kib": (4, 4096),
    "filter_sram_kib": (4, 4096),
    "ofmap_sram_kib": (4, 4096),
    "sram_banks": (1, 256),
    "dram_bw_bytes_per_cycle": (1, 1024),
}


class HardwareSpace:
    """Target variants as genomes (one index per tunable field; see the module docstring)."""

    def __init__(
        self,
        base: Target,
        pe_budget: int | None = None,
        buffer_kib_budget: float | None = None,
        dram_bw_budget: float | None = None,
    ):
        self.base = base
        own = base.family.tunable_hardware
        common = tuple(f for f in COMMON_FIELDS if f in Target.tunable_fields())
        self.fields = (*own, *common)
        self.ranges = {**RANGES, **own}
        self.pe_budget = pe_budget if pe_budget is not None else base.num_pes
        self.buffer_kib_budget = (
            buffer_kib_budget
            if buffer_kib_budget is not None
            else base.ifmap_sram_kib + base.filter_sram_kib + base.ofmap_sram_kib
        )
        self.dram_bw_budget = (
            dram_bw_budget if dram_bw_budget is not None else base.dram_bw_bytes_per_cycle
        )
        axes = []
        for f in self.fields:
            lo, hi = self.ranges[f]
            current = getattr(base, f)
            values = {current}
            v = 1
            while v <= hi:
                if v >= lo:
                    values.add(type(current)(v))
                v *= 2
            axes.append(tuple(sorted(values)))
        self.axes = tuple(axes)
        self.sizes = np.array([len(a) for a in self.axes], np.int64)
        self.default_genome = np.array(
            [a.index(getattr(base, f)) for f, a in zip(self.fields, self.axes, strict=True)]
        )

    @property
    def size(self) -> int:
        return math.prod(int(s) for s in self.sizes)

    def target(self, genome: np.ndarray) -> Target:
        changes = {f: a[int(i)] for f, a, i in zip(self.fields, self.axes, genome, strict=True)}
        name = f"{self.base.name}-hw"
        return make_target({**self.base.to_dict(), **changes, "name": name})

    def fields_of(self, genome: np.ndarray) -> dict[str, Any]:
        return {f: a[int(i)] for f, a, i in zip(self.fields, self.axes, genome, strict=True)}

    def legal(self, genomes: np.ndarray) -> np.ndarray:
        g = np.asarray(genomes, np.int64).reshape(-1, len(self.axes))
        ok = np.zeros(len(g), bool)
        for i, row in enumerate(g):
            try:
                t = self.target(row)
            except (TargetError, ValueError):
                continue
            kib = t.ifmap_sram_kib + t.filter_sram_kib + t.ofmap_sram_kib
            ok[i] = (
                t.num_pes <= self.pe_budget
                and kib <= self.buffer_kib_budget
                and t.dram_bw_bytes_per_cycle <= self.dram_bw_budget
            )
        return ok

    def sample(self, rng: np.random.Generator, n: int, max_rounds: int = 64) -> np.ndarray:
        found, count = [], 0
        for _ in range(max_rounds):
            g = rng.integers(0, self.sizes, size=(max(4 * (n - count), 64), len(self.axes)))
            g = g[self.legal(g)]
            found.append(g)
            count += len(g)
            if count >= n:
                break
        return np.concatenate(found)[:n]

    def enumerate(self, start: int = 0, count: int | None = None) -> np.ndarray:
        return mixed_radix(self.sizes, start, count)

    def neighbours(
        self, genomes: np.ndarray, rng: np.random.Generator, steps: int = 1
    ) -> np.ndarray:
        """Each genome with `steps` fields moved one or two powers of two up or down."""
        g = np.array(genomes, np.int64, copy=True).reshape(-1, len(self.axes))
        rows = np.arange(len(g))
        for _ in range(steps):
            a = rng.integers(0, len(self.axes), len(g))
            step = np.where(rng.random(len(g)) < 0.5, -1, 1) * rng.integers(1, 3, len(g))
            g[rows, a] = np.clip(g[rows, a] + step, 0, self.sizes[a] - 1)
        return g


def model_cost(layers: list, target: Target, inner: int, seed: int) -> float:
    """The model's latency on `target` by the cost model: per distinct layer, the best of its
    default mapping and `inner` random legal mappings, once per layer sharing it."""
    from compiler.tiling import MappingError, default_mapping

    rng = np.random.default_rng(seed)
    total = 0.0
    for task in layers:
        try:
            base = default_mapping(task.shape, target)
        except MappingError:
            return math.inf  # the layer cannot be mapped on this hardware
        space = MappingSpace(task.shape, target, base=base)
        genomes = np.concatenate([space.default_genome[None], space.sample(rng, inner)])
        latency = evaluate(task.shape, target, space.decode(genomes))["latency_cycles"]
        total += float(np.min(latency)) * len(task.names)
    return total


def hw_log_path(log: str | Path) -> Path:
    log = Path(log)
    return log.with_name(log.stem + ".hw" + log.suffix) if log.suffix else Path(f"{log}.hw")


def tune_hardware(
    model: str | Path,
    target: str | Path | Target,
    config: TuneConfig | None = None,
    hw_budget: int = 64,
    pe_budget: int | None = None,
    buffer_kib_budget: float | None = None,
    dram_bw_budget: float | None = None,
    inner: int = 256,
    log: str | Path | None = None,
    db: str | Path | None = None,
    executor: Any = "inprocess",
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    overrides: list[str] | None = None,
    on_progress: Any = None,
) -> tuple[Target, TuneResult]:
    """Search the hardware (see the module docstring), then tune the mappings of the best."""
    config = config or TuneConfig()
    config.check()
    if hw_budget < 1:
        raise TuneError("the hardware budget must be >= 1 point")
    base = target if isinstance(target, Target) else load_target(target, list(overrides or []))
    space = HardwareSpace(base, pe_budget, buffer_kib_budget, dram_bw_budget)
    if not space.legal(space.default_genome[None])[0]:
        raise TuneError(
            f"the base target {base.name} is outside the budget (PEs <= {space.pe_budget}, "
            f"buffers <= {space.buffer_kib_budget} KiB, DRAM <= {space.dram_bw_budget} B/cycle)"
        )
    layers = model_layers(model, base, input_shapes)
    hw_log = hw_log_path(log) if log is not None else None
    budget = {
        "pe": space.pe_budget,
        "buffer_kib": space.buffer_kib_budget,
        "dram_bw": space.dram_bw_budget,
    }
    header = TuneLog.new_header(
        model, input_shapes, base.to_dict(), budget=budget, hw_budget=hw_budget, inner=inner,
        config=config.to_json(), db=str(db) if db is not None else None,
    )  # fmt: skip
    cache: dict[bytes, float] = {}
    if TuneLog.has_records(hw_log):
        records = TuneLog.read(hw_log)
        logged = {k: v for k, v in records[0].items() if k != "hw_budget"}
        if logged != {k: v for k, v in header.items() if k != "hw_budget"}:
            changed = sorted(k for k in header if k != "hw_budget" and logged.get(k) != header[k])
            raise TuneError(
                f"{hw_log}: logged by a hardware search with other settings "
                f"({', '.join(changed)}); resume it with the same ones or pick a new log"
            )
        for r in records[1:]:
            if r.get("type") == "hw":
                cost = r["cost"]
                cache[np.asarray(r["g"], np.int64).tobytes()] = (
                    math.inf if cost is None else float(cost)
                )
        writer = TuneLog(hw_log)
    else:
        writer = TuneLog(hw_log)
        writer.write([header])
    strategy = make_strategy(config.strategy, space, config.seed)  # type: ignore[arg-type]
    seen: dict[bytes, float] = {}
    try:
        while len(seen) < hw_budget:
            genomes = strategy.ask(min(16, hw_budget - len(seen)))
            if genomes is None or len(genomes) == 0:
                break
            costs, records = [], []
            for g in genomes:
                key = g.tobytes()
                if key not in cache:
                    try:
                        cost = model_cost(layers, space.target(g), inner, config.seed)
                    except AccelflowError:
                        cost = math.inf
                    cache[key] = cost
                    records.append(
                        {
                            "type": "hw",
                            "g": g.tolist(),
                            "fields": space.fields_of(g),
                            "cost": cost if math.isfinite(cost) else None,
                        }
                    )
                seen.setdefault(key, cache[key])
                costs.append(cache[key])
            writer.write(records)
            strategy.tell(genomes, np.array(costs))
            if on_progress is not None:
                on_progress(len(seen), hw_budget, "hardware")
    finally:
        writer.close()
    if not seen:
        raise TuneError("no legal hardware point within the budget")
    best_key = min(seen, key=lambda k: (seen[k], k))
    best = space.target(np.frombuffer(best_key, np.int64))
    if TuneLog.has_records(log):
        header = TuneLog.read(log)[0]
        if make_target(header["target"]).fingerprint() != best.fingerprint():
            raise TuneError(f"{log}: its mapping search is for other hardware than the best found")
        result = resume(log, executor=executor, db=db, on_progress=on_progress)
    else:
        result = tune(
            model, best, config, log=log, db=db, executor=executor,
            input_shapes=input_shapes, on_progress=on_progress,
        )  # fmt: skip
    return best, result


def describe(space: HardwareSpace, target: Target) -> str:
    """`rows=16 cols=64 ...` for the fields the search changed."""
    return (
        " ".join(
            f"{f}={getattr(target, f)}"
            for f in space.fields
            if getattr(target, f) != getattr(space.base, f)
        )
        or "(the base target)"
    )


__all__ = ["HardwareSpace", "describe", "hw_log_path", "model_cost", "tune_hardware"]
