"""The `accelflow` command line.

    accelflow compile MODEL --target T [--set F=V]... [-o DIR] [--emit ir|asm|program]...
                      [--mappings maps.json]
    accelflow simulate MODEL --target T [--set F=V]... [--check] [--inputs X.npz]
                       [--save-outputs Y.npz] [--json] [--mappings maps.json]
    accelflow tune MODEL --target T [--set F=V]... [--input-shape ...] [--strategy S]
                   [--budget N | --time SECONDS] [--seed N] [--top-k K] [--batch B] [--max-tiles N]
                   [--objective latency|energy|edp] [--axes dataflow,tiles,...]
                   [--hw [--hw-budget N] [--pe-budget N] [--buffer-budget KIB]]
                   [--executor inprocess|pool[:N]|ray[:ADDR]] [--log LOG] -o DB
                   [--plot FILE.png] [--json]
    accelflow tune --resume LOG [-o DB] [--executor ...] [--plot FILE.png] [--json]
    accelflow targets

User mistakes end with one line `error: ...` on stderr and exit code 2 (no traceback unless
`--debug`); `simulate --check` exits 1 when an output differs from the ONNX reference.
`--mappings` reads a mapping database (`tuner/db.py`: the entries for the target's fingerprint,
by layer signature) or an older plain JSON object layer name -> mapping; layers it has no entry
for get the default mapping, named in one `notice:` line on stderr.

`tune` runs `tuner.tune.tune` (with `--hw`, `tuner.hardware.tune_hardware`) with a progress bar
on stderr, then compiles and simulates the model with the database it wrote and checks that every
tuned layer runs in the cycles the tuner reported (`verified: ...`, or a warning naming the
layers that do not; the exit code stays 0). Defaults: evolutionary, 2000 evaluations per layer
(`--time` alone: no cap), the log `DB_STEM.log.jsonl` beside the database; a log that exists is
an error (continue it with `--resume LOG`, which takes the model, target and settings from the
log's header). Ctrl-C exits 130 and says how to resume. See docs/tuning.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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

    _add_tune_parser(sub)
    sub.add_parser("targets", help="list the built-in target presets")
    return parser


def _add_tune_parser(sub: Any) -> None:
    p = sub.add_parser(
        "tune",
        help="search the mapping of every layer; write a mapping database",
        description="Search mappings per layer with the cost model, simulate the best, and "
        "write a mapping database for `accelflow compile --mappings`. Every evaluation is "
        "logged, so a stopped run goes on with `accelflow tune --resume LOG`.",
    )
    p.add_argument("model", nargs="?", help="ONNX model file (not with --resume)")
    p.add_argument("--target", "-t", default=None, help="preset or YAML file (default tpu-like)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override a target field (repeatable)",
    )
    p.add_argument(
        "--input-shape",
        action="append",
        default=[],
        metavar="[NAME=]DxDx..",
        help="static shape of a graph input (repeatable)",
    )
    search = p.add_argument_group("search")
    search.add_argument("--strategy", help="exhaustive, random, evolutionary (default), annealing")
    search.add_argument("--budget", metavar="N", help="evaluations per layer (default 2000)")
    search.add_argument(
        "--time",
        metavar="SECONDS",
        help="stop searching after this long (alone: no cap on evaluations)",
    )
    search.add_argument("--seed", metavar="N", help="seed of the strategies (default 0)")
    search.add_argument(
        "--top-k",
        metavar="K",
        help="best points per layer that the simulator decides among (default 8)",
    )
    search.add_argument(
        "--batch",
        metavar="B",
        help="points asked per layer per round (default 256)",
    )
    search.add_argument(
        "--max-tiles",
        metavar="N",
        help="buffer-tile iterations a mapping may have (default 4096, or the default's)",
    )
    search.add_argument(
        "--objective", help="what the cost model minimises: latency (default), energy, edp"
    )
    search.add_argument(
        "--axes",
        metavar="A,B,..",
        help="axis groups to search (default all: dataflow,tiles,order,double_buffer,spatial)",
    )
    hw = p.add_argument_group("hardware search")
    hw.add_argument("--hw", action="store_true", help="search the target's tunable parameters too")
    hw.add_argument("--hw-budget", metavar="N", help="hardware points to try (default 64)")
    hw.add_argument("--pe-budget", metavar="N", help="most PEs allowed (default: the target's)")
    hw.add_argument(
        "--buffer-budget",
        metavar="KIB",
        help="most KiB of the three buffers together (default: the target's)",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--executor",
        default="inprocess",
        help="where cost-model batches run: inprocess (default), pool[:N], ray[:ADDRESS]",
    )
    run.add_argument(
        "--log", default=None, metavar="LOG", help="evaluation log (default: DB_STEM.log.jsonl)"
    )
    run.add_argument(
        "-o", "--output", default=None, metavar="DB", help="mapping database to write (JSON)"
    )
    run.add_argument("--resume", default=None, metavar="LOG", help="continue the run of this log")
    run.add_argument(
        "--plot", default=None, metavar="FILE.png", help="plot convergence and speed-ups"
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON (no table)")


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


# -- accelflow tune -------------------------------------------------------------------------------

# `--time` without `--budget`: no cap on evaluations (the strategies' own stop still applies).
UNCAPPED_BUDGET = 10**12
EXIT_INTERRUPTED = 130
# Options that set up a new run; `--resume` takes them all from the log.
NEW_RUN_OPTIONS = {
    "model": "MODEL",
    "target": "--target",
    "overrides": "--set",
    "input_shape": "--input-shape",
    "strategy": "--strategy",
    "budget": "--budget",
    "time": "--time",
    "seed": "--seed",
    "top_k": "--top-k",
    "batch": "--batch",
    "max_tiles": "--max-tiles",
    "objective": "--objective",
    "axes": "--axes",
    "hw": "--hw",
    "hw_budget": "--hw-budget",
    "pe_budget": "--pe-budget",
    "buffer_budget": "--buffer-budget",
    "log": "--log",
}


def _number(text: str | None, option: str, kind: type = int, minimum: float = 1) -> Any:
    """The value of a numeric option (None when not given); a bad one is one `error:` line."""
    from tuner.tune import TuneError

    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise TuneError(f"{option} takes {what}, got '{text}'") from None
    if value < minimum:
        raise TuneError(f"{option} must be >= {minimum:g}, got {text}")
    return value


def _tune_config(args: argparse.Namespace) -> Any:
    from tuner.tune import TuneConfig, TuneError

    defaults = TuneConfig()
    budget = _number(args.budget, "--budget")
    time_limit = _number(args.time, "--time", float, minimum=0)
    if time_limit is not None and time_limit <= 0:
        raise TuneError(f"--time must be > 0 seconds, got {args.time}")
    if budget is None:
        budget = UNCAPPED_BUDGET if time_limit is not None else defaults.budget
    axes = defaults.axes
    if args.axes is not None:
        axes = tuple(a.strip() for a in args.axes.split(","))
        if not all(axes):
            raise TuneError(f"--axes takes names separated by commas, got '{args.axes}'")
    config = TuneConfig(
        strategy=args.strategy or defaults.strategy,
        budget=budget,
        time_limit=time_limit,
        seed=_pick(_number(args.seed, "--seed", minimum=0), defaults.seed),
        top_k=_pick(_number(args.top_k, "--top-k", minimum=0), defaults.top_k),
        batch=_pick(_number(args.batch, "--batch"), defaults.batch),
        max_tiles=_pick(_number(args.max_tiles, "--max-tiles"), defaults.max_tiles),
        objective=args.objective or defaults.objective,
        axes=axes,
    )
    config.check()
    return config


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


def _default_log(db: Path) -> Path:
    """`maps.json` -> `maps.log.jsonl`, beside it."""
    return db.with_name(f"{db.stem}.log.jsonl")


def _make_folders(*paths: Path | str | None) -> None:
    """The folders the run writes into, made before the search (not after it)."""
    from tuner.tune import TuneError

    for path in paths:
        if path is None:
            continue
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise TuneError(f"{path}: cannot make its folder ({err.strerror})") from None


def _check_database(db: Path) -> None:
    """An existing database at `-o` must be readable before the search, not after it."""
    if db.exists():
        from tuner.db import MappingDB

        MappingDB.load(db)


@contextmanager
def _progress_bar(config: Any) -> Iterator[Callable[[int, int, str], None]]:
    """A rich bar on stderr fed by the tuner's on_progress(done, total, what); by evaluations,
    or by time when only --time bounds the run."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    if not err_console.is_terminal:  # a live bar in a file or pipe leaves blank lines
        yield lambda done, total, what: None
        return
    by_time = config.time_limit is not None and config.budget >= UNCAPPED_BUDGET
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("importing the model", total=None)
        t0 = time.perf_counter()

        def update(done: int, total: int, what: str) -> None:
            if by_time:
                elapsed = min(time.perf_counter() - t0, config.time_limit)
                bar.update(task, completed=elapsed, total=config.time_limit, description=what)
            else:
                bar.update(
                    task,
                    completed=done,
                    total=total,
                    description=f"{what}: {done:,}/{total:,}",
                )

        yield update


