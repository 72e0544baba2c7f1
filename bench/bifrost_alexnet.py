"""Bifrost's AlexNet experiment on our MAERI: the all-ones spatial tile, our default and our
autotuner, per layer, beside the speed-ups Bifrost reports for AutoTVM on STONNE.

    python -m bench.bifrost_alexnet --resnet18      # ~4 min on 2 cores, ~18 GB peak memory
    python -m bench.bifrost_alexnet --no-repeat     # without the second (reproducibility) run
    python -m bench.bifrost_alexnet --json          # the figures as JSON, for scripts

The memory and most of the time are the tuner's simulation of its top-k candidates of fc7
(docs/bifrost.md, "Issues found"); small budgets (under a few hundred points) can leave
candidates with millions of instructions in the top-k, and ResNet-18 then runs out of memory.
The measured tables and what they mean: docs/bifrost.md.

Bifrost (Stjerngren, Gibson, Cano, ISPASS 2022; github.com/gicLAB/bifrost, commit 6446497)
runs AlexNet's five conv and three FC layers on STONNE's MAERI and tunes STONNE's spatial tile
with AutoTVM. Its figures, over the all-ones tile ("basic"): 76.2, 47.0, 50.8, 49.4, 32.9x on
conv1-5 and 11.1x on each FC layer; STONNE's mRNA mapper beats them by 1.0-1.72x (conv) and
2.9-4.0x (FC). Its cycles are in `benchmarks/alexnet/evaluation/maeri_cycles_{conv,fc}.csv`
(`BIFROST_CYCLES` below).

Per accelerator layer of `accelflow.models.alexnet()` this prints, all *simulated* cycles
(`tuner.tune.simulate_layer_mappings`, the whole flow's timing):
- basic: the all-ones spatial tile on the default mapping's buffer tiles and loop order
  (`with_maeri_spatial(shape, default, target, {d: 1})`);
- default: our heuristic (`tiling.default_mapping`: mRNA-like spatial tile, `choose_tiles`);
- tuned (spatial): `tuner.tune.tune` searching the spatial tile only (`axes=("spatial",)`, the
  buffer tiles, order and double buffering fixed at the default's): Bifrost's search space;
- tuned (all): `tune` over every axis (tiles, order, double buffering, spatial tile);
- the speed-ups of each over basic, beside Bifrost's AutoTVM and mRNA speed-ups;
- Bifrost's AutoTVM tiles (`benchmarks/alexnet/tiles/opt`, known for conv2, conv3, conv5) in
  our flow against Bifrost's STONNE cycles for them;
- exhaustive search of the spatial-only space, where it has at most `--exhaustive-limit`
  points (legal or not): every legal point scored by the *cost model*
  (`tuner.cost_model.evaluate`, vectorised over chunks of `MappingSpace.enumerate`), its
  optimum's cost, the best `--top-k` by cost *simulated* (the optimum's cycles), and how many
  distinct points the spatial-only tuning scored (read from its log, in order) before its
  first point whose cost-model cost is within 1 % of the exhaustive optimum's cost.
Then checks that no tuned mapping is slower than the default (simulated), runs the full
tuning twice with the same seed and compares the two mapping databases field for field (all
but the entries' creation times: "reproducible: yes"), and prints the wall-clock time of the
tuning. `--resnet18` tunes `accelflow.models.resnet18()` with the same settings and prints its
time and per-layer speed-ups over the default.

Target: `maeri-128` with `BIFROST_OVERRIDES` (dn_bw = rn_bw = 64, accumulation buffer off),
Bifrost's configuration as STONNE read it (docs/bifrost.md says why); `--no-bifrost-config`
keeps the preset as it is, `--target` / `--set FIELD=VALUE` change it. Results go to stdout
only (progress to stderr); the model, logs and databases live in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from accelflow.models import alexnet, resnet18
from compiler.tiling import (
    STONNE_TILE_NAMES,
    Mapping,
    maeri_factors,
    parse_spatial,
    with_maeri_spatial,
)
from simulator.target import Target, load_target
from tuner.cost_model import evaluate
from tuner.db import without_times
from tuner.space import MappingSpace
from tuner.tune import (
    LayerResult,
    LayerTask,
    TuneConfig,
    TuneResult,
    model_layers,
    simulate_layer_mappings,
    tune,
)

# Bifrost's MAERI (benchmarks/alexnet/tune_alexnet.py: ms_size 128, dn_bw = rn_bw = 64). Its
# config file writes accumulation_buffer_enabled="1", a TOML string, which STONNE reads as an
# unsigned int (Config.cpp) and so ignores: the buffer stays at its default, off.
BIFROST_PRESET = "maeri-128"
BIFROST_OVERRIDES = (
    "dn_bw_elems_per_cycle=64",
    "rn_bw_elems_per_cycle=64",
    "accumulation_buffer=false",
)
LAYER_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8")
# Bifrost's speed-up of the AutoTVM-tuned tile over basic, as the paper states it.
BIFROST_SPEEDUP = (76.2, 47.0, 50.8, 49.4, 32.9, 11.1, 11.1, 11.1)
# STONNE cycles (basic, AutoTVM-tuned "bifrost", "mrna") from Bifrost's
# benchmarks/alexnet/evaluation/maeri_cycles_conv.csv and maeri_cycles_fc.csv.
BIFROST_CYCLES = (
    (280549888, 3679680, 3679680),
    (895683264, 19044096, 15264384),
    (449031552, 8843136, 7930368),
    (598837504, 12133632, 10550400),
    (399182080, 12133120, 7041408),
    (188747776, 17006592, 4242432),
    (83890176, 7569408, 2624512),
    (20481000, 1848000, 467100),
)
# Bifrost's AutoTVM tiles that are in its repository (benchmarks/alexnet/tiles/opt), by layer.
BIFROST_OPT_TILES = {
    "conv2": "T_R=5 T_S=5 T_C=4 T_K=1",
    "conv3": "T_R=3 T_S=3 T_C=12 T_K=1",
    "conv5": "T_R=3 T_S=3 T_C=8 T_K=1",
}
# STONNE's tile names in its own order (our dim of each: compiler.tiling.STONNE_TILE_NAMES).
STONNE_ORDER = {
    "conv2d": ("T_R", "T_S", "T_C", "T_K", "T_G", "T_N", "T_X'", "T_Y'"),
    "matmul": ("T_M", "T_N", "T_K", "T_G"),
}
WITHIN = 0.01  # "within 1 %" of the exhaustive optimum's cost
CHUNK = 1 << 16  # points per cost-model batch of the exhaustive search


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the target and the model ---------------------------------------------------------------------


def bench_target(name: str, overrides: list[str], bifrost_config: bool) -> Target:
    """`name` with Bifrost's overrides (unless `bifrost_config` is False), then `overrides`."""
    target = load_target(name, [*(BIFROST_OVERRIDES if bifrost_config else ()), *overrides])
    if target.arch != "maeri":
        raise SystemExit(f"bifrost_alexnet: {target.name} is not a MAERI target")
    return target


