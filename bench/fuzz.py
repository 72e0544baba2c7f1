"""Fuzz the whole flow: random small ONNX graphs on random targets, outputs against onnx.reference.

    python bench/fuzz.py --cases 10000 [--seed 0] [--jobs 2] [--json fuzz.json] [--stop-on-failure]

Every case draws a graph of 1 to 6 operators over what the accelerators and the vector unit run
(Conv with groups, depthwise, strides, padding and dilation; MaxPool, AveragePool,
GlobalAveragePool; Gemm with or without transB and bias; MatMul; Add of a constant or of an
earlier tensor; Relu; Flatten), shapes that include 1 and primes, and a target (tpu-like-small
with ws/os/is and 2 to 16 rows and columns, maeri-N (4 to 64 multipliers) with the
accumulation buffer on or off, sigma-N (4 to 64) with few read/write ports, either energy
model on both; global buffers down to 1 KiB so that tiles have edges). It
compiles the graph, simulates it with values and compares every output with onnx.reference
(|ours - ref| <= 1e-4 x max|ref|). A case fails when the flow raises anything (a crash: a
user-facing `AccelflowError` on a valid graph counts too), when an output differs (a
mismatch), or when the run reports no cycles (a graph of views only may take none). A failure prints the case's seed and graph; rerun
one with `--seed S --cases 1`.

The generator (`random_model`, `random_target`) takes a `Draw`, so the same code runs from a
numpy generator here and from hypothesis in tests/e2e/test_fuzz.py (a bounded run in CI).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OPSET = 17
RTOL = 1e-4
# Small primes and 1 among the sizes: edge tiles, odd windows.
SIZES = (1, 2, 3, 4, 5, 7, 8, 11, 12, 13)


class Draw(Protocol):
    """What the generator asks of its source of randomness."""

    def integer(self, lo: int, hi: int) -> int: ...  # lo..hi inclusive

    def choice(self, options: list[Any]) -> Any: ...


@dataclass
class NumpyDraw:
    rng: np.random.Generator

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options: list[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]


@dataclass
class _Graph:
    draw: Draw
    rng: np.random.Generator
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    ops: list[str] = field(default_factory=list)

    def weight(self, shape: tuple[int, ...]) -> str:
        name = f"w{len(self.inits)}"
        values = (self.rng.standard_normal(shape) / np.sqrt(max(1, shape[-1]))).astype(np.float32)
        self.inits.append(numpy_helper.from_array(values, name))
        return name

    def add(self, op: str, inputs: list[str], shape: tuple[int, ...], **attrs: Any) -> str:
        out = f"t{len(self.nodes)}"
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=f"/{op}_{len(self.nodes)}", **attrs)
        )
        self.shapes[out] = shape
        self.ops.append(op)
        return out


def _conv(g: _Graph, x: str) -> str:
    n, c, h, w = g.shapes[x]
    d = g.draw
    depthwise = c > 1 and d.integer(0, 3) == 0
    group = c if depthwise else d.choice([1, *([c] if c > 1 else []), *([2] if c % 2 == 0 else [])])
    k = c * d.integer(1, 2) if depthwise else group * d.integer(1, max(1, 8 // group))
    r, s = d.integer(1, min(3, h + 2)), d.integer(1, min(3, w + 2))
    stride = d.integer(1, 2)
    dil = d.choice([1, 1, 1, 2])
    pads = [d.integer(0, 1) for _ in range(4)]
    eff_r, eff_s = dil * (r - 1) + 1, dil * (s - 1) + 1
    ho = (h + pads[0] + pads[2] - eff_r) // stride + 1
    wo = (w + pads[1] + pads[3] - eff_s) // stride + 1
    if ho < 1 or wo < 1:
        return x
    inputs = [x, g.weight((k, c // group, r, s))]
    if d.integer(0, 1):
        inputs.append(g.weight((k,)))
    return g.add(
        "Conv", inputs, (n, k, ho, wo), kernel_shape=[r, s], strides=[stride, stride],
        pads=pads, dilations=[dil, dil], group=group,
    )  # fmt: skip


def _pool(g: _Graph, x: str) -> str:
    n, c, h, w = g.shapes[x]
    d = g.draw
    op = d.choice(["MaxPool", "AveragePool", "GlobalAveragePool"])
    if op == "GlobalAveragePool":
        return g.add(op, [x], (n, c, 1, 1))
    kr, ks = d.integer(1, min(3, h)), d.integer(1, min(3, w))
    stride = d.integer(1, 2)
    ho, wo = (h - kr) // stride + 1, (w - ks) // stride + 1
    return g.add(op, [x], (n, c, ho, wo), kernel_shape=[kr, ks], strides=[stride, stride])


def _elementwise(g: _Graph, x: str) -> str:
    d = g.draw
    if d.integer(0, 1):
        return g.add("Relu", [x], g.shapes[x])
    same = [t for t, s in g.shapes.items() if s == g.shapes[x] and t != x]
    other = d.choice(same) if same and d.integer(0, 1) else g.weight(g.shapes[x])
    return g.add("Add", [x, other], g.shapes[x])


def _gemm(g: _Graph, x: str) -> str:
    m, k = g.shapes[x]
    d = g.draw
    n = d.choice(list(SIZES))
    if d.integer(0, 1):
        return g.add("MatMul", [x, g.weight((k, n))], (m, n))
    trans_b = d.integer(0, 1)
    inputs = [x, g.weight((n, k) if trans_b else (k, n))]
    if d.integer(0, 1):
        inputs.append(g.weight((n,)))
    return g.add("Gemm", inputs, (m, n), transB=trans_b)


def random_model(d: Draw, seed: int = 0) -> tuple[onnx.ModelProto, list[str]]:
    """A valid ONNX model of 1 to 6 operators (and the operators drawn)."""
    g = _Graph(d, np.random.default_rng(seed))
    if d.integer(0, 2):  # an image
        shape: tuple[int, ...] = (
            d.choice([1, 1, 2]), d.choice([1, 2, 3, 4, 8]), d.choice(list(SIZES)),
            d.choice(list(SIZES)),
        )  # fmt: skip
    else:
        shape = (d.choice([1, 2, 3, 5]), d.choice(list(SIZES)))
    x = "input"
    g.shapes[x] = shape
    for _ in range(d.integer(1, 6)):
        rank = len(g.shapes[x])
        if rank == 4:
            step = d.choice([_conv, _conv, _pool, _elementwise, "flatten"])
            if step == "flatten":
                n, c, h, w = g.shapes[x]
                x = g.add("Flatten", [x], (n, c * h * w), axis=1)
            else:
                x = step(g, x)
        else:
            x = d.choice([_gemm, _gemm, _elementwise])(g, x)
    if not g.nodes:
        x = g.add("Relu", [x], g.shapes[x])
    graph = helper.make_graph(
        g.nodes, "fuzz",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, list(g.shapes[x]))],
        g.inits,
    )  # fmt: skip
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model, g.ops


def random_target(d: Draw) -> tuple[str, list[str]]:
    """A preset and its overrides (module docstring)."""
    family = d.choice(["tpu", "maeri", "sigma"])
    small = ["ifmap_sram_kib=1", "filter_sram_kib=1", "ofmap_sram_kib=1"]
    buffers = small if d.integer(0, 2) == 0 else []
    if family == "tpu":
        rows, cols = d.choice([2, 3, 4, 8, 16]), d.choice([2, 4, 5, 8, 16])
        dataflow = d.choice(["ws", "os", "is"])
        return "tpu-like-small", [f"rows={rows}", f"cols={cols}", f"dataflow={dataflow}", *buffers]
    ms = d.choice([4, 8, 16, 32, 64])
    dn = d.choice([v for v in (1, 2, 4, 8, 16, 64) if v <= ms])
    rn = d.choice([v for v in (1, 2, 4, 8, 16, 64) if v <= ms])
    overrides = [f"dn_bw_elems_per_cycle={dn}", f"rn_bw_elems_per_cycle={rn}", *buffers]
    if family == "maeri":
        overrides.append(f"accumulation_buffer={d.choice(['true', 'false'])}")
    overrides.append(f"energy_model={d.choice(['table', 'stonne'])}")
    return f"{family}-{ms}", overrides


@dataclass
class Outcome:
    kind: str  # "pass" | "crash" | "mismatch"
    detail: str = ""
    cycles: int = 0


def run_case(model: onnx.ModelProto, preset: str, overrides: list[str], seed: int = 0) -> Outcome:
    """Compile, simulate with values and check one case (module docstring). A graph of views
    only (Flatten) moves nothing and may take 0 cycles; any other must take some."""
    import accelflow
    from accelflow.api import random_inputs

    try:
        result = accelflow.compile(model, target=preset, overrides=overrides)
        inputs = random_inputs(result.program, seed=seed)
        sim = accelflow.simulate(result.program, result.target, functional=True, inputs=inputs)
        outputs = {name: sim.outputs[name] for name in result.program.outputs}
        report = accelflow.check(model, inputs, outputs, rtol=RTOL)
    except Exception as err:  # noqa: BLE001 - every exception is a finding here
        lines = traceback.format_exception(err)
        return Outcome("crash", f"{type(err).__name__}: {err}\n{''.join(lines[-6:])}")
    cycles = int(sim.stats.total.cycles)
    if not report.ok:
        return Outcome("mismatch", f"worst {report.worst()}", cycles)
    if cycles <= 0 and any(node.op_type != "Flatten" for node in model.graph.node):
        return Outcome("mismatch", "no cycles reported", cycles)
    return Outcome("pass", "", cycles)


def describe(model: onnx.ModelProto, ops: list[str], preset: str, overrides: list[str]) -> str:
    inputs = [[d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]
    return f"{preset} {' '.join(overrides)} | input {inputs[0]} | {' -> '.join(ops)}"


def one_case(seed: int) -> tuple[int, str, str, str, str]:
    """Draw and run the case of `seed`: (seed, target family, outcome kind, text, detail).
    A module-level function so that worker processes can run it."""
    d = NumpyDraw(np.random.default_rng(seed))
    model, ops = random_model(d, seed)
    preset, overrides = random_target(d)
    outcome = run_case(model, preset, overrides, seed)
    text = "" if outcome.kind == "pass" else describe(model, ops, preset, overrides)
    return seed, preset.split("-")[0], outcome.kind, text, outcome.detail


def _outcomes(seeds: range, jobs: int):
    """Each case's result in seed order, from `jobs` worker processes (spawned: no JAX state
    is shared) or from this one."""
    if jobs == 1:
        yield from map(one_case, seeds)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    # A fresh worker now and then bounds the growth of JAX's compilation caches.
    with ctx.Pool(jobs, maxtasksperchild=1000) as pool:
        yield from pool.imap(one_case, seeds, chunksize=4)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cases", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="seed of the first case (case i: seed+i)")
    ap.add_argument("--json", type=Path, help="write the counts and every failure here")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--stop-on-failure", action="store_true")
    args = ap.parse_args(argv)
    if args.cases < 1 or args.seed < 0 or args.jobs < 1:
        ap.error("--cases and --jobs must be >= 1 and --seed >= 0")
    counts = {"pass": 0, "crash": 0, "mismatch": 0}
    by_family = {"tpu": 0, "maeri": 0, "sigma": 0}
    failures = []
    start = time.perf_counter()
    seeds = range(args.seed, args.seed + args.cases)
    for i, (seed, family, kind, text, detail) in enumerate(_outcomes(seeds, args.jobs)):
        counts[kind] += 1
        by_family[family] += 1
        if kind != "pass":
            failures.append({"seed": seed, "kind": kind, "case": text, "detail": detail})
            print(f"seed {seed}: {kind}: {text}\n  {detail.splitlines()[0]}", flush=True)
            if args.stop_on_failure:
                break
        if (i + 1) % 50 == 0 or i + 1 == args.cases:
            rate = (i + 1) / (time.perf_counter() - start)
            print(
                f"{i + 1}/{args.cases} cases: {counts['pass']} passed, {counts['crash']} crashes, "
                f"{counts['mismatch']} mismatches ({rate:.1f} cases/s)",
                flush=True,
            )
    summary = {
        "cases": sum(counts.values()), **counts, "targets": by_family,
        "seconds": round(time.perf_counter() - start, 1), "first_seed": args.seed,
        "jobs": args.jobs,
        "failures": failures,
    }  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