def _existing(paths: Sequence[Path]) -> list[Path]:
    return [p for p in paths if p.exists() and p.stat().st_size > 0]


def _interrupted(log: Path, logs: Sequence[Path]) -> int:
    if existing := _existing(logs):
        keeps = "keeps" if len(existing) == 1 else "keep"
        err_console.print(
            f"interrupted: {' and '.join(map(str, existing))} {keeps} every evaluation so far; "
            f"continue with: accelflow tune --resume {shlex.quote(str(log))}",
            markup=False,
            soft_wrap=True,
        )
    else:
        err_console.print("interrupted before the search started; nothing was logged")
    return EXIT_INTERRUPTED


def _hardware() -> Any:
    """The tuner.hardware module, or a TuneError when this accelflow has no hardware search."""
    from tuner.tune import TuneError

    try:
        from tuner import hardware
    except ImportError as err:
        if err.name != "tuner.hardware":
            raise
        raise TuneError("--hw: this accelflow has no hardware search (tuner/hardware.py)") from None
    return hardware


@dataclass
class _TuneOutcome:
    """What the report of a finished run needs."""

    model: str
    target: Any  # the Target the mappings were tuned for
    shapes: dict[str, tuple[int, ...]] | None
    result: Any  # tuner.tune.TuneResult
    db: Path
    log: Path
    target_flags: list[str]  # `--target ...` options of the compile command
    target_file: Path | None = None  # the tuned target's YAML (--hw, or a target not a preset)
    base_target: Any = None  # --hw: the target the hardware search started from
    started: float = field(default_factory=time.perf_counter)  # set when the command starts