def write_model(model: onnx.ModelProto, folder: Path, name: str) -> Path:
    path = folder / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def stonne_tile(task: LayerTask, mapping: Mapping) -> str:
    """The mapping's spatial tile in STONNE's names and order (conv: -CONV's T_R ... T_Y';
    matmul: -FC's T_M, T_N outputs, T_K inputs per VN), factors of 1 left out."""
    factors = maeri_factors(task.shape, mapping)
    dims = STONNE_TILE_NAMES[task.shape.kind]
    names = [(name, dims[name]) for name in STONNE_ORDER[task.shape.kind]]
    tile = " ".join(f"{name}={factors[d]}" for name, d in names if factors[d] > 1)
    return tile or "all ones"


def all_ones(task: LayerTask, target: Target) -> Mapping:
    """Bifrost's "basic" mapping: every spatial factor 1, the default's buffer tiles."""
    return with_maeri_spatial(
        task.shape, task.default, target, {d: 1 for d in task.shape.dim_names}
    )


# -- the exhaustive search of the spatial tile ----------------------------------------------------


@dataclass
class Exhaustive:
    """The spatial-only space of one layer walked by the cost model."""

    space_points: int  # legal or not
    legal_points: int
    optimum_cost: float  # cost-model latency of the best legal point
    optimum_cycles: int  # simulated cycles of the best of the `top` points by cost
    optimum_tile: str
    cost_rank_of_optimum: int  # 1: the cost model's best is also the simulator's best
    seconds: float
    evals_to_within: int | None = None  # distinct points the tuner scored, see module docstring
    optimum_mapping: Mapping | None = None  # the optimum tile's mapping


