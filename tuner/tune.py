"""The autotuner: per layer, a strategy proposes mappings, the cost model ranks them, the
simulator decides among the best; results go to a JSON-lines log and a mapping database.

    result = tune("alexnet.onnx", "maeri-128", TuneConfig(strategy="evolutionary", budget=4000),
                  log="tune.jsonl", db="maps.json")
    result = resume("tune.jsonl")                     # a run killed at any moment goes on

How a run goes:
1. The model is imported and mapped by default (`onnx-to-accel,accel-map`); its accelerator
   layers are grouped by signature (`LayerShape.signature`: ResNet's repeated blocks are tuned
   once). Each layer gets a `MappingSpace` (what the passes declare tunable) and a strategy
   seeded with `seed + layer position`.
2. Rounds: every layer still searching asks its strategy for `batch` points; the batches are
   scored by the cost model on the executor (in-process, a process pool or Ray), and each
   point's figures are appended to the log as its batch finishes; then the costs are told back.
   A layer stops when it has scored `budget` distinct points, or its strategy is exhausted;
   all stop when `time_limit` seconds have passed.
3. The best `top_k` distinct mappings by the cost model and the default mapping are simulated
   together (one `vmap` batch); the simulator's cycles decide (ties keep the default), so the
   tuned mapping is never slower than the default. The layer's entry is written to the
   database (atomically, after every layer) and a `done` record to the log.

The log's records are described in `tuner/log.py`. Resuming reads it back: a torn last line
(a kill mid-write) is cut off, every logged point is told to a fresh strategy again instead of
being evaluated (the strategies are deterministic), so the resumed run asks, scores and decides
exactly what the uninterrupted run would have. A whole run as `accelflow tune` does it (checks,
hardware search, verification) is `tuner/session.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compiler.tile_search import MAX_TILES
from compiler.tiling import LayerShape, Mapping
from simulator.errors import MAX_SEED, checked_number
from simulator.target import Target, load_target, make_target
from tuner.cost_model import evaluate
from tuner.db import OBJECTIVES, MappingDB, objective_value
from tuner.executors import Executor, make_executor
from tuner.log import LoggedRun, TuneError, TuneLog, mapping_key
from tuner.space import AXIS_GROUPS, MappingSpace
from tuner.strategies import STRATEGIES, make_strategy

if TYPE_CHECKING:
    from tuner.session import Verification

# Cost-model figures kept per evaluated point (in the log and for the table).
EVAL_FIGURES = ("latency_cycles", "energy_pj", "dram_bytes", "utilisation", "roofline_cycles")


@dataclass(frozen=True)
class TuneConfig:
    strategy: str = "evolutionary"
    budget: int = 2000  # distinct points scored by the cost model, per layer
    time_limit: float | None = None  # seconds for the whole search (None: no limit)
    seed: int = 0
    top_k: int = 8  # best points by the cost model that the simulator decides among
    batch: int = 256  # points asked per layer per round
    objective: str = "latency"  # what the cost model minimises: latency, energy or edp
    axes: tuple[str, ...] = AXIS_GROUPS  # axis groups of the space that are searched
    max_tiles: int = MAX_TILES  # buffer-tile iterations a point must not exceed to be simulated

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise TuneError(f"unknown strategy '{self.strategy}' (one of {', '.join(STRATEGIES)})")
        if self.objective not in OBJECTIVES:
            raise TuneError(
                f"unknown objective '{self.objective}' (one of {', '.join(OBJECTIVES)})"
            )
        if self.budget < 1 or self.top_k < 0 or self.batch < 1 or self.max_tiles < 1:
            raise TuneError("budget, batch and max-tiles must be >= 1, top-k >= 0")
        checked_number(self.seed, "seed", minimum=0, maximum=MAX_SEED, error=TuneError)
        if self.time_limit is not None:
            checked_number(self.time_limit, "time limit", minimum=0, error=TuneError)
        bad = [a for a in self.axes if a not in AXIS_GROUPS]
        if bad:
            raise TuneError(f"unknown axis '{bad[0]}' (one of {', '.join(AXIS_GROUPS)})")

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "axes": list(self.axes)}

    @staticmethod
    def from_json(data: dict[str, Any]) -> TuneConfig:
        try:
            return TuneConfig(**{**data, "axes": tuple(data.get("axes", AXIS_GROUPS))})
        except TypeError as err:  # an unknown or missing key: a log written by hand
            raise TuneError(
                f"the logged search settings do not fit this accelflow ({err})"
            ) from None


@dataclass
class LayerTask:
    """One distinct accelerator layer of the model (the layers sharing its signature)."""

    index: int
    signature: str
    shape: LayerShape
    names: list[str]
    default: Mapping
    weights: np.ndarray | None = None  # SIGMA: the weight constant (bitmap statistics)


@dataclass
class LayerResult:
    task: LayerTask
    evaluations: int
    default_cycles: int
    tuned_cycles: int
    default_energy_pj: float  # simulated energy of the default and of the chosen mapping
    tuned_energy_pj: float
    mapping: Mapping
    cost_model_cycles: int  # the cost model's latency of the chosen mapping
    roofline_cycles: int
    utilisation: float
    best_after: int  # evaluations spent when the chosen point was first scored (0: default)
    # What the database did with the result: "added", "replaced", "kept" (its entry was at
    # least as good), "" (no database).
    db_status: str = ""
    # (evaluations so far, best cost so far) after each round: the convergence curve.
    history: list[tuple[int, float]] = field(default_factory=list)

    @property
    def speedup(self) -> float:
        return self.default_cycles / max(self.tuned_cycles, 1)

    def row(self) -> dict[str, Any]:
        return {
            "layers": self.task.names,
            "signature": self.task.signature,
            "evaluations": self.evaluations,
            "default_cycles": self.default_cycles,
            "tuned_cycles": self.tuned_cycles,
            "speedup": round(self.speedup, 4),
            "default_energy_pj": round(self.default_energy_pj, 3),
            "tuned_energy_pj": round(self.tuned_energy_pj, 3),
            "utilisation": round(self.utilisation, 4),
            "roofline_cycles": self.roofline_cycles,
            "roofline_fraction": round(self.roofline_cycles / max(self.tuned_cycles, 1), 4),
            "cost_model_cycles": self.cost_model_cycles,
            "best_after": self.best_after,
            "mapping": self.mapping.to_dict(),
        }


@dataclass
class TuneResult:
    target: Target
    config: TuneConfig
    layers: list[LayerResult]
    seconds: float
    evaluations: int
    resumed_evaluations: int  # points answered from the log instead of evaluated
    # compile --mappings reproduced the tuned cycles? (set by tuner.session.TuneSession.verify)
    verification: Verification | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.name,
            "fingerprint": self.target.fingerprint(),
            "config": self.config.to_json(),
            "seconds": round(self.seconds, 3),
            "evaluations": self.evaluations,
            "resumed_evaluations": self.resumed_evaluations,
            "layers": [r.row() for r in self.layers],
        }


# -- the model's layers -------------------------------------------------------------------------


def model_layers(
    model: Any, target: Target, input_shapes: dict[str, tuple[int, ...]] | None = None
) -> list[LayerTask]:
    """The distinct accelerator layers of `model` on `target`, with their default mappings."""
    from compiler.importer import import_onnx, load_model
    from compiler.passes.accel_emit import constant_weights
    from compiler.passes.common import layer_shape, mapping_of
    from compiler.pipeline import compile_module
    from dialects import accel

    module = import_onnx(load_model(model), input_shapes)
    compile_module(module, target, passes="onnx-to-accel,accel-map")
    tasks: dict[str, LayerTask] = {}
    for op in module.walk():
        if not isinstance(op, accel.Conv2DOp | accel.MatmulOp):
            continue
        shape = layer_shape(op)
        name = op.layer_name.data
        sig = shape.signature
        if sig in tasks:
            tasks[sig].names.append(name)
            continue
        assert op.mapping is not None
        weights = constant_weights(op) if target.family.uses_weights else None
        tasks[sig] = LayerTask(len(tasks), sig, shape, [name], mapping_of(op.mapping), weights)
    return list(tasks.values())


# -- scoring ------------------------------------------------------------------------------------

_SPACES: dict[Any, MappingSpace] = {}


def _space(
    shape: LayerShape, target: Target, axes: tuple[str, ...], base: Mapping, max_tiles: int
) -> MappingSpace:
    key = (
        shape.signature,
        target.fingerprint(),
        axes,
        mapping_key(base.to_dict()),
        max_tiles,
    )
    if key not in _SPACES:
        _SPACES[key] = MappingSpace(shape, target, tune=axes, base=base, max_tiles=max_tiles)
    return _SPACES[key]


def score_task(payload: tuple) -> dict[str, np.ndarray]:
    """Executor work unit: cost-model figures of a batch of genomes of one layer. Module-level
    and built only from picklable values, so a process pool or Ray can run it."""
    shape, target, axes, base, max_tiles, genomes = payload
    space = _space(shape, target, axes, base, max_tiles)
    stats = evaluate(shape, target, space.decode(genomes))
    return {name: np.asarray(stats[name]) for name in EVAL_FIGURES}


def objective_of(figures: dict[str, np.ndarray], objective: str) -> np.ndarray:
    """The cost model's figure of merit of each point (`tuner.db.objective_value`)."""
    return objective_value(figures["latency_cycles"], figures["energy_pj"], objective)