def cmd_tune(args: argparse.Namespace) -> int:
    from tuner.tune import TuneError

    started = time.perf_counter()
    if args.resume is not None:
        return _tune_resume(args, started)
    if args.model is None:
        raise TuneError("tune needs a MODEL (or --resume LOG to continue a run)")
    if args.output is None:
        raise TuneError("tune needs -o DB: the mapping database to write")
    if not args.hw:
        given = [opt for opt in ("hw_budget", "pe_budget", "buffer_budget") if getattr(args, opt)]
        if given:
            raise TuneError(f"{NEW_RUN_OPTIONS[given[0]]} is an option of --hw")
    from compiler.importer import ModelImportError
    from simulator.target import load_target
    from tuner.executors import make_executor
    from tuner.tune import tune

    config = _tune_config(args)
    target = load_target(args.target or "tpu-like", args.overrides)
    shapes = _input_shapes(args.input_shape)
    if not Path(args.model).is_file():
        raise ModelImportError(f"{args.model}: no such file")
    db = Path(args.output)
    log = Path(args.log) if args.log else _default_log(db)
    if log.resolve() == db.resolve():
        raise TuneError(f"--log and -o are the same file ({db}); the log needs a path of its own")
    hardware = _hardware() if args.hw else None
    logs = [log] if hardware is None else [log, hardware.hw_log_path(log)]
    if existing := _existing(logs):
        raise TuneError(
            f"{existing[0]}: a tuning log is already there; continue it with `accelflow tune "
            f"--resume {log}`, or remove {' and '.join(map(str, existing))} (or pass --log NEW) "
            "to start over"
        )
    _check_database(db)
    _make_folders(db, log, args.plot)
    hw_budgets: dict[str, Any] = {}
    for option, key, kind in (
        ("hw_budget", "hw_budget", int),
        ("pe_budget", "pe_budget", int),
        ("buffer_budget", "buffer_kib_budget", float),
    ):
        value = _number(getattr(args, option), NEW_RUN_OPTIONS[option], kind)
        if value is not None:
            hw_budgets[key] = value
    executor = make_executor(args.executor)
    try:
        with _progress_bar(config) as on_progress:
            common = dict(
                log=log, db=db, executor=executor, input_shapes=shapes, on_progress=on_progress
            )
            if hardware is not None:
                tuned, result = hardware.tune_hardware(
                    args.model, target, config, **hw_budgets, **common
                )
            else:
                tuned, result = target, tune(args.model, target, config, **common)
    except KeyboardInterrupt:
        return _interrupted(log, logs)
    finally:
        executor.close()
    outcome = _TuneOutcome(args.model, tuned, shapes, result, db, log, [], started=started)
    if hardware is not None:
        outcome.base_target = target
        outcome.target_file = _write_target(tuned, db)
        outcome.target_flags = ["--target", str(outcome.target_file)]
    else:
        outcome.target_flags = ["--target", args.target or "tpu-like"]
        for item in args.overrides:
            outcome.target_flags += ["--set", item]
    for item in args.input_shape:
        outcome.target_flags += ["--input-shape", item]
    return _tune_report(args, outcome)