def exhaustive(task: LayerTask, target: Target, limit: int, top: int) -> Exhaustive | None:
    """Score every legal point of the spatial-only space (None when it has more than `limit`
    points), then simulate the `top` best by cost."""
    t0 = time.perf_counter()
    space = MappingSpace(task.shape, target, tune=("spatial",), base=task.default)
    if space.size > limit:
        return None
    best_g = np.zeros((0, len(space.axes)), np.int64)
    best_c = np.zeros(0)
    legal = 0
    for start in range(0, space.size, CHUNK):
        g = space.enumerate(start, CHUNK)
        g = g[space.legal(g)]
        if not len(g):
            continue
        legal += len(g)
        cost = np.asarray(evaluate(task.shape, target, space.decode(g))["latency_cycles"], float)
        best_g = np.concatenate([best_g, g])
        best_c = np.concatenate([best_c, cost])
        keep = np.argsort(best_c, kind="stable")[:top]  # ties: enumeration order
        best_g, best_c = best_g[keep], best_c[keep]
    mappings = [space.mapping(g) for g in best_g]
    cycles = [r["cycles"] for r in simulate_layer_mappings(task, target, mappings)]
    pick = int(np.argmin(cycles))
    return Exhaustive(
        space_points=space.size,
        legal_points=legal,
        optimum_cost=float(best_c[0]),
        optimum_cycles=int(cycles[pick]),
        optimum_tile=stonne_tile(task, mappings[pick]),
        cost_rank_of_optimum=pick + 1,
        seconds=time.perf_counter() - t0,
        optimum_mapping=mappings[pick],
    )


def evals_to_within(log_path: Path, layer: int, threshold: float) -> int | None:
    """1-based position, among the points the tuner scored for `layer` (its log's `eval`
    records, in order: one per distinct point), of the first whose cost is <= threshold."""
    position = 0
    for line in log_path.read_text().splitlines():
        record = json.loads(line)
        if record.get("type") != "eval" or record["layer"] != layer:
            continue
        position += 1
        if record["cost"] <= threshold:
            return position
    return None


# -- the runs -------------------------------------------------------------------------------------


