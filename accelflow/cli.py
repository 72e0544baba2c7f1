"""The `accelflow` command line.

    accelflow compile MODEL --target T [--set F=V]... [-o DIR] [--emit ir|asm|program]...
                      [--mappings maps.json]
    accelflow simulate MODEL --target T [--set F=V]... [--check] [--inputs X.npz]
                       [--save-outputs Y.npz] [--json] [--mappings maps.json]
    accelflow tune MODEL --target T [--set F=V]... [--strategy S] [--budget N] ... [--hw ...] -o DB
    accelflow tune --resume LOG [-o DB] [--executor ...] [--plot FILE.png] [--json]
    accelflow targets

Exit codes:

    0    success (and with --check, every output matches the reference)
    1    simulate --check: an output differs from the reference by more than --rtol
    2    a user mistake: one line `error: ...` on stderr (no traceback unless `--debug`)
    3    simulate --check: the reference could not run (onnx.reference and onnxruntime both
         failed, or the one `--reference` named), said on one line `error: ...`
    130  interrupted (Ctrl-C)

`simulate --check` compares the outputs with `onnx.reference.ReferenceEvaluator`; when the
evaluator itself raises (its bugs, an op it does not implement) a `notice:` line names its
exception and onnxruntime is the reference instead. The report (and `--json`'s "check") names
the reference used. `--save-outputs` is written before the check, and never over a file the
command reads (the model, --inputs, --mappings, a --target file): that is exit 2 up front.
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
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from rich.console import Console

from simulator.errors import (
    MAX_SEED,
    AccelflowError,
    checked_folder,
    checked_number,
    checked_output,
    existing_file,
)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_REFERENCE_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
# The default --rtol, accelflow.api.DEFAULT_RTOL (not imported: parsing stays light; a test
# checks they agree; the measurements are there). The worst relative error measured over the
# example models (accelflow.models.MODELS) on every preset target: 2.5e-06 (alexnet).
DEFAULT_RTOL = 1e-3

err_console = Console(stderr=True, highlight=False)


def _add_target_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "model",
        help="ONNX model file; or a .mlir stage `compile -o` wrote, or its program folder",
    )
    p.add_argument(
        "--target",
        "-t",
        default=None,
        help="preset name (see `accelflow targets`) or YAML file (default tpu-like; for a .mlir "
        "stage or a program folder, the target it carries)",
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
    p.add_argument(
        "--objective",
        choices=["latency", "energy", "edp"],
        default="latency",
        help="which of the database's entries to use where a layer was tuned for several "
        "objectives (default latency; a layer tuned for one objective only uses that entry)",
    )


class _Parser(argparse.ArgumentParser):
    """argparse's parser, its errors said as every other error: one `error:` line, exit 2
    (argparse prints the usage and a `PROG: error:` line). Subcommands inherit it."""

    def error(self, message: str) -> NoReturn:
        err_console.print(
            f"error: {self.prog}: {message} (see '{self.prog} --help')",
            markup=False,
            soft_wrap=True,
        )
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accelflow", description="ONNX -> accelerator mapping -> cycle-level simulation"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument(
        "--jax-cache",
        metavar="DIR|off",
        default=None,
        help="persistent JAX compilation cache folder, or off (default: ACCELFLOW_JAX_CACHE, "
        "else ~/.cache/accelflow/jax); a second run reuses the compiled simulator",
    )
    parser.add_argument(
        "--program-cache",
        metavar="DIR|off",
        default=None,
        help="folder of compiled programs `simulate` reuses when the model, target, mappings, "
        "options and code are the same, or off (default: ACCELFLOW_PROGRAM_CACHE, else "
        "~/.cache/accelflow/programs)",
    )
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
    p.add_argument(
        "--keep-weights",
        action="store_true",
        help="write the IR stages with their constants (default: large constants elided as "
        "dense_resource<__elided__>, which a later run cannot compute outputs from, and "
        "which SIGMA counts as dense weights)",
    )

    p = sub.add_parser(
        "simulate",
        help="compile and simulate a model; print per-layer statistics",
        description="Compile and simulate a model; print per-layer statistics. Exit codes: "
        "0 ok, 1 --check mismatch, 2 user error, 3 the --check reference could not run, "
        "130 interrupted.",
    )
    _add_target_args(p)
    p.add_argument(
        "--check",
        action="store_true",
        help="compare outputs with an ONNX reference run (onnx.reference; onnxruntime when "
        "that fails); exit 1 on a mismatch, 3 when no reference can run",
    )
    p.add_argument(
        "--reference",
        choices=["auto", "onnx", "onnxruntime"],
        default="auto",
        help="the reference of --check: onnx.reference, onnxruntime, or auto (default: "
        "onnx.reference, onnxruntime when it fails)",
    )
    p.add_argument("--functional", action="store_true", help="compute output tensors too")
    p.add_argument("--inputs", default=None, help="input tensors (.npy or .npz); default random")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    p.add_argument(
        "--save-outputs",
        default=None,
        metavar="Y.npz",
        help="write the output tensors to this file (before --check runs; never over an "
        "input of the command)",
    )
    p.add_argument("--json", action="store_true", help="print statistics as JSON")
    p.add_argument(
        "--full-scan",
        action="store_true",
        help="time every instruction one by one instead of fast-forwarding repeating tile "
        "loops (the same numbers, slower: a check of the fast-forward)",
    )
    p.add_argument(
        "--rtol",
        type=float,
        default=DEFAULT_RTOL,
        help=f"tolerance of --check, |ours - ref| <= RTOL * max|ref| per output (default "
        f"{DEFAULT_RTOL:g}; the worst measured on the example models, every preset: 2.5e-06)",
    )

    p = sub.add_parser(
        "export",
        help="write the chosen mappings in a peer tool's input format",
        description="Write each accelerator layer's mapping (from --mappings, else the default "
        "heuristic) in the input format of SCALE-Sim, STONNE, ZigZag, Timeloop or MAESTRO. "
        "What a format cannot express is said on one line each.",
    )
    _add_target_args(p)
    p.add_argument(
        "--format", required=True, choices=["scalesim", "stonne", "zigzag", "timeloop", "maestro"]
    )
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write into")
    p.add_argument(
        "--overwrite", action="store_true", help="replace files of the same names in DIR"
    )

    from accelflow.cli_tune import add_tune_parser  # it imports this module: not at the top

    add_tune_parser(sub)
    from accelflow.sweep import add_sweep_parser

    add_sweep_parser(sub)
    from accelflow.cli_db import add_db_parser

    add_db_parser(sub)
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


def input_kind(model: str) -> str:
    """What MODEL names: "onnx" (a file), "mlir" (a `.mlir` file of any stage) or "program" (a
    folder `compile -o` wrote, with program.json); anything else is an error, before the
    compiler's imports (seconds): a typo answers at once."""
    path = Path(model)
    if path.is_dir():
        if not (path / "program.json").is_file():
            raise AccelflowError(
                f"{path}: a folder without program.json (give an ONNX model, a .mlir stage or "
                "a folder `accelflow compile -o` wrote)"
            )
        return "program"
    existing_file(path)
    return "mlir" if path.suffix == ".mlir" else "onnx"