def simulated_objective(sim: dict[str, Any], objective: str) -> float:
    """A simulated mapping's figure of merit (`tuner.db.objective_value` of the simulator's
    cycles and energy, where `objective_of` reads the cost model's)."""
    return float(objective_value(sim["cycles"], sim["energy_pj"], objective))


def simulate_layer_mappings(
    task: LayerTask, target: Target, mappings: list[Mapping]
) -> list[dict[str, Any]]:
    """Simulate one layer under each mapping: cycles and figures, as `accel-emit` would
    lower it as the passes do (`loop_nest.program_rows`; SIGMA: with the layer's weights), each
    timed with the fast-forward (`engine.simulate_timing`: its cost follows the mapping's
    distinct work, not its instruction count)."""
    from compiler.loop_nest import program_rows
    from simulator.program import Layer, Program
    from simulator.timing import simulate_timing

    streams = [program_rows(task.shape, m, target, 0, weights=task.weights) for m in mappings]
    out = []
    for rows in streams:
        n = len(rows)
        layer = Layer(
            task.names[0], task.shape.kind, True, [], [], dims=dict(task.shape.dims),
            instr_begin=0, instr_end=n,
        )  # fmt: skip
        program = Program(
            instrs=rows, layers=[layer], constants={}, tensors={}, inputs=[], outputs=[]
        )
        stats = simulate_timing(program, target).layers[0]
        out.append(
            {
                "cycles": int(stats.cycles),
                "utilisation": float(stats.utilisation),
                "dram_bytes": int(stats.dram_read_bytes + stats.dram_write_bytes),
                "energy_pj": float(sum(stats.energy_pj.values())),
            }
        )
    return out