@dataclass
class LayerRow:
    name: str
    onnx_name: str
    dims: dict[str, int]
    basic: int
    default: int
    tuned_spatial: int
    tuned_all: int
    default_tile: str
    tuned_spatial_tile: str
    tuned_all_tile: str
    tuned_all_tiles: dict[str, int]
    bifrost: tuple[int, int, int]
    bifrost_speedup: float
    bifrost_tile: str | None = None
    bifrost_tile_cycles: int | None = None
    exhaustive: Exhaustive | None = None

    def speedup(self, cycles: int) -> float:
        return self.basic / max(cycles, 1)

    def to_json(self) -> dict[str, Any]:
        basic_b, tuned_b, mrna_b = self.bifrost
        out: dict[str, Any] = {
            "layer": self.name,
            "onnx_name": self.onnx_name,
            "dims": self.dims,
            "cycles": {
                "basic": self.basic,
                "default": self.default,
                "tuned_spatial": self.tuned_spatial,
                "tuned_all": self.tuned_all,
            },
            "speedup_over_basic": {
                "default": round(self.speedup(self.default), 3),
                "tuned_spatial": round(self.speedup(self.tuned_spatial), 3),
                "tuned_all": round(self.speedup(self.tuned_all), 3),
            },
            "spatial_tile": {
                "default": self.default_tile,
                "tuned_spatial": self.tuned_spatial_tile,
                "tuned_all": self.tuned_all_tile,
            },
            "tuned_all_buffer_tiles": self.tuned_all_tiles,
            "bifrost": {
                "stonne_cycles": {"basic": basic_b, "autotvm": tuned_b, "mrna": mrna_b},
                "speedup_autotvm": self.bifrost_speedup,
                "speedup_mrna": round(basic_b / mrna_b, 3),
                "their_basic_over_our_tuned_spatial": round(basic_b / self.tuned_spatial, 3),
                "opt_tile": self.bifrost_tile,
                "opt_tile_our_cycles": self.bifrost_tile_cycles,
            },
        }
        if self.exhaustive is not None:
            ex = self.exhaustive
            out["exhaustive_spatial"] = {
                "space_points": ex.space_points,
                "legal_points": ex.legal_points,
                "optimum_cost_model_cycles": ex.optimum_cost,
                "optimum_simulated_cycles": ex.optimum_cycles,
                "optimum_tile": ex.optimum_tile,
                "cost_rank_of_simulated_optimum": ex.cost_rank_of_optimum,
                "tuner_evaluations_to_within_1pct": ex.evals_to_within,
                "seconds": round(ex.seconds, 3),
            }
        return out


@dataclass
class Report:
    target: Target
    overrides: list[str]
    config: TuneConfig
    rows: list[LayerRow]
    tune_seconds: float  # wall clock of one full tuning run of AlexNet
    tune_spatial_seconds: float
    reproducible: bool | None
    never_slower: bool
    resnet18: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.to_dict(),
            "fingerprint": self.target.fingerprint(),
            "overrides": self.overrides,
            "config": self.config.to_json(),
            "layers": [r.to_json() for r in self.rows],
            "alexnet_tuning_seconds": round(self.tune_seconds, 2),
            "alexnet_spatial_tuning_seconds": round(self.tune_spatial_seconds, 2),
            "reproducible": self.reproducible,
            "tuned_never_slower_than_default": self.never_slower,
            "resnet18": self.resnet18,
        }


def timed_tune(
    model: Path, target: Target, config: TuneConfig, **kwargs: Any
) -> tuple[TuneResult, float]:
    t0 = time.perf_counter()
    result = tune(model, target, config, **kwargs)
    return result, time.perf_counter() - t0


def never_slower(result: TuneResult) -> bool:
    return all(r.tuned_cycles <= r.default_cycles for r in result.layers)