def _tune_resume(args: argparse.Namespace, started: float) -> int:
    """`--resume LOG`: the mapping search of LOG goes on; when a hardware search (`--hw`) was
    logged beside it, that goes on first."""
    from tuner.executors import make_executor
    from tuner.tune import TuneConfig, TuneError, TuneLog, resume

    given = [flag for dest, flag in NEW_RUN_OPTIONS.items() if getattr(args, dest)]
    if given:
        raise TuneError(
            f"--resume continues the logged run with its model, target and settings; "
            f"drop {given[0]}"
        )
    log = Path(args.resume)
    hardware, hw_log, hw_header = _logged_hardware_search(log)
    if hw_header is not None:
        log = _main_log_of(log) if log == hw_log else log
    header = TuneLog.read(log)[0] if _existing([log]) or hw_header is None else None
    db = args.output or (header or {}).get("db")
    if db is None:
        where = log if header is not None else hw_log
        raise TuneError(f"{where}: the log names no mapping database to write; pass -o DB")
    db = Path(db)
    _check_database(db)
    _make_folders(db, args.plot)
    logs = [log] if hw_log is None else [log, hw_log]
    executor = make_executor(args.executor)
    try:
        if hw_header is not None:
            config = TuneConfig.from_json(hw_header["config"])
            model = hw_header["model"]
            shapes = _shapes_of(hw_header) or _shapes_of(header or {})
            budgets = hw_header.get("budget", {})
            with _progress_bar(config) as on_progress:
                tuned, result = hardware.tune_hardware(
                    model, _make_target(hw_header["target"]), config,
                    hw_budget=hw_header["hw_budget"], pe_budget=budgets.get("pe"),
                    buffer_kib_budget=budgets.get("buffer_kib"),
                    dram_bw_budget=budgets.get("dram_bw"), inner=hw_header.get("inner", 256),
                    log=log, db=db, executor=executor, input_shapes=shapes,
                    on_progress=on_progress,
                )  # fmt: skip
        else:
            assert header is not None
            model, shapes = header["model"], _shapes_of(header)
            with _progress_bar(TuneConfig.from_json(header["config"])) as on_progress:
                result = resume(log, executor=executor, db=db, on_progress=on_progress)
            tuned = result.target
    except KeyboardInterrupt:
        return _interrupted(log, logs)
    finally:
        executor.close()
    outcome = _TuneOutcome(model, tuned, shapes, result, db, log, [], started=started)
    if hw_header is not None:
        outcome.base_target = _make_target(hw_header["target"])
        outcome.target_file = _write_target(tuned, db)
        outcome.target_flags = ["--target", str(outcome.target_file)]
    else:
        outcome.target_flags, outcome.target_file = _target_flags(tuned, db)
    for name, dims in (shapes or {}).items():
        text = "x".join(str(d) for d in dims)
        outcome.target_flags += ["--input-shape", f"{name}={text}" if name else text]
    return _tune_report(args, outcome)