# -- the search ---------------------------------------------------------------------------------


@dataclass
class _LayerSearch:
    task: LayerTask
    space: MappingSpace
    strategy: Any
    cache: dict[bytes, dict[str, float]]  # genome bytes -> figures + cost (from the log)
    seen: dict[bytes, tuple[float, int]] = field(default_factory=dict)  # -> (cost, eval index)
    history: list[tuple[int, float]] = field(default_factory=list)
    active: bool = True
    idle_rounds: int = 0  # rounds in a row that brought no new point

    def __post_init__(self) -> None:
        self.logged = set(self.cache)

    @property
    def evaluations(self) -> int:
        return len(self.seen)


ProgressFn = Callable[[int, int, str], None]


def tune(
    model: str | Path,
    target: str | Path | Target,
    config: TuneConfig | None = None,
    log: str | Path | None = None,
    db: str | Path | None = None,
    executor: Executor | str = "inprocess",
    input_shapes: dict[str, tuple[int, ...]] | None = None,
    overrides: list[str] | None = None,
    on_progress: ProgressFn | None = None,
    overwrite: bool = False,
) -> TuneResult:
    """Tune every accelerator layer of `model` on `target` (see the module docstring). A new
    log is started at `log` (an existing one is an error: use `resume`). `db` keeps a better
    entry it already has unless `overwrite` (`MappingDB.put`)."""
    config = config or TuneConfig()
    config.check()
    tgt = target if isinstance(target, Target) else load_target(target, list(overrides or []))
    if TuneLog.has_records(log):
        raise TuneError(f"{log}: the tuning log exists; resume it (--resume) or pick a new path")
    tasks = model_layers(model, tgt, input_shapes)
    header = TuneLog.new_header(
        model, input_shapes, tgt.to_dict(), fingerprint=tgt.fingerprint(),
        config=config.to_json(), db=str(db) if db is not None else None,
        layers=[t.signature for t in tasks],
    )  # fmt: skip
    provenance = {"model_sha256": header["model_sha256"], "overwrite": overwrite}
    return _search(
        tasks, tgt, config, log, db, executor, LoggedRun(), header, on_progress, provenance
    )


