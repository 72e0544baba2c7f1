"""Accuracy and speed of the analytical cost model (tuner/cost_model.py) against the simulator.

Draws random legal (layer, mapping) pairs on a target (default tpu-like), runs each through
`compiler.tiling.schedule` + `simulator.engine.simulate_timing`, and compares:
- compute cycles and DRAM bytes (expected exact: the count of mismatches is printed),
- latency: MAPE and Spearman rank correlation against the simulator's layer cycles, overall
  and split by double buffering,
then times `evaluate` on a batch of 100k random candidates of one layer (candidates / s).

    python -m bench.cost_model_accuracy [--pairs 500] [--target tpu-like] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from compiler.tiling import (
    LayerShape,
    Mapping,
    MappingError,
    check_mapping,
    conv2d_shape,
    matmul_shape,
    schedule,
)
from simulator.engine import simulate_timing
from simulator.program import DATAFLOWS, Layer, Program
from simulator.target import Target, load_target
from tuner.cost_model import CandidateBatch, evaluate


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


def random_mapping(
    shape: LayerShape, rng: np.random.Generator, max_tiles: int = 512
) -> Mapping | None:
    """Random tiles (log-uniform), order, dataflow and buffering; None when too many tiles."""
    tiles = {}
    for d, e in shape.dims.items():
        tiles[d] = int(np.clip(np.round(np.exp(rng.uniform(0, np.log(e) + 1e-9))), 1, e))
    trips = np.prod([-(-e // tiles[d]) for d, e in shape.dims.items()])
    if trips > max_tiles:
        return None
    order = tuple(rng.permutation(list(shape.dim_names)))
    return Mapping(str(rng.choice(DATAFLOWS)), tiles, order, double_buffer=bool(rng.random() < 0.6))


def program_of(shape: LayerShape, rows: np.ndarray) -> Program:
    layer = Layer(
        "layer", shape.kind, True, [], [], dims=dict(shape.dims), instr_begin=0, instr_end=len(rows)
    )
    return Program(instrs=rows, layers=[layer], constants={}, tensors={}, inputs=[], outputs=[])


def simulate(shape: LayerShape, mapping: Mapping, target: Target) -> dict[str, int]:
    rows = schedule(shape, mapping, target, 0)
    stats = simulate_timing(program_of(shape, rows), target).layers[0]
    return {
        "cycles": stats.cycles,
        "compute_cycles": stats.compute_cycles,
        "dram_read_bytes": stats.dram_read_bytes,
        "dram_write_bytes": stats.dram_write_bytes,
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
    uniq, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=r)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(ranks(np.asarray(a)), ranks(np.asarray(b)))[0, 1])


def mape(model: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.abs(model - truth) / truth) * 100)


def accuracy(target: Target, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pairs = random_pairs(target, count, rng)
    sim, model = [], []
    double = np.array([m.double_buffer for _, m in pairs])
    start = time.perf_counter()
    for shape, mapping in pairs:
        t = target.replace(dataflow=mapping.dataflow)
        sim.append(simulate(shape, mapping, t))
        stats = evaluate(shape, t, CandidateBatch.from_mappings(shape, [mapping]))
        model.append({k: int(v[0]) for k, v in stats.items() if k != "fits"})
    elapsed = time.perf_counter() - start
    get = lambda rows, key: np.array([r[key] for r in rows], np.float64)  # noqa: E731
    print(f"{len(pairs)} random legal (layer, mapping) pairs on {target.name} ({elapsed:.1f} s)")
    for key, model_key in (
        ("compute_cycles", "compute_cycles"),
        ("dram_read_bytes", "dram_read_bytes"),
        ("dram_write_bytes", "dram_write_bytes"),
    ):
        bad = int(np.sum(get(sim, key) != get(model, model_key)))
        print(f"  {key:18s} mismatches: {bad} / {len(pairs)}")
    truth, pred = get(sim, "cycles"), get(model, "latency_cycles")
    err = np.abs(pred - truth) / truth * 100
    print(
        f"  latency  MAPE {mape(pred, truth):6.2f} %  median APE {np.median(err):5.2f} %  "
        f"p90 APE {np.percentile(err, 90):6.2f} %  max APE {err.max():6.2f} %  "
        f"Spearman {spearman(pred, truth):.4f}"
    )
    for label, mask in (("double-buffered", double), ("single-buffered", ~double)):
        if mask.sum() > 1:
            print(
                f"    {label:16s} n={int(mask.sum()):4d}  MAPE {mape(pred[mask], truth[mask]):6.2f} %"
                f"  Spearman {spearman(pred[mask], truth[mask]):.4f}"
            )


def throughput(target: Target, batch: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = conv2d_shape((1, 64, 56, 56), (128, 64, 3, 3), pads=(1, 1, 1, 1))
    extent = np.array([shape.dims[d] for d in shape.dim_names])
    nd = len(extent)
    tiles = np.maximum(1, np.round(np.exp(rng.uniform(0, np.log(extent), (batch, nd))))).astype(
        np.int64
    )
    candidates = CandidateBatch(
        dataflow=rng.integers(0, 3, batch),
        tiles=tiles,
        order=np.argsort(rng.random((batch, nd)), axis=1),
        double_buffer=rng.random(batch) < 0.5,
    )
    evaluate(shape, target, candidates.take(slice(0, 100)))  # warm-up
    start = time.perf_counter()
    stats = evaluate(shape, target, candidates)
    elapsed = time.perf_counter() - start
    print(
        f"throughput: {batch} candidates of a {shape.dims} conv in {elapsed:.3f} s = "
        f"{batch / elapsed:,.0f} candidates/s ({len(stats)} statistics each, "
        f"{int(stats['fits'].sum())} fit)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--target", default="tpu-like")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=100_000)
    args = parser.parse_args()
    target = load_target(args.target)
    accuracy(target, args.pairs, args.seed)
    throughput(target, args.batch, args.seed)


if __name__ == "__main__":
    main()