def _logged_hardware_search(log: Path) -> tuple[Any, Path | None, dict[str, Any] | None]:
    """(tuner.hardware, the hardware-search log, its header) when `log` is one or has one
    beside it, else (None, None, None)."""
    from tuner.tune import TuneLog

    try:
        hardware = _hardware()
    except AccelflowError:
        return None, None, None
    for hw_log in (log, hardware.hw_log_path(log)):
        if _existing([hw_log]):
            header = TuneLog.read(hw_log)[0]
            if "hw_budget" in header:
                return hardware, hw_log, header
    return None, None, None


def _main_log_of(hw_log: Path) -> Path:
    """`maps.log.hw.jsonl` -> `maps.log.jsonl` (the inverse of hardware.hw_log_path)."""
    stem = hw_log.stem.removesuffix(".hw")
    return hw_log.with_name(stem + hw_log.suffix)


def _shapes_of(header: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    return {k: tuple(v) for k, v in header.get("input_shapes", {}).items()} or None


def _make_target(fields: dict[str, Any]) -> Any:
    from simulator.target import make_target

    return make_target(fields)


def _write_target(target: Any, db: Path) -> Path:
    """The target as YAML beside the database (`maps.json` -> `maps.target.yaml`)."""
    import yaml

    path = db.with_name(f"{db.stem}.target.yaml")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(target.to_dict(), sort_keys=False))
    return path


def _target_flags(target: Any, db: Path) -> tuple[list[str], Path | None]:
    """`--target` options that give `target` back: its preset and `--set`s for the fields that
    differ, or (not a preset) a YAML file written beside the database."""
    from simulator.target import preset_fields

    preset = preset_fields(target.name)
    if preset is None:
        path = _write_target(target, db)
        return ["--target", str(path)], path
    base = _make_target(preset).to_dict()
    flags = ["--target", target.name]
    for key, value in target.to_dict().items():
        if base[key] != value:
            flags += ["--set", f"{key}={value}"]
    return flags, None


def _layer_label(names: Sequence[str], limit: int = 40) -> str:
    """The first layer's name, long paths elided in the middle, and how many share it:
    `/layer1/.../conv1/Conv (+3)`."""
    name = names[0]
    parts = name.split("/")
    if len(name) > limit and len(parts) > 4:
        name = "/".join([*parts[:2], "...", *parts[-2:]])
    return f"{name} (+{len(names) - 1})" if len(names) > 1 else name