def resume(
    log: str | Path,
    executor: Executor | str = "inprocess",
    db: str | Path | None = None,
    on_progress: ProgressFn | None = None,
    overwrite: bool = False,
) -> TuneResult:
    """Continue the run of `log` (its model, target and settings) where it stopped."""
    records = TuneLog.read(log)
    header = records[0]
    model = TuneLog.logged_model(log, header)
    tgt = make_target(header["target"])
    config = TuneConfig.from_json(header["config"])
    shapes = {k: tuple(v) for k, v in header.get("input_shapes", {}).items()}
    tasks = model_layers(model, tgt, shapes or None)
    if [t.signature for t in tasks] != header["layers"]:
        raise TuneError(f"{log}: the model's layers differ from the logged run's")
    db_path = db or header.get("db")
    logged = LoggedRun.of(records)
    provenance = {"model_sha256": header["model_sha256"], "overwrite": overwrite}
    return _search(
        tasks, tgt, config, log, db_path, executor, logged, None, on_progress, provenance
    )


def _search(
    tasks: list[LayerTask],
    target: Target,
    config: TuneConfig,
    log: str | Path | None,
    db: str | Path | None,
    executor: Executor | str,
    logged: LoggedRun,
    header: dict[str, Any] | None,
    on_progress: ProgressFn | None,
    provenance: dict[str, Any],
) -> TuneResult:
    """The search with the executor and the log open (a new log starts with `header`)."""
    pool = make_executor(executor) if isinstance(executor, str) else executor
    try:
        # a bad database fails now, not after the search
        existing = MappingDB.load(db) if db is not None and Path(db).exists() else MappingDB()
        writer = TuneLog(log)
        try:
            writer.write([header] if header is not None else [])
            return _run(
                tasks, target, config, writer, db, existing, pool, logged, on_progress, provenance
            )
        finally:
            writer.close()
    finally:
        if pool is not executor:
            pool.close()


def _run(
    tasks: list[LayerTask],
    target: Target,
    config: TuneConfig,
    log: TuneLog,
    db_path: str | Path | None,
    db: MappingDB,
    pool: Executor,
    logged: LoggedRun,
    on_progress: ProgressFn | None,
    provenance: dict[str, Any],
) -> TuneResult:
    t0 = time.perf_counter()
    searches = []
    for task in tasks:
        space = _space(task.shape, target, config.axes, task.default, config.max_tiles)
        strategy = make_strategy(config.strategy, space, config.seed + task.index)
        searches.append(_LayerSearch(task, space, strategy, logged.evals.get(task.index, {})))
    total = config.budget * len(searches)
    resumed = 0
    evaluated = 0

    def progress(what: str) -> None:
        if on_progress is not None:
            done = sum(
                min(s.evaluations, config.budget) if s.active else config.budget for s in searches
            )
            on_progress(done, total, what)

    while any(s.active for s in searches):
        if config.time_limit is not None and time.perf_counter() - t0 > config.time_limit:
            break
        jobs = []
        for s in searches:
            if not s.active:
                continue
            genomes = s.strategy.ask(min(config.batch, config.budget - s.evaluations))
            if genomes is None or len(genomes) == 0:
                s.active = False
                continue
            keys = [g.tobytes() for g in genomes]
            fresh = [i for i, k in enumerate(keys) if k not in s.cache and k not in s.seen]
            # Fresh points whose key repeats within the batch are scored once.
            unique: dict[bytes, int] = {}
            for i in fresh:
                unique.setdefault(keys[i], i)
            jobs.append((s, genomes, keys, list(unique.values())))
        if not jobs:
            break
        payloads = [
            (s.task.shape, target, config.axes, s.task.default, config.max_tiles, genomes[idx])
            for s, genomes, _, idx in jobs
            if idx
        ]
        results = iter(pool.map(score_task, payloads))
        for s, genomes, keys, idx in jobs:
            figures = next(results) if idx else None
            records = []
            if figures is not None:
                cost = objective_of(figures, config.objective)
                for j, i in enumerate(idx):
                    rec = {
                        "type": "eval",
                        "layer": s.task.index,
                        "g": genomes[i].tolist(),
                        "cost": float(cost[j]),
                        **{f: _plain(figures[f][j]) for f in EVAL_FIGURES},
                    }
                    records.append(rec)
                    s.cache[keys[i]] = rec
                evaluated += len(idx)
            log.write(records)
            costs = np.array([s.cache[k]["cost"] for k in keys])
            new = 0
            for k, c in zip(keys, costs, strict=True):
                if k not in s.seen:
                    new += 1
                    s.seen[k] = (float(c), len(s.seen) + 1)
                    resumed += k in s.logged
            s.strategy.tell(genomes, costs)
            s.history.append((len(s.seen), min(v[0] for v in s.seen.values())))
            s.idle_rounds = 0 if new else s.idle_rounds + 1
            if s.evaluations >= config.budget or s.idle_rounds >= 8:
                s.active = False
        progress("searching")
    results = []
    for s in searches:
        progress(f"simulating {s.task.names[0]}")
        result = _decide(s, target, config, log, logged)
        results.append(result)
        if db_path is not None:
            result.db_status = db.put(
                s.task.shape,
                target,
                result.mapping,
                objective=config.objective,
                overwrite=provenance["overwrite"],
                layers=s.task.names,
                cycles=result.tuned_cycles,
                default_cycles=result.default_cycles,
                energy_pj=result.tuned_energy_pj,
                default_energy_pj=result.default_energy_pj,
                cost_model_cycles=result.cost_model_cycles,
                model_sha256=provenance["model_sha256"],
                strategy=config.strategy,
                seed=config.seed,
                budget=config.budget,
                evaluations=result.evaluations,
            )
            db.save(db_path)
    progress("done")
    return TuneResult(target, config, results, time.perf_counter() - t0, evaluated, resumed)


