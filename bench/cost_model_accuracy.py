"""Accuracy and speed of the analytical cost model (tuner/cost_model.py) against the simulator.

Per target (default: one of each family, tpu-like, maeri-128 and sigma-128), draws random legal
(layer, mapping) pairs (MAERI: with random legal spatial tiles; legal: `tiling.check_mapping`
passes), runs each through `compiler.loop_nest.program_rows` (SIGMA: dense weights, `weights=None`) +
`simulator.engine.simulate_timing`, and compares:
- the quantities the model computes exactly (compute cycles, MACs, DRAM bytes read / written,
  network hops, global-buffer bytes): the count of mismatches is printed,
- latency: MAPE and Spearman rank correlation against the simulator's layer cycles, overall
  and split by double buffering,
and times `evaluate` (first, before any simulation) on a batch of 100k candidates of one conv
layer, drawn twice: random log-uniform tiles (`random_candidates`) and the tuner's own draw
(`space_candidates`) (candidates per second of wall time and of CPU time, best of 3 runs: the
CPU figure is what other processes on the machine do not change). Ends with a table, one row
per target; `--json` prints the figures.

    python -m bench.cost_model_accuracy [--pairs 500] [--targets tpu-like,maeri-128,sigma-128]
        [--target NAME] [--set FIELD=VALUE ...] [--seed 0] [--batch 100000] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from typing import Any

import numpy as np

from compiler.loop_nest import program_rows
from compiler.tiling import (
    LayerShape,
    Mapping,
    MappingError,
    check_mapping,
    conv2d_shape,
    matmul_shape,
    with_maeri_spatial,
)
from simulator.engine import simulate_timing
from simulator.program import DATAFLOWS, Layer, Program
from simulator.target import Target, load_target
from tuner.cost_model import CandidateBatch, evaluate

DEFAULT_TARGETS = ("tpu-like", "maeri-128", "sigma-128")
# Simulator layer statistic -> cost-model statistic, expected equal.
EXACT = {
    "compute_cycles": "compute_cycles",
    "macs": "macs",
    "dram_read_bytes": "dram_read_bytes",
    "dram_write_bytes": "dram_write_bytes",
    "noc_hops": "noc_hops",
    "sram_bytes": "sram_bytes",
}


def random_layer(rng: np.random.Generator) -> LayerShape:
    if rng.random() < 0.5:
        group = int(rng.choice([1, 1, 2]))
        c = group * int(rng.integers(1, 33))
        k = group * int(rng.integers(1, 65))
        r = s = int(rng.choice([1, 3, 5]))
        h = w = int(rng.integers(r, r + 24))
        stride = int(rng.choice([1, 2]))
        pad = r // 2 if rng.random() < 0.5 else 0
        return conv2d_shape(
            (int(rng.integers(1, 3)), c, h, w),
            (k, c // group, r, s),
            (stride, stride),
            (pad, pad, pad, pad),
            group=group,
            has_bias=bool(rng.random() < 0.5),
        )
    batch = (int(rng.integers(2, 4)),) if rng.random() < 0.3 else ()
    m, k, n = (int(rng.integers(1, 200)) for _ in range(3))
    b_shape = (*batch, k, n) if batch and rng.random() < 0.5 else (k, n)
    return matmul_shape((*batch, m, k), b_shape, has_bias=bool(rng.random() < 0.5))


def log_uniform(rng: np.random.Generator, high: int) -> int:
    """An integer in [1, high], log-uniformly."""
    return int(np.clip(np.round(np.exp(rng.uniform(0, np.log(high) + 1e-9))), 1, high))


def random_mapping(
    shape: LayerShape, rng: np.random.Generator, max_tiles: int = 512
) -> Mapping | None:
    """Random tiles (log-uniform), order, dataflow and buffering; None when too many tiles."""
    tiles = {d: log_uniform(rng, e) for d, e in shape.dims.items()}
    trips = np.prod([-(-e // tiles[d]) for d, e in shape.dims.items()])
    if trips > max_tiles:
        return None
    order = tuple(rng.permutation(list(shape.dim_names)))
    return Mapping(str(rng.choice(DATAFLOWS)), tiles, order, double_buffer=bool(rng.random() < 0.6))


def random_spatial(
    shape: LayerShape, tiles: dict[str, int], target: Target, rng: np.random.Generator
) -> dict[str, int]:
    """Random MAERI spatial factors: dims in random order, each log-uniform within its tile and
    the multipliers left (an aux multiplier may still break the budget: check_mapping decides)."""
    factors = {d: 1 for d in shape.dim_names}
    budget = target.num_multipliers
    for d in rng.permutation(list(shape.dim_names)):
        factors[str(d)] = log_uniform(rng, max(1, min(tiles[str(d)], budget)))
        budget //= factors[str(d)]
    return factors


def program_of(shape: LayerShape, rows: np.ndarray) -> Program:
    layer = Layer(
        "layer", shape.kind, True, [], [], dims=dict(shape.dims), instr_begin=0, instr_end=len(rows)
    )
    return Program(instrs=rows, layers=[layer], constants={}, tensors={}, inputs=[], outputs=[])


def simulate(shape: LayerShape, mapping: Mapping, target: Target) -> dict[str, int]:
    """The simulator's statistics of one layer (SIGMA: dense weights)."""
    rows = program_rows(shape, mapping, target, 0)
    stats = simulate_timing(program_of(shape, rows), target).layers[0]
    return {
        "cycles": stats.cycles,
        "compute_cycles": stats.compute_cycles,
        "macs": stats.macs,
        "dram_read_bytes": stats.dram_read_bytes,
        "dram_write_bytes": stats.dram_write_bytes,
        "noc_hops": stats.noc_hops,
        "sram_bytes": sum(stats.sram_read_bytes.values()) + sum(stats.sram_write_bytes.values()),
    }