def _tune_totals(result: Any) -> dict[str, Any]:
    """Whole-model figures: each layer result counted once per layer that shares it."""
    default = tuned = roofline = 0
    busy = 0.0
    layers = 0
    for r in result.layers:
        n = len(r.task.names)
        layers += n
        default += n * r.default_cycles
        tuned += n * r.tuned_cycles
        roofline += n * r.roofline_cycles
        busy += n * r.utilisation * r.tuned_cycles
    return {
        "layers": layers,
        "distinct_layers": len(result.layers),
        "evaluations": sum(r.evaluations for r in result.layers),
        "default_cycles": default,
        "tuned_cycles": tuned,
        "speedup": round(default / max(tuned, 1), 4),
        "utilisation": round(busy / max(tuned, 1), 4),
        "roofline_cycles": roofline,
        "roofline_fraction": round(roofline / max(tuned, 1), 4),
    }


def _verify_tuned(
    model: str, target: Any, db: Path, shapes: dict[str, tuple[int, ...]] | None, result: Any
) -> dict[str, Any]:
    """Compile and simulate the model with the database: every tuned layer must get its
    mapping from it and run in the cycles the tuner reported."""
    from accelflow.api import FROM_DATABASE, simulate
    from accelflow.api import compile as compile_model

    compiled = compile_model(model, target=target, input_shapes=shapes, mappings=db)
    stats = simulate(compiled.program, compiled.target).stats
    cycles = {layer.name: int(layer.cycles) for layer in stats.layers}
    mismatches = []
    checked = 0
    for r in result.layers:
        for name in r.task.names:
            checked += 1
            source = compiled.mapping_sources.get(name)
            got = cycles.get(name)
            if got != r.tuned_cycles or source != FROM_DATABASE:
                mismatches.append(
                    {
                        "layer": name,
                        "tuned_cycles": r.tuned_cycles,
                        "simulated_cycles": got,
                        "mapping_from": source,
                    }
                )
    return {
        "ok": not mismatches,
        "layers": checked,
        "mismatches": mismatches,
        "simulated_total_cycles": int(stats.cycles),
    }