def run_alexnet(args: argparse.Namespace, target: Target, folder: Path) -> Report:
    config = TuneConfig(
        strategy=args.strategy,
        budget=args.budget,
        seed=args.seed,
        top_k=args.top_k,
        batch=args.batch,
    )
    spatial_config = replace(config, axes=("spatial",))
    model = write_model(alexnet(), folder, "alexnet")
    tasks = model_layers(model, target)
    if len(tasks) != len(LAYER_NAMES):
        raise SystemExit(f"bifrost_alexnet: expected 8 distinct layers, found {len(tasks)}")

    log(f"tuning AlexNet, all axes ({config.strategy}, budget {config.budget}) ...")
    full, seconds = timed_tune(model, target, config, db=folder / "db-1.json")
    reproducible = None
    if args.repeat:
        log("tuning AlexNet again with the same seed ...")
        again, _ = timed_tune(model, target, config, db=folder / "db-2.json")
        same_db = without_times(folder / "db-1.json") == without_times(folder / "db-2.json")
        cycles = [
            (a.tuned_cycles, b.tuned_cycles) for a, b in zip(full.layers, again.layers, strict=True)
        ]
        reproducible = same_db and all(a == b for a, b in cycles)
    log("tuning AlexNet, spatial tile only ...")
    spatial_log = folder / "spatial.jsonl"
    spatial, spatial_seconds = timed_tune(model, target, spatial_config, log=spatial_log)

    rows = []
    for task, name, full_r, spatial_r, bifrost, speedup in zip(
        tasks, LAYER_NAMES, full.layers, spatial.layers, BIFROST_CYCLES, BIFROST_SPEEDUP,
        strict=True,
    ):  # fmt: skip
        log(f"{name}: basic, Bifrost's tile, exhaustive search ...")
        mappings = [all_ones(task, target), task.default]
        bifrost_tile = BIFROST_OPT_TILES.get(name)
        if bifrost_tile is not None:
            factors = parse_spatial(bifrost_tile, task.shape.kind)
            mappings.append(with_maeri_spatial(task.shape, task.default, target, factors))
        sims = [r["cycles"] for r in simulate_layer_mappings(task, target, mappings)]
        assert sims[1] == full_r.default_cycles == spatial_r.default_cycles, name
        row = LayerRow(
            name=name,
            onnx_name=task.names[0],
            dims=dict(task.shape.dims),
            basic=sims[0],
            default=sims[1],
            tuned_spatial=spatial_r.tuned_cycles,
            tuned_all=full_r.tuned_cycles,
            default_tile=stonne_tile(task, task.default),
            tuned_spatial_tile=stonne_tile(task, spatial_r.mapping),
            tuned_all_tile=stonne_tile(task, full_r.mapping),
            tuned_all_tiles=dict(full_r.mapping.tiles),
            bifrost=bifrost,
            bifrost_speedup=speedup,
            bifrost_tile=bifrost_tile,
            bifrost_tile_cycles=sims[2] if bifrost_tile is not None else None,
        )
        row.exhaustive = exhaustive(task, target, args.exhaustive_limit, max(args.top_k, 1))
        if row.exhaustive is not None:
            threshold = row.exhaustive.optimum_cost * (1 + WITHIN)
            row.exhaustive.evals_to_within = evals_to_within(spatial_log, task.index, threshold)
        rows.append(row)

    ok = never_slower(full) and never_slower(spatial)
    report = Report(
        target=target,
        overrides=[*(BIFROST_OVERRIDES if args.bifrost_config else ()), *args.set],
        config=config,
        rows=rows,
        tune_seconds=seconds,
        tune_spatial_seconds=spatial_seconds,
        reproducible=reproducible,
        never_slower=ok,
    )
    if args.resnet18:
        report.resnet18 = run_resnet18(target, config, folder)
        ok = ok and report.resnet18["tuned_never_slower_than_default"]
    report.never_slower = ok
    return report


def run_resnet18(target: Target, config: TuneConfig, folder: Path) -> dict[str, Any]:
    model = write_model(resnet18(), folder, "resnet18")
    log(f"tuning ResNet-18, all axes ({config.strategy}, budget {config.budget}) ...")
    result, seconds = timed_tune(model, target, config)
    layers = [_resnet_row(r) for r in result.layers]
    return {
        "seconds": round(seconds, 2),
        "distinct_layers": len(result.layers),
        "layers_in_model": sum(len(r.task.names) for r in result.layers),
        "evaluations": result.evaluations,
        "layers": layers,
        "total_default_cycles": sum(r["default_cycles"] * r["count"] for r in layers),
        "total_tuned_cycles": sum(r["tuned_cycles"] * r["count"] for r in layers),
        "tuned_never_slower_than_default": never_slower(result),
    }


def _resnet_row(r: LayerResult) -> dict[str, Any]:
    return {
        "layer": r.task.names[0],
        "count": len(r.task.names),
        "signature": r.task.signature,
        "default_cycles": r.default_cycles,
        "tuned_cycles": r.tuned_cycles,
        "speedup": round(r.speedup, 3),
        "evaluations": r.evaluations,
    }


# -- printing -------------------------------------------------------------------------------------