def random_pairs(
    target: Target, count: int, rng: np.random.Generator
) -> list[tuple[LayerShape, Mapping]]:
    pairs: list[tuple[LayerShape, Mapping]] = []
    while len(pairs) < count:
        shape = random_layer(rng)
        mapping = random_mapping(shape, rng)
        if mapping is None:
            continue
        if target.arch == "maeri":
            factors = random_spatial(shape, mapping.tiles, target, rng)
            mapping = with_maeri_spatial(shape, mapping, target, factors)
        target_df = target.replace(dataflow=mapping.dataflow)
        try:
            check_mapping(shape, mapping, target_df, "layer")
        except MappingError:
            continue
        pairs.append((shape, mapping))
    return pairs


def ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank)."""
    order = np.argsort(values, kind="stable")
    r = np.empty(len(values), np.float64)
    r[order] = np.arange(len(values), dtype=np.float64)
    _, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=r)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(ranks(np.asarray(a)), ranks(np.asarray(b)))[0, 1])


def mape(model: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.abs(model - truth) / truth) * 100)


def accuracy(target: Target, count: int, seed: int) -> dict[str, Any]:
    """Model vs simulator on `count` random legal pairs: the figures, also printed."""
    rng = np.random.default_rng(seed)
    pairs = random_pairs(target, count, rng)
    sim, model = [], []
    double = np.array([m.double_buffer for _, m in pairs])
    start = time.perf_counter()
    for shape, mapping in pairs:
        t = target.replace(dataflow=mapping.dataflow)
        sim.append(simulate(shape, mapping, t))
        stats = evaluate(shape, t, CandidateBatch.from_mappings(shape, [mapping]))
        row = {k: int(v[0]) for k, v in stats.items() if v.dtype != np.float64}
        row["sram_bytes"] = row["sram_read_bytes"] + row["sram_write_bytes"]
        model.append(row)
    elapsed = time.perf_counter() - start
    get = lambda rows, key: np.array([r[key] for r in rows], np.float64)  # noqa: E731
    print(f"{len(pairs)} random legal (layer, mapping) pairs on {target.name} ({elapsed:.1f} s)")
    mismatches = {}
    for key, model_key in EXACT.items():
        mismatches[key] = int(np.sum(get(sim, key) != get(model, model_key)))
        print(f"  {key:18s} mismatches: {mismatches[key]} / {len(pairs)}")
    truth, pred = get(sim, "cycles"), get(model, "latency_cycles")
    err = np.abs(pred - truth) / truth * 100
    result: dict[str, Any] = {
        "target": target.name,
        "arch": target.arch,
        "pairs": len(pairs),
        "mismatches": mismatches,
        "latency_mape_pct": mape(pred, truth),
        "latency_median_ape_pct": float(np.median(err)),
        "latency_p90_ape_pct": float(np.percentile(err, 90)),
        "latency_max_ape_pct": float(err.max()),
        "latency_spearman": spearman(pred, truth),
    }
    print(
        f"  latency  MAPE {result['latency_mape_pct']:6.2f} %  median APE {np.median(err):5.2f} %"
        f"  p90 APE {np.percentile(err, 90):6.2f} %  max APE {err.max():6.2f} %  "
        f"Spearman {result['latency_spearman']:.4f}"
    )
    for label, mask in (("double-buffered", double), ("single-buffered", ~double)):
        if mask.sum() > 1:
            part = {
                "pairs": int(mask.sum()),
                "mape_pct": mape(pred[mask], truth[mask]),
                "spearman": spearman(pred[mask], truth[mask]),
            }
            result[label.replace("-", "_")] = part
            print(
                f"    {label:16s} n={part['pairs']:4d}  MAPE {part['mape_pct']:6.2f} %"
                f"  Spearman {part['spearman']:.4f}"
            )
    return result


def random_candidates(
    shape: LayerShape, target: Target, batch: int, rng: np.random.Generator
) -> CandidateBatch:
    """`batch` random candidates: log-uniform tiles, random orders, dataflows and buffering; on
    MAERI random spatial tiles within the multipliers (each dim a random share of log2 ms)."""
    extent = np.array([shape.dims[d] for d in shape.dim_names])
    nd = len(extent)
    tiles = np.maximum(1, np.round(np.exp(rng.uniform(0, np.log(extent), (batch, nd)))))
    tiles = tiles.astype(np.int64)
    spatial = None
    if target.arch == "maeri":
        share = rng.random((batch, nd))
        share /= share.sum(axis=1, keepdims=True) * rng.uniform(1, 2, (batch, 1))
        factors = np.floor(2 ** (share * math.log2(target.num_multipliers))).astype(np.int64)
        spatial = np.minimum(tiles, factors)
    return CandidateBatch(
        dataflow=rng.integers(0, 3, batch),
        tiles=tiles,
        order=np.argsort(rng.random((batch, nd)), axis=1),
        double_buffer=rng.random(batch) < 0.5,
        spatial=spatial,
    )


def space_candidates(
    shape: LayerShape, target: Target, batch: int, rng: np.random.Generator
) -> CandidateBatch:
    """`batch` legal candidates drawn as the tuner draws them (`tuner.space.MappingSpace.sample`:
    tiles among the divisors and the halving chain of each extent, every pass option free)."""
    from tuner.space import MappingSpace

    space = MappingSpace(shape, target)
    return space.decode(space.sample(rng, batch))


def throughput(
    target: Target, batch: int, seed: int, repeats: int = 3, draw: str = "random"
) -> dict[str, Any]:
    """Candidates scored per second on `batch` candidates of a conv layer (best run): `draw`
    "random" (`random_candidates`: log-uniform tiles, most of them not dividing the extents, so
    about 16 tile shapes per candidate on average) or "space" (`space_candidates`: the tuner's
    own, under 2 tile shapes per candidate on average)."""
    rng = np.random.default_rng(seed)
    shape = conv2d_shape((1, 64, 56, 56), (128, 64, 3, 3), pads=(1, 1, 1, 1))
    draw_fn = {"random": random_candidates, "space": space_candidates}[draw]
    candidates = draw_fn(shape, target, batch, rng)
    evaluate(shape, target, candidates.take(slice(0, 100)))  # warm-up
    elapsed = cpu = math.inf
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        stats = evaluate(shape, target, candidates)
        elapsed = min(elapsed, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    legal = int((stats["fits"] & stats["spatial_fits"]).sum())
    extent = np.array([shape.dims[d] for d in shape.dim_names])
    tiles = np.clip(candidates.tiles, 1, extent)
    shapes = float(np.mean(2.0 ** (extent % tiles != 0).sum(axis=1)))
    print(
        f"throughput on {target.name} ({draw} candidates, {shapes:.1f} tile shapes each on "
        f"average): {batch} candidates of a {shape.dims} conv in {elapsed:.3f} s (best of "
        f"{repeats}) = {batch / elapsed:,.0f} candidates/s; {cpu:.3f} s of CPU = "
        f"{batch / cpu:,.0f} candidates/s of CPU ({len(stats)} statistics each, {legal} legal)"
    )
    return {
        "draw": draw,
        "batch": batch,
        "tile_shapes_per_candidate": shapes,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "candidates_per_s": batch / elapsed,
        "candidates_per_cpu_s": batch / cpu,
    }


def table(results: list[dict[str, Any]]) -> str:
    header = (
        "target", "arch", "pairs", "MAPE %", "Spearman",
        "compute mism.", "DRAM mism.", "other mism.", "candidates/s", "per CPU s",
        "tuner's cand./s", "per CPU s",
    )  # fmt: skip
    rows = []
    for r in results:
        mism = r["mismatches"]
        dram = mism["dram_read_bytes"] + mism["dram_write_bytes"]
        other = sum(v for k, v in mism.items() if k not in ("compute_cycles",) and "dram" not in k)
        rows.append(
            (
                r["target"],
                r["arch"],
                str(r["pairs"]),
                f"{r['latency_mape_pct']:.2f}",
                f"{r['latency_spearman']:.4f}",
                str(mism["compute_cycles"]),
                str(dram),
                str(other),
                f"{r['throughput']['candidates_per_s']:,.0f}",
                f"{r['throughput']['candidates_per_cpu_s']:,.0f}",
                f"{r['throughput_space']['candidates_per_s']:,.0f}",
                f"{r['throughput_space']['candidates_per_cpu_s']:,.0f}",
            )
        )
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS), help="comma list")
    parser.add_argument("--target", default=None, help="one target (overrides --targets)")
    parser.add_argument(
        "--set", action="append", default=[], metavar="FIELD=VALUE", help="override every target"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    args = parser.parse_args()
    names = [args.target] if args.target else [n for n in args.targets.split(",") if n]
    targets = [load_target(name.strip(), args.set) for name in names]
    # The speed first, before the simulations: numpy's temporaries are up to 20 % slower in a
    # process whose allocator has served the simulator.
    speed = [
        {
            "throughput": throughput(target, args.batch, args.seed),
            "throughput_space": throughput(target, args.batch, args.seed, draw="space"),
        }
        for target in targets
    ]
    print()
    results = []
    for target, figures in zip(targets, speed, strict=True):
        results.append({**accuracy(target, args.pairs, args.seed), **figures})
        print()
    print(table(results))
    if args.json:
        print(json.dumps({"overrides": args.set, "seed": args.seed, "results": results}, indent=2))


if __name__ == "__main__":
    main()
