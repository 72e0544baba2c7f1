"""The `accelflow` command line.

    accelflow compile MODEL --target T [--set F=V]... [-o DIR] [--emit ir|asm|program]...
                      [--mappings maps.json]
    accelflow simulate MODEL --target T [--set F=V]... [--check] [--inputs X.npz]
                       [--save-outputs Y.npz] [--json] [--mappings maps.json]
    accelflow tune MODEL --target T [--set F=V]... [--strategy S] [--budget N] ... [--hw ...] -o DB
    accelflow tune --resume LOG [-o DB] [--executor ...] [--plot FILE.png] [--json]
    accelflow targets

User mistakes end with one line `error: ...` on stderr and exit code 2 (no traceback unless
`--debug`); `simulate --check` exits 1 when an output differs from the ONNX reference.
`--mappings` reads a mapping database (`tuner/db.py`: the entries for the target's fingerprint,
by layer signature) or an older plain JSON object layer name -> mapping; layers it has no entry
for get the default mapping, named in one `notice:` line on stderr.

`tune` (all its options: `accelflow/cli_tune.py`) is the command line of one
`tuner.session.TuneSession` (the run, resume, `--hw`, verification): a progress bar on stderr,
then the table (or `--json`) and a `verified: ...` line, or a warning naming the layers that
the written database does not reproduce (the exit code stays 0). Ctrl-C exits 130 and says how
to resume. See docs/tuning.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from simulator.errors import AccelflowError

EXIT_USAGE = 2
EXIT_CHECK_FAILED = 1

err_console = Console(stderr=True, highlight=False)


def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model file")
    p.add_argument(
        "--target",
        "-t",
        default="tpu-like",
        help="preset name (see `accelflow targets`) or YAML file",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a target field (repeatable), e.g. --set rows=16 --set dataflow=os",
    )
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="[NAME=]DxDx..",
        help="static shape of a graph input, e.g. input=1x3x224x224 (repeatable)",
    )
    p.add_argument(
        "--passes", default=None, help="override the pass pipeline (accelflow-opt syntax)"
    )
    p.add_argument(
        "--mappings",
        default=None,
        metavar="DB.json",
        help="mapping database (from `accelflow tune`) to use instead of the default mappings",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="accelflow", description="ONNX -> accelerator mapping -> cycle-level simulation"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("compile", help="lower a model to an instruction stream")
    _add_target_args(p)
    p.add_argument("-o", "--output", default=None, help="folder for IR, assembly and program")
    p.add_argument(
        "--emit",
        action="append",
        choices=["ir", "asm", "program"],
        help="what to write to the output folder (repeatable; default: all)",
    )

    p = sub.add_parser("simulate", help="compile and simulate a model; print per-layer statistics")
    _add_target_args(p)
    p.add_argument(
        "--check", action="store_true", help="compare outputs with an ONNX reference run"
    )
    p.add_argument("--functional", action="store_true", help="compute output tensors too")
    p.add_argument("--inputs", default=None, help="input tensors (.npy or .npz); default random")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument("--save-outputs", default=None, help="write output tensors to this .npz")
    p.add_argument("--json", action="store_true", help="print statistics as JSON")
    p.add_argument("--rtol", type=float, default=1e-4, help="tolerance of --check (default 1e-4)")

    from accelflow.cli_tune import add_tune_parser  # it imports this module: not at the top

    add_tune_parser(sub)
    sub.add_parser("targets", help="list the built-in target presets")
    return parser


def _input_shapes(items: Sequence[str]) -> dict[str, tuple[int, ...]] | None:
    if not items:
        return None
    from compiler.importer import parse_input_shape

    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        shapes.update(parse_input_shape(item))
    return shapes


def _load_mappings(path: str | None) -> Any:
    """The `--mappings` file read (a MappingDB, or an older plain layer-name -> mapping dict);
    a missing or malformed file is a DatabaseError (one line, exit 2)."""
    if path is None:
        return None
    from tuner.db import read_mappings

    return read_mappings(path)


def _compile(args: argparse.Namespace, keep_ir: bool = False):
    from accelflow.api import compile as compile_model

    mappings = _load_mappings(args.mappings)
    with err_console.status("compiling...", spinner="dots"):
        result = compile_model(
            args.model,
            target=args.target,
            overrides=args.overrides,
            input_shapes=_input_shapes(args.input_shape),
            passes=args.passes,
            mappings=mappings,
            keep_ir=keep_ir,
        )
    notice = result.mapping_notice(args.mappings) if mappings is not None else None
    if notice:
        err_console.print(f"notice: {notice}", markup=False, soft_wrap=True)
    return result


def cmd_compile(args: argparse.Namespace) -> int:
    emit = set(args.emit or ["ir", "asm", "program"])
    result = _compile(args, keep_ir=args.output is not None and "ir" in emit)
    program = result.program
    out = Path(args.output) if args.output else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if "ir" in emit:
            for index, (stage, text) in enumerate(result.stages.items()):
                (out / f"{index}-{stage}.mlir").write_text(text + "\n")
        if "asm" in emit:
            (out / "program.s").write_text(program.to_asm() + "\n")
        if "program" in emit:
            program.save(out)
    layers = program.accel_layers()
    print(
        f"compiled {args.model} for {result.target.name}: {len(program.layers)} operations "
        f"({len(layers)} on the accelerator), {program.num_instructions} instructions, "
        f"{sum(layer.macs for layer in layers):,} MACs"
    )
    if out is not None:
        print(f"wrote {', '.join(sorted(emit))} to {out}/")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from accelflow.api import check, random_inputs, read_inputs, simulate

    result = _compile(args)
    program = result.program
    functional = bool(args.functional or args.check or args.save_outputs or args.inputs)
    inputs = None
    if functional:
        inputs = (
            read_inputs(args.inputs, program) if args.inputs else random_inputs(program, args.seed)
        )
    t0 = time.perf_counter()
    with err_console.status("simulating...", spinner="dots"):
        sim = simulate(program, result.target, functional=functional, inputs=inputs)
    wall = time.perf_counter() - t0
    report = None
    if args.check:
        with err_console.status("running the ONNX reference...", spinner="dots"):
            outputs = {name: sim.outputs[name] for name in program.outputs}
            report = check(args.model, inputs or {}, outputs, rtol=args.rtol)
    if args.save_outputs:
        import numpy as np

        np.savez(args.save_outputs, **{name: sim.outputs[name] for name in program.outputs})
    if args.json:
        data = sim.stats.to_dict()
        data["wall_seconds"] = {**result.seconds, "simulate": wall}
        if args.mappings is not None:
            data["mappings"] = {
                "database": args.mappings,
                "target_fingerprint": result.target.fingerprint(),
                "sources": result.mapping_sources,
            }
        if report is not None:
            data["check"] = {
                "ok": report.ok,
                "rtol": report.rtol,
                "outputs": {
                    k: {"max_abs_error": e, "max_abs_reference": s}
                    for k, (e, s) in report.errors.items()
                },
            }
        print(json.dumps(data, indent=1))
    else:
        print(sim.stats.format_table())
    if report is not None:
        name, rel = report.worst()
        if not report.ok:
            err_console.print(
                f"check FAILED: output '{name}' differs from the ONNX reference by {rel:.3g} "
                f"(relative to its largest value; tolerance {report.rtol:g})",
                soft_wrap=True,
            )
            return EXIT_CHECK_FAILED
        if not args.json:
            print(
                f"check passed: {len(report.errors)} output(s) match the ONNX reference "
                f"(worst relative error {rel:.3g}, tolerance {report.rtol:g})"
            )
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from accelflow.cli_tune import cmd_tune as tune

    return tune(args)


def cmd_targets(args: argparse.Namespace) -> int:
    from rich.table import Table

    from simulator.target import PRESET_DESCRIPTIONS, PRESETS, load_target

    table = Table(title="accelflow target presets (use --target NAME, --set FIELD=VALUE)")
    for col in (
        "name",
        "arch",
        "array",
        "dataflow",
        "buffers (KiB)",
        "DRAM B/cycle",
        "description",
    ):
        table.add_column(col)
    for name in PRESETS:
        t = load_target(name)
        table.add_row(
            name,
            t.arch,
            t.family.describe(t),
            t.dataflow,
            f"{t.ifmap_sram_kib:g}/{t.filter_sram_kib:g}/{t.ofmap_sram_kib:g}",
            f"{t.dram_bw_bytes_per_cycle:g}",
            PRESET_DESCRIPTIONS.get(name, ""),
        )
    Console(width=160).print(table)
    return 0


COMMANDS = {
    "compile": cmd_compile,
    "simulate": cmd_simulate,
    "tune": cmd_tune,
    "targets": cmd_targets,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except AccelflowError as err:
        if args.debug:
            raise
        err_console.print(f"error: {err}", markup=False, soft_wrap=True)
        return err.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
