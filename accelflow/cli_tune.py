"""`accelflow tune`: the command line of a `tuner.session.TuneSession`.

    accelflow tune MODEL --target T [--set F=V]... [--input-shape ...] [--strategy S]
                   [--budget N | --time SECONDS] [--seed N] [--top-k K] [--batch B] [--max-tiles N]
                   [--objective latency|energy|edp] [--axes dataflow,tiles,...]
                   [--hw [--hw-budget N] [--pe-budget N] [--buffer-budget KIB]]
                   [--executor inprocess|pool[:N]|ray[:ADDR]] [--log LOG] -o DB
                   [--plot FILE.png] [--json]
    accelflow tune --resume LOG [-o DB] [--executor ...] [--plot FILE.png] [--json]

The session does the run (the checks before the log starts, the search and with `--hw` the
hardware search, resume, verification); this module parses the options, shows a progress bar
on stderr, and prints the table (or `--json`), the plot and the messages. After the search the
model is compiled and simulated with the database the run wrote, and every tuned layer must run
in the cycles the tuner reported (`verified: ...`, or a warning naming the layers that do not;
the exit code stays 0). Defaults: evolutionary, 2000 evaluations per layer (`--time` alone: no
cap), the log `DB_STEM.log.jsonl` beside the database; a log that exists is an error (continue
it with `--resume LOG`, which takes the model, target and settings from the log's header).
Ctrl-C exits 130 and says how to resume. See docs/tuning.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from accelflow.cli import err_console
from simulator.errors import MAX_SEED, checked_number
from tuner.log import TuneError

if TYPE_CHECKING:
    from tuner.session import TuneOutcome, TuneSession, TuneTotals, Verification
    from tuner.tune import TuneConfig, TuneResult


def add_tune_parser(sub: Any) -> None:
    """The `tune` subcommand's options."""
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
        "--overwrite",
        action="store_true",
        help="replace the database's entries even where they are better than this run's "
        "(default: a better entry already there is kept, and the table says so)",
    )
    run.add_argument(
        "--plot", default=None, metavar="FILE.png", help="plot convergence and speed-ups"
    )
    run.add_argument("--json", action="store_true", help="print the result as JSON (no table)")


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


def _number(
    text: str | None,
    option: str,
    kind: type = int,
    minimum: float = 1,
    maximum: float | None = None,
) -> Any:
    """The value of a numeric option (None when not given); a bad one is one `error:` line."""
    if text is None:
        return None
    try:
        value = kind(text)
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise TuneError(f"{option} takes {what}, got '{text}'") from None
    return checked_number(value, option, minimum=minimum, maximum=maximum, error=TuneError)


def _tune_config(args: argparse.Namespace) -> TuneConfig:
    from tuner.tune import TuneConfig

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
        seed=_pick(_number(args.seed, "--seed", minimum=0, maximum=MAX_SEED), defaults.seed),
        top_k=_pick(_number(args.top_k, "--top-k", minimum=0), defaults.top_k),
        batch=_pick(_number(args.batch, "--batch"), defaults.batch),
        max_tiles=_pick(_number(args.max_tiles, "--max-tiles"), defaults.max_tiles),
        objective=args.objective or defaults.objective,
        axes=axes,
    )
    return config  # TuneSession checks it


def _pick(value: Any, default: Any) -> Any:
    return default if value is None else value


@contextmanager
def _progress_bar(config: TuneConfig) -> Iterator[Callable[[int, int, str], None]]:
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


def cmd_tune(args: argparse.Namespace) -> int:
    from accelflow.api import compile_and_simulate
    from tuner.session import make_folders

    started = time.perf_counter()
    _check_outputs(args)
    session = _resumed_session(args) if args.resume is not None else _new_session(args)
    session.overwrite = args.overwrite
    make_folders(args.plot)
    try:
        with _progress_bar(session.config) as on_progress:
            outcome = session.run(on_progress)
    except KeyboardInterrupt:
        return _interrupted(session)
    with err_console.status("verifying: compile --mappings and simulate...", spinner="dots"):
        verification = session.verify(outcome, compile_and_simulate)
    return _tune_report(args, outcome, verification, started)


def _check_outputs(args: argparse.Namespace) -> None:
    """-o, --log and --plot are not what the run reads (the model, a --target file, the log
    resumed) nor folders, before anything runs."""
    from simulator.errors import checked_output

    inputs = [("the model", args.model), ("the --target file", args.target)]
    inputs.append(("the tuning log resumed", args.resume))
    for path, option in ((args.output, "-o"), (args.log, "--log"), (args.plot, "--plot")):
        if path is not None:
            checked_output(path, option, inputs, make_parents=True)


def _new_session(args: argparse.Namespace) -> TuneSession:
    from tuner.session import TuneSession

    if args.model is None:
        raise TuneError("tune needs a MODEL (or --resume LOG to continue a run)")
    if args.output is None:
        raise TuneError("tune needs -o DB: the mapping database to write")
    if not args.hw:
        given = [opt for opt in ("hw_budget", "pe_budget", "buffer_budget") if getattr(args, opt)]
        if given:
            raise TuneError(f"{NEW_RUN_OPTIONS[given[0]]} is an option of --hw")
    config = _tune_config(args)
    hw_options = {
        key: _number(getattr(args, option), NEW_RUN_OPTIONS[option], kind)
        for option, key, kind in (
            ("hw_budget", "hw_budget", int),
            ("pe_budget", "pe_budget", int),
            ("buffer_budget", "buffer_kib_budget", float),
        )
    }
    return TuneSession.new(
        args.model, args.output, target=args.target or "tpu-like", overrides=args.overrides,
        config=config, input_shapes=args.input_shape, log=args.log or True,
        executor=args.executor, hw=args.hw, **hw_options,
    )  # fmt: skip


