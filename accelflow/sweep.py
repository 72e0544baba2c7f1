"""Design-space sweeps: one model on every point of a grid of target fields.

    accelflow sweep model.onnx --target tpu-like --grid rows=8,16,32 --grid cols=8,16,32 \\
        -o sweep.csv --plot sweep.png
    rows = accelflow.sweep.sweep("model.onnx", "tpu-like", {"rows": [8, 16], "cols": [8, 16]})

Every point of the grid (the product of the `--grid FIELD=V1,V2,...` lists, on top of the
target and its `--set` overrides) is a target: the model is compiled for each (the mapping
follows the array and the buffers: `--mappings`, else the default heuristic, which keeps DRAM
traffic low within floors that keep the array busy, and is not tuned for latency, so a point
with more buffer can still be slower; `accelflow tune --hw` searches the hardware and the
mappings together), then all the programs are timed (`accelflow.simulate_many`, with the exact
fast-forward). Each row holds the point's fields, total cycles, latency, energy,
utilisation, DRAM bytes and whether it is Pareto-optimal in (cycles, energy): no other point is
at least as good in both and better in one. The CLI prints the table (best cycles first),
writes `-o FILE` as CSV or JSON (by its suffix), and `--plot FILE.png` draws energy against
cycles with the Pareto front. A field or value the target refuses is an error naming it
before anything is compiled, and so is a field no point reads (`Target.unread_reason`: rows on a
MAERI target), which would give every point the same figures.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulator.errors import AccelflowError

__all__ = ["SweepPoint", "parse_grid", "sweep", "write"]

MAX_POINTS = 4096


@dataclass
class SweepPoint:
    """One grid point's figures."""

    fields: dict[str, str]  # the grid's fields at this point, as given
    target: str  # the target's name
    cycles: int
    latency_us: float
    energy_uj: float
    utilisation: float
    dram_bytes: int
    pareto: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.fields,
            "cycles": self.cycles,
            "latency_us": round(self.latency_us, 4),
            "energy_uj": round(self.energy_uj, 6),
            "utilisation": round(self.utilisation, 6),
            "dram_bytes": self.dram_bytes,
            "pareto": self.pareto,
        }


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """`FIELD=V1,V2,...` texts -> {field: [values]} (in the order given)."""
    grid: dict[str, list[str]] = {}
    for item in items:
        field, sep, values = item.partition("=")
        field = field.strip()
        listed = [v.strip() for v in values.split(",") if v.strip()]
        if not sep or not field or not listed:
            raise AccelflowError(f"--grid '{item}': expected FIELD=V1,V2,... (e.g. rows=8,16,32)")
        if field in grid:
            raise AccelflowError(f"--grid names '{field}' twice; give all its values in one list")
        grid[field] = listed
    return grid


def _swept_fields(target: Any) -> list[str]:
    """Fields worth sweeping on `target`: the tunable ones it reads."""
    return [f for f in target.tunable_fields() if target.unread_reason(f) is None]


def _count(points: list[SweepPoint]) -> str:
    return f"{len(points)} point{'s' * (len(points) != 1)}"


def _pareto(points: list[SweepPoint]) -> None:
    """Mark the points no other point dominates in (cycles, energy)."""
    for p in points:
        p.pareto = not any(
            q.cycles <= p.cycles
            and q.energy_uj <= p.energy_uj
            and (q.cycles < p.cycles or q.energy_uj < p.energy_uj)
            for q in points
        )


