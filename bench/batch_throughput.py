"""Batched timing simulation: designs per second on this machine's JAX backend (CPU or GPU).

Measured on an NVIDIA H200 (resnet18 on tpu-like, 589 instructions): 1,609 designs/s at B=512,
7.1 times B fast-forward runs of 4.4 ms each on one core of its host.

    python bench/batch_throughput.py [--model resnet18] [--target tpu-like] [--sizes 1,64,1024]
                                     [--json out.json]

One program (the model compiled once for `--target`) is timed on B variants of the target at
once (`engine.simulate_timing_batch`, a `vmap` over targets): the variants change what leaves the
mapping valid (DRAM bandwidth and latency, SRAM banks, vector lanes), as a memory-system sweep
does. For each B it prints the wall time of the batched run (after one warm-up run of that
size, so compilation is left out and reported apart), the designs simulated per second, and
the speed-up over B single runs (`simulate_timing`: the exact fast-forward, one design at a
time on one core). It checks that the batched totals equal single runs of the
same targets (the first, the middle and the last variant), so a fast wrong answer cannot pass.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accelflow import api, models  # noqa: E402
from simulator import engine  # noqa: E402
from simulator.target import load_target  # noqa: E402


def variants(base, count: int) -> list:
    """`count` targets around `base` (a deterministic grid over the memory-system fields)."""
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        out.append(
            load_target(
                base,
                [
                    f"dram_bw_bytes_per_cycle={float(rng.choice([4, 8, 16, 32, 64, 128]))}",
                    f"dram_latency_cycles={int(rng.choice([20, 50, 100, 200, 400]))}",
                    f"sram_banks={int(rng.choice([4, 8, 16, 32, 64]))}",
                    f"vector_lanes={int(rng.choice([4, 8, 16, 32, 64]))}",
                ],
            )
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="resnet18", choices=sorted(models.MODELS))
    parser.add_argument("--target", default="tpu-like")
    parser.add_argument("--sizes", default="1,16,256,1024")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]

    t = time.perf_counter()
    compiled = api.compile(models.MODELS[args.model](), target=args.target)
    program = compiled.program
    print(f"{args.model} on {args.target}: {program.num_instructions} instructions, "
          f"compiled in {time.perf_counter() - t:.1f} s; JAX backend: {jax.default_backend()} "
          f"({jax.devices()[0].device_kind})")  # fmt: skip

    targets = variants(args.target, max(sizes))
    single = {}
    for i in sorted({0, len(targets) // 2, len(targets) - 1}):
        single[i] = engine.simulate_timing(program, targets[i]).total.cycles
    t = time.perf_counter()
    reps = 5
    for target in targets[:reps]:
        engine.simulate_timing(program, target)
    single_s = (time.perf_counter() - t) / reps

    rows = []
    for size in sizes:
        params = engine.stack_target_params([engine.target_params(x) for x in targets[:size]])
        instrs = np.broadcast_to(program.instrs, (size, *program.instrs.shape))
        t = time.perf_counter()
        engine.simulate_timing_batch(np.array(instrs), params)  # compile this size
        first = time.perf_counter() - t
        t = time.perf_counter()
        records = engine.simulate_timing_batch(np.array(instrs), params)
        wall = time.perf_counter() - t
        ends = records["end"].max(axis=1)
        for i, cycles in single.items():
            if i < size:
                stats = engine.aggregate(
                    program,
                    targets[i],
                    np.stack([records[f][i] for f in engine.RECORD_FIELDS], axis=-1),
                )
                assert stats.total.cycles == cycles, (size, i, stats.total.cycles, cycles)
        row = {
            "batch": size,
            "first_call_s": round(first, 3),
            "wall_s": round(wall, 4),
            "designs_per_s": round(size / wall, 1),
            "speedup_over_single_runs": round(size * single_s / wall, 1),
            "max_end_cycle": int(ends.max()),
        }
        rows.append(row)
        print(f"B={size:>6}: {wall * 1e3:9.1f} ms  {size / wall:10.1f} designs/s  "
              f"x{size * single_s / wall:7.1f} over single runs  (first call {first:.2f} s)")  # fmt: skip
    print(f"single run (warm): {single_s * 1e3:.1f} ms; batched totals equal single runs "
          f"for variants {sorted(single)}")  # fmt: skip
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "target": args.target,
                    "backend": jax.default_backend(),
                    "device": jax.devices()[0].device_kind,
                    "instructions": program.num_instructions,
                    "single_run_s": single_s,
                    "rows": rows,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