def _compile(args: argparse.Namespace, keep_ir: bool = False, keep_weights: bool = False):
    kind = input_kind(args.model)
    from accelflow.api import compile as compile_model
    from accelflow.api import compile_ir, load_program

    if kind == "program":
        if args.mappings or args.passes or args.input_shape:
            raise AccelflowError(
                f"{args.model} is a compiled program: --mappings, --passes and --input-shape "
                "apply to a model or an IR stage"
            )
        return load_program(args.model, args.target, args.overrides)
    mappings = _load_mappings(args.mappings)
    if kind == "mlir":
        if args.passes or args.input_shape:
            raise AccelflowError(
                f"{args.model}: --passes and --input-shape apply to an ONNX model (an IR stage "
                "runs the passes after it; use accelflow-opt for others)"
            )
        with err_console.status("compiling...", spinner="dots"):
            result = compile_ir(
                args.model, args.target, args.overrides, mappings, objective=args.objective
            )
        _print_mapping_notice(result, args.mappings)
        return result
    with err_console.status("compiling...", spinner="dots"):
        result = compile_model(
            args.model,
            target=args.target or "tpu-like",
            overrides=args.overrides,
            input_shapes=_input_shapes(args.input_shape),
            passes=args.passes,
            mappings=mappings,
            keep_ir=keep_ir,
            elide_constants=not keep_weights,
            objective=args.objective,
        )
    _print_mapping_notice(result, args.mappings)
    return result