def print_report(report: Report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    target = report.target
    console.print(
        f"[bold]Bifrost's AlexNet on {target.name}[/bold] (fingerprint {target.fingerprint()}): "
        f"{target.num_multipliers} multipliers, dn_bw {target.dn_bw_elems_per_cycle}, rn_bw "
        f"{target.rn_bw_elems_per_cycle}, accumulation buffer "
        f"{'on' if target.accumulation_buffer else 'off'}; overrides: "
        f"{' '.join(report.overrides) or 'none'}"
    )
    c = report.config
    console.print(
        f"tuner: {c.strategy}, budget {c.budget} points per layer, seed {c.seed}, batch "
        f"{c.batch}, top-k {c.top_k}, objective {c.objective}"
    )

    cycles = Table(title="Simulated cycles per layer (ours) and Bifrost's STONNE cycles")
    for col in ("layer", "basic", "default", "tuned (spatial)", "tuned (all)",
                "Bifrost basic", "Bifrost AutoTVM", "STONNE mRNA"):  # fmt: skip
        cycles.add_column(col, justify="left" if col == "layer" else "right")
    for r in report.rows:
        cycles.add_row(
            r.name, f"{r.basic:,}", f"{r.default:,}", f"{r.tuned_spatial:,}",
            f"{r.tuned_all:,}", *(f"{v:,}" for v in r.bifrost),
        )  # fmt: skip
    console.print(cycles)

    speed = Table(
        title="Speed-up over basic (all-ones spatial tile): ours over our basic, Bifrost's over "
        "its STONNE basic; last column: our tuned (spatial) cycles over Bifrost's STONNE basic"
    )
    for col in ("layer", "default", "tuned (spatial)", "tuned (all)", "exhaustive (spatial)",
                "Bifrost AutoTVM", "STONNE mRNA", "tuned (spatial) / STONNE basic"):  # fmt: skip
        speed.add_column(col, justify="left" if col == "layer" else "right")
    for r in report.rows:
        ex = f"{r.speedup(r.exhaustive.optimum_cycles):.1f}x" if r.exhaustive else "-"
        speed.add_row(
            r.name,
            f"{r.speedup(r.default):.1f}x",
            f"{r.speedup(r.tuned_spatial):.1f}x",
            f"{r.speedup(r.tuned_all):.1f}x",
            ex,
            f"{r.bifrost_speedup:.1f}x",
            f"{r.bifrost[0] / r.bifrost[2]:.1f}x",
            f"{r.bifrost[0] / r.tuned_spatial:.1f}x",
        )
    console.print(speed)

    tiles = Table(title="Spatial tiles (STONNE names) and the tuned buffer tiles")
    for col in ("layer", "default", "tuned (spatial)", "tuned (all)", "tuned (all) tiles"):
        tiles.add_column(col)
    for r in report.rows:
        dims = " ".join(f"{d}={v}" for d, v in r.tuned_all_tiles.items() if v != r.dims[d])
        tiles.add_row(r.name, r.default_tile, r.tuned_spatial_tile, r.tuned_all_tile,
                      dims or "whole layer")  # fmt: skip
    console.print(tiles)

    known = [r for r in report.rows if r.bifrost_tile is not None]
    if known:
        check = Table(title="Bifrost's AutoTVM tiles (tiles/opt) in our flow vs Bifrost's STONNE")
        for col in ("layer", "tile", "ours", "Bifrost (STONNE)", "error"):
            check.add_column(col, justify="left" if col in ("layer", "tile") else "right")
        for r in known:
            assert r.bifrost_tile_cycles is not None
            err = r.bifrost_tile_cycles / r.bifrost[1] - 1
            check.add_row(r.name, r.bifrost_tile, f"{r.bifrost_tile_cycles:,}",
                          f"{r.bifrost[1]:,}", f"{err:+.3%}")  # fmt: skip
        console.print(check)

    ex_table = Table(
        title="Exhaustive search of the spatial tile (buffer tiles fixed at the default's): "
        "cost = cost model, cycles = simulated"
    )
    for col in ("layer", "points", "legal", "optimum cost", "optimum cycles", "its cost rank",
                "optimum tile", "tuner evals to 1 %", "seconds"):  # fmt: skip
        ex_table.add_column(col, justify="left" if col in ("layer", "optimum tile") else "right")
    for r in report.rows:
        ex = r.exhaustive
        if ex is None:
            ex_table.add_row(r.name, "over --exhaustive-limit", *["-"] * 7)
            continue
        evals = "never" if ex.evals_to_within is None else f"{ex.evals_to_within:,}"
        ex_table.add_row(
            r.name, f"{ex.space_points:,}", f"{ex.legal_points:,}", f"{ex.optimum_cost:,.0f}",
            f"{ex.optimum_cycles:,}", str(ex.cost_rank_of_optimum), ex.optimum_tile, evals,
            f"{ex.seconds:.1f}",
        )  # fmt: skip
    console.print(ex_table)

    console.print(
        f"tuned never slower than default (simulated): {'yes' if report.never_slower else 'NO'}"
    )
    if report.reproducible is not None:
        console.print(f"reproducible: {'yes' if report.reproducible else 'NO'} "
                      "(two runs, same seed: identical mapping databases but their creation times)")  # fmt: skip
    console.print(
        f"AlexNet tuning wall-clock: {report.tune_seconds:.1f} s all axes, "
        f"{report.tune_spatial_seconds:.1f} s spatial tile only"
    )
    if report.resnet18 is not None:
        print_resnet18(console, report.resnet18)


def print_resnet18(console: Any, res: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title="ResNet-18, tuned (all axes) vs default, simulated cycles")
    for col in ("layer", "x", "default", "tuned", "speed-up", "evaluations"):
        table.add_column(col, justify="left" if col == "layer" else "right")
    for r in res["layers"]:
        table.add_row(
            r["layer"], str(r["count"]), f"{r['default_cycles']:,}", f"{r['tuned_cycles']:,}",
            f"{r['speedup']:.2f}x", f"{r['evaluations']:,}",
        )  # fmt: skip
    console.print(table)
    total = res["total_default_cycles"] / max(res["total_tuned_cycles"], 1)
    console.print(
        f"ResNet-18: {res['distinct_layers']} distinct layers ({res['layers_in_model']} in the "
        f"model), tuning wall-clock {res['seconds']:.1f} s, whole model "
        f"{res['total_default_cycles']:,} -> {res['total_tuned_cycles']:,} cycles "
        f"({total:.2f}x over default)"
    )


# -- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bifrost_alexnet", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--target", default=BIFROST_PRESET, help="MAERI preset or YAML file")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a target field (after Bifrost's overrides)")  # fmt: skip
    parser.add_argument(
        "--no-bifrost-config",
        dest="bifrost_config",
        action="store_false",
        help=f"do not apply Bifrost's overrides ({' '.join(BIFROST_OVERRIDES)})",
    )
    parser.add_argument("--strategy", default="evolutionary")
    parser.add_argument("--budget", type=int, default=2000, help="points per layer")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=8, help="best points simulated per layer")
    parser.add_argument("--batch", type=int, default=256, help="points asked per round")
    parser.add_argument(
        "--exhaustive-limit",
        type=float,
        default=2e6,
        help="search the spatial-only space exhaustively when it has at most this many points",
    )
    parser.add_argument("--no-repeat", dest="repeat", action="store_false",
                        help="skip the second tuning run (the reproducibility check)")  # fmt: skip
    parser.add_argument("--resnet18", action="store_true", help="also time tuning ResNet-18")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    args.exhaustive_limit = int(args.exhaustive_limit)
    target = bench_target(args.target, args.set, args.bifrost_config)
    with tempfile.TemporaryDirectory(prefix="bifrost-alexnet-") as tmp:
        report = run_alexnet(args, target, Path(tmp))
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print_report(report)
    assert report.never_slower, "a tuned mapping is slower than the default"
    assert report.reproducible is not False, "two runs with the same seed differ"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
