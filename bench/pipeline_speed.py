"""Pipeline speed on a model: ResNet-18 (1.8 GMAC at 224x224), ViT-B/16, a BERT-base encoder.

    python bench/pipeline_speed.py [--model resnet18|vit-b16|bert-base] [--target tpu-like]
                                   [--size 224] [--seq 128] [--no-functional]

Prints the wall time of every stage (import, each pass, assemble, timing simulation cold and
warm, functional simulation), instructions per second, simulated cycles per wall second and
the peak resident memory of the process (functional simulation of ViT-B/16 should stay under
4 GB).
Not run in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import accelflow  # noqa: E402
from accelflow.api import random_inputs  # noqa: E402
from accelflow.models import resnet18  # noqa: E402
from accelflow.transformer_models import bert_base, vit_b16  # noqa: E402

MODELS = {
    "resnet18": lambda args: resnet18(batch=args.batch, size=args.size),
    "vit-b16": lambda args: vit_b16(batch=args.batch),
    "bert-base": lambda args: bert_base(batch=args.batch, seq=args.seq),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet18", choices=sorted(MODELS))
    parser.add_argument("--seq", type=int, default=128, help="bert-base: tokens")
    parser.add_argument("--target", default="tpu-like")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--no-functional", action="store_true")
    args = parser.parse_args()

    t0 = time.perf_counter()
    model = MODELS[args.model](args)
    build = time.perf_counter() - t0

    t0 = time.perf_counter()
    result = accelflow.compile(model, target=args.target, overrides=args.overrides)
    compile_s = time.perf_counter() - t0
    program = result.program
    macs = sum(layer.macs for layer in program.accel_layers())

    t0 = time.perf_counter()
    cold = accelflow.simulate(program, result.target)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm = accelflow.simulate(program, result.target)
    warm_s = time.perf_counter() - t0
    cycles = warm.stats.total.cycles
    assert cycles == cold.stats.total.cycles

    t = result.target
    array = t.family.describe(t)
    what = {
        "resnet18": f"ResNet-18 {args.batch}x3x{args.size}x{args.size}",
        "vit-b16": f"ViT-B/16 {args.batch}x3x224x224",
        "bert-base": f"BERT-base encoder {args.batch}x{args.seq}x768",
    }[args.model]
    print(
        f"{what} on {t.name} "
        f"({array} {t.dataflow}): "
        f"{macs / 1e9:.3f} GMAC, {len(program.accel_layers())} accelerator layers, "
        f"{program.num_instructions} instructions"
    )
    print(f"{'stage':<28}{'wall s':>10}")
    print(f"{'build model (not counted)':<28}{build:>10.3f}")
    for stage, seconds in result.seconds.items():
        print(f"{'  ' + stage:<28}{seconds:>10.3f}")
    print(f"{'compile total':<28}{compile_s:>10.3f}")
    print(f"{'timing sim (cold, jit)':<28}{cold_s:>10.3f}")
    print(f"{'timing sim (warm)':<28}{warm_s:>10.3f}")
    print(f"{'compile + timing sim':<28}{compile_s + cold_s:>10.3f}")
    print(f"instructions/s (warm timing): {program.num_instructions / warm_s:,.0f}")
    print(
        f"simulated cycles per wall second (warm): {cycles / warm_s:,.0f}  (total {cycles:,} cycles, "
        f"utilisation {warm.stats.total.utilisation:.1%})"
    )
    if not args.no_functional:
        inputs = random_inputs(program)
        t0 = time.perf_counter()
        func = accelflow.simulate(program, result.target, functional=True, inputs=inputs)
        func_s = time.perf_counter() - t0
        print(f"{'functional sim':<28}{func_s:>10.3f}")
        print(
            f"functional MAC/s: {macs / func_s:,.0f}; outputs: "
            f"{ {k: v.shape for k, v in func.outputs.items() if k in program.outputs} }"
        )
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"peak resident memory: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