def _print_mapping_notice(result: Any, database: str | None) -> None:
    """The one line saying which layers did not get their mapping from `--mappings`."""
    notice = result.mapping_notice(database) if database is not None else None
    if notice:
        err_console.print(f"notice: {notice}", markup=False, soft_wrap=True)


def _compile_cached(args: argparse.Namespace):
    """`_compile`, through the program cache (accelflow/program_cache.py): a model compiled
    before for the same target, mappings, options and code is loaded, not compiled."""
    if input_kind(args.model) != "onnx":
        return _compile(args)
    from accelflow import program_cache
    from accelflow.api import CompileResult
    from simulator.target import load_target

    target = load_target(args.target or "tpu-like", args.overrides)
    entry = program_cache.key(
        args.model, target, args.mappings, args.passes, args.input_shape, args.objective
    )
    start = time.perf_counter()
    hit = program_cache.load(entry) if entry is not None else None
    if hit is None:
        result = _compile(args)
        if entry is not None:
            meta = {
                "mapping_sources": result.mapping_sources,
                "database_fingerprints": result.database_fingerprints,
                "database_cost_mismatches": result.database_cost_mismatches,
            }
            program_cache.store(entry, result.program, meta)
        return result
    program, meta = hit
    result = CompileResult(
        program=program,
        target=target,
        seconds={"program cache": time.perf_counter() - start},
        mapping_sources=meta["mapping_sources"],
        database_fingerprints=meta["database_fingerprints"],
        database_cost_mismatches=meta.get("database_cost_mismatches", []),
    )
    _print_mapping_notice(result, args.mappings)
    return result


def cmd_compile(args: argparse.Namespace) -> int:
    emit = set(args.emit or ["ir", "asm", "program"])
    if args.output is not None:
        given = [("the model", args.model), ("the --mappings file", args.mappings)]
        checked_folder(args.output, "-o", [*given, ("the --target file", args.target)])
    if args.keep_weights and (args.output is None or "ir" not in emit):
        raise AccelflowError(
            "--keep-weights applies to the IR stages: give -o DIR (with --emit ir)"
        )
    result = _compile(
        args, keep_ir=args.output is not None and "ir" in emit, keep_weights=args.keep_weights
    )
    program = result.program
    out = Path(args.output) if args.output else None
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            if "ir" in emit:
                for index, (stage, text) in enumerate(result.stages.items()):
                    (out / f"{index}-{stage}.mlir").write_text(text + "\n")
            if "asm" in emit:
                (out / "program.s").write_text(program.to_asm() + "\n")
            if "program" in emit:
                program.save(out)
        except OSError as err:
            raise AccelflowError(f"-o {out}: cannot be written ({err.strerror or err})") from None
    layers = program.accel_layers()
    print(
        f"compiled {args.model} for {result.target.name}: {len(program.layers)} operations "
        f"({len(layers)} on the accelerator), {program.num_instructions} instructions, "
        f"{sum(layer.macs for layer in layers):,} MACs"
    )
    if out is not None:
        print(f"wrote {', '.join(sorted(emit))} to {out}/")
    return 0


def _output_path(args: argparse.Namespace) -> Path | None:
    """The --save-outputs path, checked before anything runs (`checked_output`: not the model,
    --inputs, --mappings or a --target file)."""
    if not args.save_outputs:
        return None
    given = [("the model", args.model), ("the --inputs file", args.inputs)]
    given += [("the --mappings file", args.mappings), ("the --target file", args.target)]
    return checked_output(args.save_outputs, "--save-outputs", given)


def _save_outputs(path: Path, outputs: dict[str, Any]) -> None:
    """The outputs as an .npz at exactly `path` (np.savez would append .npz), written whole or
    not at all (`write_atomic`)."""
    import io

    import numpy as np

    from tuner.db import write_atomic

    buffer = io.BytesIO()
    np.savez(buffer, **outputs)
    try:
        write_atomic(path, buffer.getvalue())
    except OSError as err:
        raise AccelflowError(f"--save-outputs {path}: {err.strerror or err}") from None