def sweep(
    model: Any,
    target: str | Path = "tpu-like",
    grid: Mapping[str, Sequence[Any]] | None = None,
    overrides: Sequence[str] = (),
    input_shapes: Mapping[str, tuple[int, ...]] | None = None,
    mappings: Any = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[SweepPoint]:
    """Compile `model` for every point of `grid` and time them together (module docstring);
    the points in grid order. `progress(done, total)` is called once the points and the model
    are checked (done = 0), then after each compilation."""
    from accelflow.api import compile, simulate_many
    from simulator.target import load_target

    grid = {k: [str(v) for v in values] for k, values in (grid or {}).items()}
    points = [dict(zip(grid, combo, strict=True)) for combo in itertools.product(*grid.values())]
    if len(points) > MAX_POINTS:
        raise AccelflowError(
            f"the grid has {len(points)} points; at most {MAX_POINTS} per sweep (split it)"
        )
    load_target(target, overrides)  # the base and its overrides (a warning per unread field)
    targets = [_point_target(target, overrides, point) for point in points]
    for field in grid:  # a field no point reads would give every point the same figures
        reasons = [t.unread_reason(field) for t in targets]
        if all(reasons):
            raise AccelflowError(
                f"--grid {field}: {reasons[0]}, so every point would be the same (sweep a field "
                f"it reads: {', '.join(_swept_fields(targets[0]))})"
            )
    from compiler.import_model import load_lean

    onnx_model = load_lean(model)  # read once: every point's program shares its weights
    if progress is not None:
        progress(0, len(targets))  # every point and the model checked: compiling starts
    programs = []
    for i, tgt in enumerate(targets):
        programs.append(
            compile(onnx_model, tgt, input_shapes=input_shapes, mappings=mappings).program
        )
        if progress is not None:
            progress(i + 1, len(targets))
    stats = simulate_many(programs, targets)
    rows = [
        SweepPoint(
            fields=point,
            target=tgt.name,
            cycles=int(s.total.cycles),
            latency_us=float(s.time_us),
            energy_uj=float(s.total.total_energy_pj) / 1e6,
            utilisation=float(s.total.utilisation),
            dram_bytes=int(s.total.dram_read_bytes + s.total.dram_write_bytes),
        )
        for point, tgt, s in zip(points, targets, stats, strict=True)
    ]
    _pareto(rows)
    return rows


def _point_target(target: str | Path, overrides: Sequence[str], point: dict[str, str]) -> Any:
    """The target of one grid point (every point is checked before anything is compiled); a
    point the target refuses is named, with the fields the user can change."""
    from simulator.target import TargetError, load_target

    fields = [f"{k}={v}" for k, v in point.items()]
    try:
        return load_target(target, [*overrides, *fields], warn_unread=False)
    except TargetError as err:
        raise AccelflowError(
            f"the grid point {' '.join(fields)}: {err} (change the grid, or --set the other "
            "field it names, so that every point is a valid target)"
        ) from None


# What `write` writes, by the file's suffix.
TABLE_FORMATS = (".csv", ".json")


def check_table_file(path: Path) -> None:
    """A file `write` can write (its suffix one of `TABLE_FORMATS`), checked before the sweep."""
    if path.suffix.lower() not in TABLE_FORMATS:
        raise AccelflowError(
            f"-o {path}: write the points as CSV or JSON (a .csv or .json file), not "
            f"'{path.suffix or path.name}'"
        )


def check_plot_file(path: Path) -> None:
    """A file `plot` can draw into (a format matplotlib writes: .png, .svg, .pdf, ...), checked
    before the sweep."""
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    if path.suffix.lower().lstrip(".") not in formats:
        raise AccelflowError(
            f"--plot {path}: give an image file: .png, .svg or .pdf (or "
            f"{', '.join('.' + f for f in sorted(formats) if f not in ('png', 'svg', 'pdf'))})"
        )


def write(points: list[SweepPoint], path: Path) -> None:
    """The rows as CSV (`.csv`) or JSON (`.json`; `check_table_file`)."""
    check_table_file(path)
    records = [p.to_dict() for p in points]
    if path.suffix.lower() == ".csv":
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(records[0]) if records else [])
        writer.writeheader()
        writer.writerows(records)
        data = text.getvalue()
    else:
        data = json.dumps(records, indent=2) + "\n"
    try:
        path.write_text(data)
    except OSError as err:
        raise AccelflowError(f"-o {path}: {err.strerror or err}") from None