def _resumed_session(args: argparse.Namespace) -> TuneSession:
    """`--resume LOG`: the mapping search of LOG goes on; when a hardware search (`--hw`) was
    logged beside it, that goes on first."""
    from tuner.session import TuneSession

    given = [flag for dest, flag in NEW_RUN_OPTIONS.items() if getattr(args, dest)]
    if given:
        raise TuneError(
            f"--resume continues the logged run with its model, target and settings; "
            f"drop {given[0]}"
        )
    return TuneSession.resume(args.resume, db=args.output, executor=args.executor)


def _interrupted(session: TuneSession) -> int:
    if existing := session.existing_logs():
        keeps = "keeps" if len(existing) == 1 else "keep"
        err_console.print(
            f"interrupted: {' and '.join(map(str, existing))} {keeps} every evaluation so far; "
            f"continue with: accelflow tune --resume {shlex.quote(str(session.log))}",
            markup=False,
            soft_wrap=True,
        )
    else:
        err_console.print("interrupted before the search started; nothing was logged")
    return EXIT_INTERRUPTED


def _layer_label(names: Sequence[str], limit: int = 40) -> str:
    """The first layer's name, long paths elided in the middle, and how many share it:
    `/layer1/.../conv1/Conv (+3)`."""
    name = names[0]
    parts = name.split("/")
    if len(name) > limit and len(parts) > 4:
        name = "/".join([*parts[:2], "...", *parts[-2:]])
    return f"{name} (+{len(names) - 1})" if len(names) > 1 else name


def _tune_table(result: TuneResult, totals: TuneTotals, title: str) -> str:
    from rich.table import Table

    table = Table(title=title)
    energy = result.config.objective != "latency"  # the energies the choice was made on
    columns = (
        "layer", "evals", "default cycles", "tuned cycles", "speed-up", "util %",
        "% of roofline", *(("default nJ", "tuned nJ") if energy else ()),
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
            *(
                (f"{r.default_energy_pj / 1e3:,.1f}", f"{r.tuned_energy_pj / 1e3:,.1f}")
                if energy
                else ()
            ),
            end_section=r is result.layers[-1],
        )
    table.add_row(
        f"total ({totals.layers} layers)",
        f"{totals.evaluations:,}",
        f"{totals.default_cycles:,}",
        f"{totals.tuned_cycles:,}",
        f"{totals.speedup:.2f}x",
        f"{100 * totals.utilisation:.1f}",
        f"{100 * totals.roofline_fraction:.1f}",
        *(
            (f"{totals.default_energy_pj / 1e3:,.1f}", f"{totals.tuned_energy_pj / 1e3:,.1f}")
            if energy
            else ()
        ),
        style="bold",
    )
    console = Console(record=True, width=160, force_terminal=False, color_system=None)
    with console.capture() as capture:
        console.print(table)
    return capture.get()


OBJECTIVE_UNITS = {"latency": "cycles", "energy": "pJ", "edp": "cycles x pJ"}


def _plot_tuning(result: TuneResult, path: Path, title: str) -> None:
    """Two panels: the best cost-model cost per layer against evaluations (log y), and each
    layer's speed-up over its default mapping."""
    from matplotlib.figure import Figure

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


def _tune_report(
    args: argparse.Namespace, outcome: TuneOutcome, verification: Verification, started: float
) -> int:
    result, db, target = outcome.result, outcome.db, outcome.target
    totals = outcome.totals
    options = outcome.compile_options or []
    objective = result.config.objective
    picks = [] if objective == "latency" else ["--objective", objective]
    command = shlex.join(
        ["accelflow", "compile", outcome.model, *options, "--mappings", str(db), *picks]
    )
    config = result.config
    title = (
        f"{Path(outcome.model).name} on {target.name}: {config.strategy}, "
        f"objective {config.objective}"
    )
    if args.plot:
        _plot_tuning(result, Path(args.plot), title)
    changes = outcome.hardware_changes()
    base = outcome.base_target
    wall = time.perf_counter() - started
    if args.json:
        data = result.to_json()
        data.update(
            model=outcome.model,
            database=str(db),
            log=str(outcome.log),
            totals=totals.to_json(),
            verification=verification.to_json(),
            wall_seconds=round(wall, 3),
            compile_command=command,
        )
        if outcome.target_file is not None:
            data["target_file"] = str(outcome.target_file)
        if changes is not None and base is not None:
            data["hardware"] = {
                "base_target": base.name,
                "changes": changes,
                "tuned_target": target.to_dict(),
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
        if changes is not None and base is not None:
            changed = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())
            print(
                f"tuned hardware (from {base.name}): {changed or 'unchanged'}; "
                f"written to {outcome.target_file}"
            )
        if verification.ok:
            print(
                f"verified: compile --mappings reproduces the tuned cycles of "
                f"{verification.layers} layers"
            )
        kept = [r for r in result.layers if r.db_status == "kept"]
        if kept:
            names = ", ".join(r.task.names[0] for r in kept[:8]) + (" ..." if len(kept) > 8 else "")
            print(
                f"{db} already had a {objective} entry at least as good for {len(kept)} layer(s), kept "
                f"(--overwrite replaces them): {names}"
            )
        print(f"wrote {db} (log: {outcome.log})")
        if args.plot:
            print(f"plot: {args.plot}")
        print(f"compile with: {command}")
    if not verification.ok:
        err_console.print(f"warning: {verification.failure(db)}", markup=False, soft_wrap=True)
    return 0