def _tune_table(result: Any, totals: dict[str, Any], title: str) -> str:
    from rich.table import Table

    table = Table(title=title)
    columns = (
        "layer", "evals", "default cycles", "tuned cycles", "speed-up", "util %",
        "% of roofline",
    )  # fmt: skip
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    for r in result.layers:
        row = r.row()
        table.add_row(
            _layer_label(r.task.names),
            f"{r.evaluations:,}",
            f"{r.default_cycles:,}",
            f"{r.tuned_cycles:,}",
            f"{r.speedup:.2f}x",
            f"{100 * r.utilisation:.1f}",
            f"{100 * row['roofline_fraction']:.1f}",
            end_section=r is result.layers[-1],
        )
    table.add_row(
        f"total ({totals['layers']} layers)",
        f"{totals['evaluations']:,}",
        f"{totals['default_cycles']:,}",
        f"{totals['tuned_cycles']:,}",
        f"{totals['speedup']:.2f}x",
        f"{100 * totals['utilisation']:.1f}",
        f"{100 * totals['roofline_fraction']:.1f}",
        style="bold",
    )
    console = Console(record=True, width=160, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


OBJECTIVE_UNITS = {"latency": "cycles", "energy": "pJ", "edp": "cycles x pJ"}


def _plot_tuning(result: Any, path: Path, title: str) -> None:
    """Two panels: the best cost-model cost per layer against evaluations (log y), and each
    layer's speed-up over its default mapping."""
    from matplotlib.figure import Figure

    from tuner.tune import TuneError

    fig = Figure(figsize=(13, 5), layout="constrained")
    converge, speedup = fig.subplots(1, 2)
    labels = [_layer_label(r.task.names, limit=28) for r in result.layers]
    for r, label in zip(result.layers, labels, strict=True):
        if r.history:
            evals, best = zip(*r.history, strict=True)
            converge.plot(evals, best, drawstyle="steps-post", label=label)
    objective = result.config.objective
    converge.set_yscale("log")
    converge.set_xlabel("evaluations")
    converge.set_ylabel(f"best cost-model {objective} ({OBJECTIVE_UNITS[objective]})")
    converge.set_title("convergence")
    if len(result.layers) <= 16:
        converge.legend(fontsize="small")
    bars = speedup.bar(range(len(labels)), [r.speedup for r in result.layers])
    speedup.bar_label(bars, fmt="%.2fx", fontsize="small")
    speedup.axhline(1.0, color="grey", linestyle="--", linewidth=1)
    speedup.set_xticks(range(len(labels)), labels, rotation=40, ha="right", fontsize="small")
    speedup.set_ylabel("speed-up over the default mapping (simulated cycles)")
    speedup.set_title("tuned vs default")
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(path, dpi=110)
    except ValueError as err:  # an extension matplotlib cannot write
        raise TuneError(f"--plot {path}: {err}") from None


def _hardware_changes(base: Any, tuned: Any) -> dict[str, list[Any]]:
    """field -> [base value, tuned value] for the fields the hardware search changed."""
    before, after = base.to_dict(), tuned.to_dict()
    return {k: [before[k], after[k]] for k in after if k != "name" and before.get(k) != after[k]}


def _tune_report(args: argparse.Namespace, outcome: _TuneOutcome) -> int:
    result, db = outcome.result, outcome.db
    with err_console.status("verifying: compile --mappings and simulate...", spinner="dots"):
        verification = _verify_tuned(outcome.model, outcome.target, db, outcome.shapes, result)
    totals = _tune_totals(result)
    command = shlex.join(
        ["accelflow", "compile", outcome.model, *outcome.target_flags, "--mappings", str(db)]
    )
    config = result.config
    title = (
        f"{Path(outcome.model).name} on {outcome.target.name}: {config.strategy}, "
        f"objective {config.objective}"
    )
    if args.plot:
        _plot_tuning(result, Path(args.plot), title)
    changes = (
        _hardware_changes(outcome.base_target, outcome.target)
        if outcome.base_target is not None
        else None
    )
    wall = time.perf_counter() - outcome.started
    if args.json:
        data = result.to_json()
        data.update(
            model=outcome.model,
            database=str(db),
            log=str(outcome.log),
            totals=totals,
            verification=verification,
            wall_seconds=round(wall, 3),
            compile_command=command,
        )
        if outcome.target_file is not None:
            data["target_file"] = str(outcome.target_file)
        if changes is not None:
            data["hardware"] = {
                "base_target": outcome.base_target.name,
                "changes": changes,
                "tuned_target": outcome.target.to_dict(),
            }
        if args.plot:
            data["plot"] = args.plot
        print(json.dumps(data, indent=1))
    else:
        print(_tune_table(result, totals, title))
        print(
            f"wall {wall:.1f} s (search and simulation {result.seconds:.1f} s): "
            f"{result.evaluations:,} evaluations, {result.resumed_evaluations:,} answered "
            "from the log"
        )
        if changes is not None:
            changed = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())
            print(
                f"tuned hardware (from {outcome.base_target.name}): {changed or 'unchanged'}; "
                f"written to {outcome.target_file}"
            )
        if verification["ok"]:
            print(
                f"verified: compile --mappings reproduces the tuned cycles of "
                f"{verification['layers']} layers"
            )
        print(f"wrote {db} (log: {outcome.log})")
        if args.plot:
            print(f"plot: {args.plot}")
        print(f"compile with: {command}")
    if not verification["ok"]:
        bad = verification["mismatches"]
        listed = "; ".join(
            f"{m['layer']}: tuned {m['tuned_cycles']}, compiled {m['simulated_cycles']}"
            + ("" if m["mapping_from"] == "database" else f" (mapping: {m['mapping_from']})")
            for m in bad[:8]
        )
        more = f"; ... ({len(bad) - 8} more)" if len(bad) > 8 else ""
        err_console.print(
            f"warning: verification FAILED: compile --mappings {db} does not reproduce the "
            f"tuned cycles of {len(bad)} of {verification['layers']} layers: {listed}{more}",
            markup=False,
            soft_wrap=True,
        )
    return 0


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
            f"{t.num_multipliers} MS" if t.arch in ("maeri", "sigma") else f"{t.rows}x{t.cols}",
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