def plot(points: list[SweepPoint], path: Path, title: str) -> None:
    """Energy against cycles, the Pareto front joined and labelled (`check_plot_file`)."""
    check_plot_file(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    ax.scatter([p.cycles for p in points], [p.energy_uj for p in points], s=14, c="0.6")
    front = sorted((p for p in points if p.pareto), key=lambda p: p.cycles)
    ax.plot([p.cycles for p in front], [p.energy_uj for p in front], "o-", c="C3", ms=5)
    for p in front:
        label = " ".join(f"{k}={v}" for k, v in p.fields.items())
        ax.annotate(label, (p.cycles, p.energy_uj), fontsize=7, xytext=(4, 4),
                    textcoords="offset points")  # fmt: skip
    ax.set_xlabel("cycles")
    ax.set_ylabel("energy (µJ)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as err:
        raise AccelflowError(f"--plot {path}: {err.strerror or err}") from None
    finally:
        plt.close(fig)


# -- the CLI ------------------------------------------------------------------------------------


def _model_and_grid(model: str | None, items: list[str]) -> tuple[str, dict[str, list[str]]]:
    """The model and the grid from argparse's: a word without `=` among the --grid words is the
    model where none was given before them (`accelflow sweep --grid rows=8,16 lenet.onnx`)."""
    words = [w for w in items if "=" not in w]
    if model is None and len(words) == 1:
        model = words[0]
        items = [w for w in items if w != model]
    if model is None:
        raise AccelflowError("give the ONNX model file (accelflow sweep MODEL --grid FIELD=V,...)")
    grid = parse_grid(items)
    if not grid:
        raise AccelflowError("give at least one --grid FIELD=V1,V2,...")
    return model, grid


def add_sweep_parser(sub: Any) -> None:
    p = sub.add_parser(
        "sweep",
        help="simulate a model on every point of a grid of target fields",
        description="Compile and time a model on every point of a grid of target fields "
        "(the product of the --grid lists); print the points best first, with the Pareto "
        "front in (cycles, energy) marked; write them as CSV or JSON and plot them.",
    )
    # (The model is optional to argparse: a --grid list takes the words after it, a model
    # written after it too; `cmd_sweep` takes it back, `_model_and_grid`.)
    p.add_argument("model", nargs="?", default=None, help="ONNX model file")
    p.add_argument("--target", "-t", default="tpu-like", help="preset name or YAML file")
    p.add_argument(
        "--grid",
        action="extend",
        nargs="+",
        default=[],
        metavar="FIELD=V1,V2,..",
        help="target fields and their values (one --grid or several), e.g. "
        "--grid rows=8,16,32 cols=8,16",
    )
    p.add_argument("--set", dest="overrides", action="append", default=[],
                   metavar="FIELD=VALUE", help="override a target field at every point")  # fmt: skip
    p.add_argument("--input-shape", action="append", default=[], metavar="[NAME=]DxDx..",
                   help="static shape of a graph input (repeatable)")  # fmt: skip
    p.add_argument("--mappings", default=None, metavar="DB.json", help="mapping database")
    p.add_argument("-o", "--output", default=None, metavar="FILE.csv|FILE.json",
                   help="write every point (CSV or JSON, by the suffix)")  # fmt: skip
    p.add_argument("--plot", default=None, metavar="FILE.png", help="plot energy vs cycles")
    p.add_argument("--json", action="store_true", help="print the points as JSON")


def cmd_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from accelflow.cli import _input_shapes, _load_mappings
    from simulator.errors import checked_output
    from simulator.stats import table_width

    args.model, grid = _model_and_grid(args.model, args.grid)
    read = [("the model", args.model), ("the --mappings file", args.mappings)]
    read.append(("the --target file", args.target))
    out = checked_output(args.output, "-o", read) if args.output else None
    plot_to = checked_output(args.plot, "--plot", read) if args.plot else None
    if out is not None and plot_to is not None and out.resolve() == plot_to.resolve():
        raise AccelflowError(f"-o and --plot are the same file ({out})")
    if out is not None:
        check_table_file(out)
    if plot_to is not None:
        check_plot_file(plot_to)
    total = 1
    for values in grid.values():
        total *= len(values)
    # The bar starts once the points and the model are checked, so an error is one clean line.
    bar = Progress(console=Console(stderr=True), transient=True)
    task = bar.add_task(f"compiling {total} points", total=total)

    def progress(done: int, _: int) -> None:
        if done == 0:
            bar.start()
        bar.update(task, completed=done)

    try:
        points = sweep(
            args.model,
            args.target,
            grid,
            args.overrides,
            input_shapes=_input_shapes(args.input_shape),
            mappings=_load_mappings(args.mappings),
            progress=progress,
        )
    finally:
        bar.stop()
    ranked = sorted(points, key=lambda p: (p.cycles, p.energy_uj))
    if args.json:
        print(json.dumps([p.to_dict() for p in ranked], indent=2))
    else:
        table = Table(title=f"{Path(args.model).name} on {args.target}: {_count(points)}")
        heads = ["cycles", "latency\nus", "energy\nuJ", "util\n%", "DRAM\nMB", "pareto"]
        for name in [*grid, *heads]:
            # numbers are never cut: on a narrow terminal the grid's names fold instead
            table.add_column(name, justify="left" if name in grid else "right",
                             no_wrap=name not in grid, overflow="fold")  # fmt: skip
        for p in ranked:
            table.add_row(
                *p.fields.values(), f"{p.cycles:,}", f"{p.latency_us:,.2f}",
                f"{p.energy_uj:,.3f}", f"{100 * p.utilisation:.1f}",
                f"{p.dram_bytes / 1e6:,.3f}", "*" if p.pareto else "",
            )  # fmt: skip
        Console(width=table_width()).print(table)
    if out is not None:
        write(points, out)
        print(f"wrote {_count(points)} to {out}")
    if plot_to is not None:
        plot(points, plot_to, f"{Path(args.model).name} on {args.target}")
        print(f"wrote the plot to {plot_to}")
    return 0