def cmd_simulate(args: argparse.Namespace) -> int:
    from accelflow.api import (
        ReferenceUnavailable,
        check,
        first_nonfinite,
        model_weights,
        random_inputs,
        read_inputs,
        simulate,
    )
    from simulator.stats import table_width

    checked_number(args.seed, "--seed", minimum=0, maximum=MAX_SEED)
    checked_number(args.rtol, "--rtol", minimum=0)
    save_to = _output_path(args)
    if args.check and input_kind(args.model) != "onnx":
        raise AccelflowError(
            f"--check compares with an ONNX reference run: {args.model} is not an ONNX model "
            "(simulate the model itself, or drop --check)"
        )
    result = _compile_cached(args)
    program = result.program
    functional = bool(args.functional or args.check or save_to or args.inputs)
    inputs = None
    if functional:
        inputs = (
            read_inputs(args.inputs, program) if args.inputs else random_inputs(program, args.seed)
        )
    if args.check:  # non-finite inputs or weights make the comparison meaningless
        for what, tensors in (("input", inputs or {}), ("weight", model_weights(args.model))):
            bad = first_nonfinite(tensors)
            if bad is not None:
                raise AccelflowError(
                    f"--check: {what} {bad}; the comparison with the reference needs finite {what}s"
                )
    t0 = time.perf_counter()
    with err_console.status("simulating...", spinner="dots"):
        sim = simulate(
            program,
            result.target,
            functional=functional,
            inputs=inputs,
            fast_forward=not args.full_scan,
        )
    wall = time.perf_counter() - t0
    outputs = {name: sim.outputs[name] for name in program.outputs} if functional else {}
    if save_to is not None:  # before the check: kept whatever the check says
        _save_outputs(save_to, outputs)
    report = None
    unavailable: ReferenceUnavailable | None = None
    if args.check:
        try:
            with err_console.status("running the ONNX reference...", spinner="dots"):
                report = check(
                    args.model, inputs or {}, outputs, rtol=args.rtol, reference=args.reference
                )
        except ReferenceUnavailable as err:
            if args.debug:
                raise
            unavailable = err
        if report is not None and report.fallback:
            err_console.print(
                f"notice: {report.fallback}; checking against {report.reference} instead",
                markup=False,
                soft_wrap=True,
            )
    if args.json:
        data = sim.stats.to_dict()
        data["wall_seconds"] = {**result.seconds, "simulate": wall}
        if args.mappings is not None:
            data["mappings"] = {
                "database": args.mappings,
                "target_fingerprint": result.target.fingerprint(),
                "timing_fingerprint": result.target.timing_fingerprint(),
                "objective": args.objective,
                "sources": result.mapping_sources,
                "cost_mismatches": result.database_cost_mismatches,
            }
        if report is not None:
            data["check"] = {
                "ok": report.ok,
                "rtol": report.rtol,
                "reference": report.reference,
                "fallback": report.fallback,
                "outputs": {
                    k: {"max_abs_error": e, "max_abs_reference": s}
                    for k, (e, s) in report.errors.items()
                },
            }
        elif unavailable is not None:
            data["check"] = {
                "ok": None,
                "rtol": args.rtol,
                "reference": None,
                "error": str(unavailable),
            }
        print(json.dumps(data, indent=1))
    else:
        print(sim.stats.format_table(table_width()))
    if unavailable is not None:
        err_console.print(f"error: {unavailable}", markup=False, soft_wrap=True)
        return EXIT_REFERENCE_UNAVAILABLE
    if report is not None:
        name, rel = report.worst()
        if not report.ok:
            how = (
                f": {report.nonfinite[name]}"
                if name in report.nonfinite and math.isinf(rel)
                else f" by {rel:.3g} (relative to its largest value; tolerance {report.rtol:g})"
            )
            err_console.print(
                f"check FAILED: output '{name}' differs from the ONNX reference "
                f"({report.reference}){how}",
                markup=False,
                soft_wrap=True,
            )
            return EXIT_CHECK_FAILED
        for output, note in report.nonfinite.items():
            err_console.print(f"notice: output '{output}': {note}", markup=False, soft_wrap=True)
        if not args.json:
            print(
                f"check passed: {len(report.errors)} output(s) match the ONNX reference "
                f"({report.reference}; worst relative error {rel:.3g}, tolerance "
                f"{report.rtol:g})"
            )
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    from accelflow.sweep import cmd_sweep as sweep

    return sweep(args)


