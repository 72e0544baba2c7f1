"""Record or check the numbers a refactor must not move: every example model on every preset.

    python -m bench.baseline_numbers --record    # write tests/data/baseline_numbers.json
    python -m bench.baseline_numbers             # compare the current code with it (exit 1 on a change)
    python -m bench.baseline_numbers --full      # also resnet18 / alexnet at 224x224

Per (model, preset) it keeps the total cycles with `host_ops=host` (the accelerator layers alone:
the numbers were recorded before the vector unit existed) and per accelerator layer its cycles, compute
cycles, DRAM bytes read/written, SRAM bytes and instruction count. `tests/e2e/test_baseline_numbers.py`
checks the small set in CI; `--full` adds the ImageNet-sized runs (minutes) for a hand check.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from accelflow.models import MODELS

BASELINE = Path(__file__).resolve().parent.parent / "tests" / "data" / "baseline_numbers.json"
PRESETS = (
    "tpu-like",
    "tpu-like-small",
    "tpu-v1",
    "maeri-64",
    "maeri-128",
    "sigma-64",
    "sigma-128",
)
# (model name, builder kwargs): the small set runs in CI; the large set with --full.
SMALL_MODELS: tuple[tuple[str, dict], ...] = (
    ("lenet", {}),
    ("mlp", {}),
    ("resnet_block", {}),
    ("depthwise_pointwise", {}),
    ("concat_branches", {}),
    ("gemm", {}),
    ("resnet18", {"size": 32}),
)
LARGE_MODELS: tuple[tuple[str, dict], ...] = (
    ("resnet18", {}),
    ("alexnet", {}),
)


def key(model: str, kwargs: dict, preset: str) -> str:
    args = ",".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
    return f"{model}({args})@{preset}"


def numbers(model: str, kwargs: dict, preset: str) -> dict:
    """The recorded numbers of one (model, preset) run."""
    import accelflow

    # The accelerator's numbers: the vector unit (added later, simulator/vector.py) is left out
    # (`host_ops=host`), so that the recorded totals stay comparable.
    result = accelflow.compile(MODELS[model](**kwargs), target=preset, overrides=["host_ops=host"])
    stats = accelflow.simulate(result.program).stats
    layers = {}
    for layer in stats.layers:
        if not layer.on_accel:
            continue
        layers[layer.name] = {
            "cycles": int(layer.cycles),
            "compute_cycles": int(layer.compute_cycles),
            "dram_read_bytes": int(layer.dram_read_bytes),
            "dram_write_bytes": int(layer.dram_write_bytes),
            "sram_bytes": int(
                sum(layer.sram_read_bytes.values()) + sum(layer.sram_write_bytes.values())
            ),
            "instructions": int(layer.instructions),
        }
    return {"cycles": int(stats.cycles), "layers": layers}


def runs(full: bool) -> list[tuple[str, dict, str]]:
    models = SMALL_MODELS + (LARGE_MODELS if full else ())
    return [(m, kw, p) for m, kw in models for p in PRESETS]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the baseline file")
    parser.add_argument("--full", action="store_true", help="include the 224x224 models")
    args = parser.parse_args(argv)
    recorded = json.loads(BASELINE.read_text()) if BASELINE.exists() else {}
    changed = 0
    for model, kwargs, preset in runs(args.full):
        name = key(model, kwargs, preset)
        t0 = time.perf_counter()
        got = numbers(model, kwargs, preset)
        seconds = time.perf_counter() - t0
        if args.record:
            recorded[name] = got
            print(f"{name:45s} {got['cycles']:>14,} cycles  ({seconds:.1f} s)", flush=True)
            continue
        want = recorded.get(name)
        same = want == got
        changed += not same
        status = "same" if same else f"CHANGED (was {want['cycles'] if want else None:,})"
        print(f"{name:45s} {got['cycles']:>14,} cycles  {status}  ({seconds:.1f} s)", flush=True)
    if args.record:
        BASELINE.parent.mkdir(parents=True, exist_ok=True)
        BASELINE.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
        print(f"wrote {BASELINE}")
        return 0
    print(f"{changed} run(s) changed")
    return int(changed > 0)


if __name__ == "__main__":
    sys.exit(main())