def _plain(v: Any) -> Any:
    v = v.item() if hasattr(v, "item") else v
    return bool(v) if isinstance(v, np.bool_) else v


def _decide(
    s: _LayerSearch,
    target: Target,
    config: TuneConfig,
    log: TuneLog,
    logged: LoggedRun,
) -> LayerResult:
    """Simulate the default and the top-k points by cost; the best simulated objective wins
    (`simulated_objective`: cycles, energy or EDP; ties: the default, then the better cost),
    so the tuned mapping is never worse than the default on the objective."""
    ranked = sorted(s.seen.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    candidates: list[tuple[Mapping, bytes | None]] = [(s.task.default, None)]
    keys_seen = {mapping_key(s.task.default.to_dict())}
    for key, _ in ranked:
        if len(candidates) > config.top_k:
            break
        genome = np.frombuffer(key, np.int64)
        if s.space.tile_count(genome) > s.space.max_tiles:
            continue  # too many tiles to compile and simulate in reasonable time and memory
        mapping = s.space.mapping(genome)
        k = mapping_key(mapping.to_dict())
        if k not in keys_seen:
            keys_seen.add(k)
            candidates.append((mapping, key))
    index = s.task.index
    todo = [
        i
        for i, (m, _) in enumerate(candidates)
        if (index, mapping_key(m.to_dict())) not in logged.sims
    ]
    fresh = (
        simulate_layer_mappings(s.task, target, [candidates[i][0] for i in todo]) if todo else []
    )
    sims: list[dict[str, Any]] = [{}] * len(candidates)
    records = []
    for i, sim in zip(todo, fresh, strict=True):
        m = candidates[i][0]
        rec = {"type": "sim", "layer": s.task.index, "mapping": m.to_dict(), **sim}
        records.append(rec)
        sims[i] = rec
    for i, (m, _) in enumerate(candidates):
        if i not in todo:
            sims[i] = logged.sims[(index, mapping_key(m.to_dict()))]
    log.write(records)
    best = min(
        range(len(candidates)), key=lambda i: (simulated_objective(sims[i], config.objective), i)
    )
    mapping, key = candidates[best]
    default_genome = s.space.default_genome.tobytes()
    figures = s.cache.get(key if key is not None else default_genome)
    if figures is None:  # the default was never scored: score it now
        figures = {
            f: _plain(v[0])
            for f, v in score_task(
                (
                    s.task.shape,
                    target,
                    config.axes,
                    s.task.default,
                    config.max_tiles,
                    s.space.default_genome[None],
                )
            ).items()
        }
    best_after = 0 if key is None else s.seen[key][1]
    if index not in logged.done:
        log.write(
            [
                {
                    "type": "done",
                    "layer": s.task.index,
                    "mapping": mapping.to_dict(),
                    "cycles": sims[best]["cycles"],
                    "default_cycles": sims[0]["cycles"],
                    "energy_pj": sims[best]["energy_pj"],
                    "default_energy_pj": sims[0]["energy_pj"],
                }
            ]
        )
    return LayerResult(
        task=s.task,
        evaluations=s.evaluations,
        default_cycles=int(sims[0]["cycles"]),
        tuned_cycles=int(sims[best]["cycles"]),
        default_energy_pj=float(sims[0]["energy_pj"]),
        tuned_energy_pj=float(sims[best]["energy_pj"]),
        mapping=mapping,
        cost_model_cycles=int(figures["latency_cycles"]),
        roofline_cycles=int(figures["roofline_cycles"]),
        utilisation=float(sims[best]["utilisation"]),
        best_after=best_after,
        history=list(s.history),
    )
