"""Issue 10's speed figures in one run: each beside its target and the peer figure it answers,
printed as a table and written as JSON.

    python bench/speed.py [--json speed.json]

Figures (wall seconds on this machine unless said; models built by accelflow.models with random
weights, written to a temporary folder):
  help                 `accelflow --help`, best of 3                               target < 0.5 s
  simulate, 2nd proc   `accelflow simulate resnet50.onnx --target tpu-like`, the second of two
                       processes (the first fills the program cache, a temporary
                       folder here)                                               target <= 2 s
                       peer: STONNE's wall time per layer (bench/validation/stonne.csv, median)
  compile vgg11        `accelflow.compile(vgg11.onnx)` in a process that has compiled once
                       (imports and JIT warm), tpu-like                            target <= 2 s
  compile vgg11 sigma  the same on sigma-128                                       target <= 5 s
  cost model           candidates scored per second (bench/cost_model_accuracy.throughput,
                       200,000 candidates of a 3x3 conv) on tpu-like, maeri-128 and
                       sigma-128, each in a process of its own, twice: random
                       log-uniform tiles and the tuner's own draw (MappingSpace)  target >= 1e6/s
  timing 1M+ instr.    the warm timing simulation (fast-forward, second call) of vgg11 on
                       tpu-like-small with 2 KiB buffers (1,507,228 instructions), its
                       cycles checked equal to the full scan's                    target <= 50 ms
                       peer: SCALE-Sim's seconds per layer (bench/validation/scalesim.csv)
                       The program takes minutes to compile (an instruction per tile through
                       the IR); `--skip-big` leaves the figure out.
  tune resnet18        `accelflow tune resnet18.onnx --target maeri-128 --budget 2000`, one
                       process (search, top-k simulations, the verifying compile) target <= 30 s
Not run in CI.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accelflow import models  # noqa: E402

VALIDATION = ROOT / "bench" / "validation"
# The cost model's figure: one target of each family.
COST_MODEL_TARGETS = ("tpu-like", "maeri-128", "sigma-128")


def _cli(*args: str) -> float:
    """Wall seconds of one `accelflow` process (it must succeed)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "accelflow.cli", *args], capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"accelflow {' '.join(args)} failed:\n{proc.stderr}")
    return wall


def _throughput(target: str, draw: str) -> dict[str, Any]:
    """`bench.cost_model_accuracy.throughput` in a process of its own: the figure does not
    depend on what the other figures allocated before (numpy's temporaries are faster or
    slower by up to 20 % with the allocator's state)."""
    code = (
        "import json; from bench.cost_model_accuracy import throughput; "
        "from simulator.target import load_target; "
        f"print(json.dumps(throughput(load_target({target!r}), 200_000, seed=0, draw={draw!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"the cost model's throughput on {target} failed:\n{proc.stderr}")
    *lines, result = proc.stdout.splitlines()
    print("\n".join(lines))
    return json.loads(result)


def _median_column(path: Path, column: str) -> float | None:
    with path.open() as f:
        values = [float(row[column]) for row in csv.DictReader(f) if row.get(column)]
    return statistics.median(values) if values else None


def _timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _big_timing(vgg11: Path, add: Any) -> None:
    """The warm fast-forward on a >= 1M-instruction program, checked against the full scan."""
    import accelflow
    from simulator.target import load_target
    from simulator.timing import simulate_timing

    tight = [f"{b}_sram_kib=2" for b in ("ifmap", "filter", "ofmap")]
    target = load_target("tpu-like-small", tight)
    print("  (compiling vgg11 for tpu-like-small with 2 KiB buffers: minutes)", flush=True)
    program = accelflow.compile(str(vgg11), target=target).program
    first, fast = _timed(lambda: simulate_timing(program, target))
    warm = min(_timed(lambda: simulate_timing(program, target))[0] for _ in range(3))
    full_s, full = _timed(lambda: simulate_timing(program, target, fast_forward=False))
    if full.to_dict()["layers"] != fast.to_dict()["layers"]:
        raise SystemExit("the fast-forward's stats differ from the full scan's")
    scalesim = _median_column(VALIDATION / "scalesim.csv", "scalesim_seconds_per_layer")
    peer = f"SCALE-Sim median {scalesim:.1f} s per layer; " if scalesim else ""
    add(
        "timing 1M+ instr. (ms)",
        warm * 1e3,
        "<= 50",
        warm <= 0.05,
        f"{peer}{program.num_instructions:,} instructions, {fast.simulated:,} simulated, "
        f"{fast.total.cycles:,} cycles = full scan ({full_s:.1f} s); first call {first:.2f} s",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument(
        "--skip-big", action="store_true", help="leave out the 1M-instruction timing figure"
    )
    args = parser.parse_args(argv)

    import accelflow

    stonne_s = _median_column(VALIDATION / "stonne.csv", "wall_s")
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, target: str, ok: bool, peer: str = "") -> None:
        rows.append({"figure": name, "value": value, "target": target, "met": ok, "peer": peer})
        print(f"{name:40} {value:>14,.3f}   {target:12} {'met' if ok else 'NOT met':8} {peer}")

    print(f"{'figure':40} {'value':>14}   {'target':12} {'':8} peer")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cache = str(folder / "jax-cache")
        help_s = min(_cli("--help") for _ in range(3))
        add("help (s)", help_s, "< 0.5", help_s < 0.5)

        resnet50 = folder / "resnet50.onnx"
        onnx.save(models.resnet50(), str(resnet50))
        programs = str(folder / "programs")
        sim = ("--jax-cache", cache, "--program-cache", programs, "simulate", str(resnet50))
        sim += ("--target", "tpu-like", "--json")
        _cli(*sim)
        second = _cli(*sim)
        peer = f"STONNE median {stonne_s:.2f} s per layer" if stonne_s else ""
        add("simulate, 2nd proc (s)", second, "<= 2", second <= 2, peer)

        vgg11 = folder / "vgg11.onnx"
        onnx.save(models.vgg11(), str(vgg11))
        accelflow.compile(models.lenet(), target="tpu-like")  # imports and JIT warm
        compile_s, _ = _timed(lambda: accelflow.compile(str(vgg11), target="tpu-like"))
        add("compile vgg11 (s)", compile_s, "<= 2", compile_s <= 2)
        sigma_s, _ = _timed(lambda: accelflow.compile(str(vgg11), target="sigma-128"))
        add("compile vgg11 sigma (s)", sigma_s, "<= 5", sigma_s <= 5)

        for preset in COST_MODEL_TARGETS:
            for draw in ("random", "space"):
                rate = _throughput(preset, draw)
                per_s = rate["candidates_per_s"]
                shapes = f"{rate['tile_shapes_per_candidate']:.1f} tile shapes per candidate"
                name = f"cost model {preset} {draw} (cand./s)"
                add(name, per_s, ">= 1e6", per_s >= 1e6, shapes)

        resnet18 = folder / "resnet18.onnx"
        onnx.save(models.resnet18(), str(resnet18))
        tune = ("tune", str(resnet18), "--target", "maeri-128", "--budget", "2000")
        tune += ("-o", str(folder / "r18.json"), "--log", str(folder / "r18.log"))
        tune_s = _cli("--jax-cache", cache, *tune)
        add("tune resnet18 (s)", tune_s, "<= 30", tune_s <= 30, "budget 2000 per layer")

        if not args.skip_big:
            _big_timing(vgg11, add)

    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