def cmd_tune(args: argparse.Namespace) -> int:
    from accelflow.cli_tune import cmd_tune as tune

    return tune(args)


def cmd_export(args: argparse.Namespace) -> int:
    input_kind(args.model)  # before the compiler's imports
    from accelflow.export import export

    result = export(
        args.model,
        args.target,
        args.format,
        args.output,
        mappings=_load_mappings(args.mappings),
        input_shapes=_input_shapes(args.input_shape),
        overrides=args.overrides,
        overwrite=args.overwrite,
        objective=args.objective,
    )
    print(
        f"exported {len(result.layers)} accelerator layer(s) of {args.model} on "
        f"{result.target} as {args.format} to {result.folder}/: "
        f"{', '.join(f.name for f in result.files)}"
    )
    for note in result.notes:
        print(f"note: {note}")
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from accelflow.cli_db import cmd_db as run

    return run(args)


def cmd_targets(args: argparse.Namespace) -> int:
    from rich.cells import cell_len
    from rich.table import Table

    from simulator.stats import table_width
    from simulator.target import PRESET_DESCRIPTIONS, PRESETS, load_target

    header = ("name", "arch", "array", "dataflow", "buffers (KiB)", "DRAM\nB/cycle")
    rows = []
    for name in PRESETS:
        t = load_target(name)
        rows.append(
            (
                name,
                t.arch,
                t.family.describe(t),
                t.dataflow,
                f"{t.ifmap_sram_kib:g}/{t.filter_sram_kib:g}/{t.ofmap_sram_kib:g}",
                f"{t.dram_bw_bytes_per_cycle:g}",
            )
        )
    width = table_width()
    # Every column but the description is never wrapped, unless the terminal is too narrow
    # for them (then all fold onto more lines: rich would crop a no_wrap cell); the
    # description wraps, or when under 30 cells would be left for it, it is printed under
    # the table instead.
    fixed = sum(
        max(cell_len(line) for text in (head, *(row[i] for row in rows)) for line in text.split())
        for i, head in enumerate(header)
    )
    room = width - fixed - 3 * len(header) - 1
    inline = room - 3 >= 30
    table = Table(title="accelflow target presets (use --target NAME, --set FIELD=VALUE)")
    for col in header:
        numeric = col in ("buffers (KiB)", "DRAM\nB/cycle")
        justify = "right" if numeric else "left"
        table.add_column(col, justify=justify, no_wrap=room >= 0, overflow="fold")
    if inline:
        table.add_column("description", overflow="fold")
    for row in rows:
        table.add_row(*row, *([PRESET_DESCRIPTIONS.get(row[0], "")] if inline else []))
    console = Console(width=width)
    console.print(table)
    if not inline:
        for name in PRESETS:
            console.print(f"{name}: {PRESET_DESCRIPTIONS.get(name, '')}", markup=False)
    return EXIT_OK


COMMANDS = {
    "compile": cmd_compile,
    "simulate": cmd_simulate,
    "tune": cmd_tune,
    "sweep": cmd_sweep,
    "export": cmd_export,
    "db": cmd_db,
    "targets": cmd_targets,
}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """A library warning as one line on stderr (`warning: ...`), not Python's source excerpt."""
    err_console.print(f"warning: {message}", markup=False, soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.debug:
        import warnings

        warnings.showwarning = _show_warning
    if args.jax_cache is not None:  # read by simulator/jax_cache.py before the first compile
        os.environ["ACCELFLOW_JAX_CACHE"] = args.jax_cache
    if args.program_cache is not None:  # read by accelflow/program_cache.py
        os.environ["ACCELFLOW_PROGRAM_CACHE"] = args.program_cache
    try:
        return COMMANDS[args.command](args)
    except AccelflowError as err:
        if args.debug:
            raise
        err_console.print(f"error: {err}", markup=False, soft_wrap=True)
        return err.exit_code
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return EXIT_INTERRUPTED


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
