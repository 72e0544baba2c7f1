"""Simulation statistics: per layer (`LayerStats`) and for the model (`ModelStats`).

Cycle accounting per accelerator layer (docs/program.md): `cycles` runs from the end of the
previous accelerator layer's last instruction to the end of this layer's last instruction;
`compute_cycles` is the array's busy time, `stall_cycles` the time the array waited for data
within the layer, and `idle_cycles = cycles - compute - stall` the rest (draining stores, ...).
Utilisation is `macs / (cycles * target.num_pes)` (rows * cols, or MAERI's multipliers);
`macs` is what the array executed (the sum of reps*m*n*k over the layer's COMPUTE rows).

Host layers (ONNX ops run on the host) take 0 accelerator cycles in v1: they show as "host"
with zeros everywhere; host time is not modelled.

Energy (picojoules) by component, `simulator.memory.energy_pj` of the layer's MACs, network hops,
global-buffer bytes read + written and DRAM bytes read + written. The time in microseconds is
cycles / clock_mhz.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator.memory import ENERGY_COMPONENTS, energy_pj
from simulator.target import Target

BUFFERS = ("input", "weight", "output")
STALL_CAUSES = ("dram_bandwidth", "dram_latency", "output_drain", "sram_bandwidth")


def energy_components(target: Target) -> tuple[str, ...]:
    """The components energy is reported in for `target`'s energy model."""
    if target.energy_model == "stonne":
        from simulator.arch.stonne_energy import GROUPS

        return (*GROUPS, "vector")
    return ENERGY_COMPONENTS


def energy_unit(target: Target) -> str:
    """The unit of `target`'s energy figures."""
    return "u (STONNE's table unit)" if target.energy_model == "stonne" else "pJ"


def _zero_buffers() -> dict[str, int]:
    return {b: 0 for b in BUFFERS}


def _zero_stalls() -> dict[str, int]:
    return {c: 0 for c in STALL_CAUSES}


@dataclass
class LayerStats:
    name: str
    kind: str
    on_accel: bool
    cycles: int = 0
    compute_cycles: int = 0
    stall_cycles: int = 0
    # stall_cycles split by cause (see simulator/engine.py); the values add up to stall_cycles.
    stall_by_cause: dict[str, int] = field(default_factory=_zero_stalls)
    idle_cycles: int = 0
    utilisation: float = 0.0
    macs: int = 0
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    sram_read_bytes: dict[str, int] = field(default_factory=_zero_buffers)
    sram_write_bytes: dict[str, int] = field(default_factory=_zero_buffers)
    noc_hops: int = 0
    energy_pj: dict[str, float] = field(default_factory=lambda: {c: 0.0 for c in ENERGY_COMPONENTS})
    instructions: int = 0
    # Where the layer ran: "accel" (the array), "vector" (the vector unit, simulator/vector.py),
    # "fused" (the vector unit, in the output stage of layer `fused_into`) or "host" (outside
    # the accelerator: no cycles); its vector-unit operations.
    unit: str = "host"
    vector_ops: int = 0
    fused_into: str = ""

    @staticmethod
    def host(name: str, kind: str) -> LayerStats:
        """A layer run outside the accelerator (`host_ops = "host"`): no cycles, no traffic."""
        return LayerStats(name=name, kind=kind, on_accel=False, unit="host")

    @staticmethod
    def from_counts(
        *,
        name: str,
        kind: str,
        target: Target,
        cycles: int,
        compute_cycles: int,
        stall_cycles: int,
        stall_by_cause: dict[str, int],
        macs: int,
        noc_hops: int,
        dram_read_bytes: int,
        dram_write_bytes: int,
        sram_read_bytes: dict[str, int],
        sram_write_bytes: dict[str, int],
        instructions: int,
        vector_ops: int = 0,
        unit: str = "accel",
        fused_into: str = "",
        energy: dict[str, float] | None = None,
    ) -> LayerStats:
        """`energy`: the energy by component when the target's energy model is not the table
        (`energy_model=stonne`), else the table's `energy_pj` of the counts."""
        sram_bytes = sum(sram_read_bytes.values()) + sum(sram_write_bytes.values())
        dram_bytes = dram_read_bytes + dram_write_bytes
        if energy is None:
            energy = energy_pj(target, macs, noc_hops, sram_bytes, dram_bytes, vector_ops)
        return LayerStats(
            name=name,
            kind=kind,
            on_accel=unit == "accel",
            unit=unit,
            vector_ops=vector_ops,
            fused_into=fused_into,
            cycles=cycles,
            compute_cycles=compute_cycles,
            stall_cycles=stall_cycles,
            stall_by_cause=dict(stall_by_cause),
            idle_cycles=cycles - compute_cycles - stall_cycles,
            utilisation=macs / (cycles * target.num_pes) if cycles > 0 else 0.0,
            macs=macs,
            noc_hops=noc_hops,
            dram_read_bytes=dram_read_bytes,
            dram_write_bytes=dram_write_bytes,
            sram_read_bytes=dict(sram_read_bytes),
            sram_write_bytes=dict(sram_write_bytes),
            energy_pj=energy,
            instructions=instructions,
        )

    @property
    def total_energy_pj(self) -> float:
        return float(sum(self.energy_pj.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "on_accel": bool(self.on_accel),
            "cycles": int(self.cycles),
            "compute_cycles": int(self.compute_cycles),
            "stall_cycles": int(self.stall_cycles),
            "stall_by_cause": {c: int(v) for c, v in self.stall_by_cause.items()},
            "idle_cycles": int(self.idle_cycles),
            "utilisation": float(self.utilisation),
            "macs": int(self.macs),
            "noc_hops": int(self.noc_hops),
            "dram_read_bytes": int(self.dram_read_bytes),
            "dram_write_bytes": int(self.dram_write_bytes),
            "sram_read_bytes": {b: int(v) for b, v in self.sram_read_bytes.items()},
            "sram_write_bytes": {b: int(v) for b, v in self.sram_write_bytes.items()},
            "energy_pj": {c: float(v) for c, v in self.energy_pj.items()},
            "total_energy_pj": self.total_energy_pj,
            "instructions": int(self.instructions),
            "unit": self.unit,
            "vector_ops": int(self.vector_ops),
            "fused_into": self.fused_into,
        }


@dataclass
class ModelStats:
    layers: list[LayerStats]
    total: LayerStats
    target_name: str
    clock_mhz: float
    num_pes: int
    # Instructions the timing simulated one by one (the fast-forward jumps the rest of a
    # repeating tile loop, simulator/fastforward.py); None when not simulated.
    simulated: int | None = None
    # The unit of every `energy_pj` figure: "pJ" (the target's table) or STONNE's table unit.
    energy_unit: str = "pJ"

    @staticmethod
    def from_layers(layers: list[LayerStats], target: Target) -> ModelStats:
        accel = [layer for layer in layers if layer.unit != "host"]
        total = LayerStats.from_counts(
            name="total",
            kind="",
            target=target,
            cycles=sum(layer.cycles for layer in accel),
            compute_cycles=sum(layer.compute_cycles for layer in accel),
            stall_cycles=sum(layer.stall_cycles for layer in accel),
            stall_by_cause={c: sum(la.stall_by_cause[c] for la in accel) for c in STALL_CAUSES},
            macs=sum(layer.macs for layer in accel),
            noc_hops=sum(layer.noc_hops for layer in accel),
            dram_read_bytes=sum(layer.dram_read_bytes for layer in accel),
            dram_write_bytes=sum(layer.dram_write_bytes for layer in accel),
            sram_read_bytes={b: sum(la.sram_read_bytes[b] for la in accel) for b in BUFFERS},
            sram_write_bytes={b: sum(la.sram_write_bytes[b] for la in accel) for b in BUFFERS},
            instructions=sum(layer.instructions for layer in accel),
            vector_ops=sum(layer.vector_ops for layer in accel),
            unit="",
            energy=None
            if target.energy_model == "table"
            else {
                c: sum(la.energy_pj.get(c, 0.0) for la in accel) for c in energy_components(target)
            },
        )
        return ModelStats(
            layers=layers,
            total=total,
            target_name=target.name,
            clock_mhz=float(target.clock_mhz),
            num_pes=int(target.num_pes),
            energy_unit=energy_unit(target),
        )

    @property
    def cycles(self) -> int:
        return self.total.cycles

    @property
    def time_us(self) -> float:
        return self.total.cycles / self.clock_mhz

    def layer(self, name: str) -> LayerStats:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target_name,
            "energy_unit": self.energy_unit,
            "clock_mhz": float(self.clock_mhz),
            "num_pes": int(self.num_pes),
            "time_us": float(self.time_us),
            "instructions_simulated": self.simulated,
            "layers": [layer.to_dict() for layer in self.layers],
            "total": self.total.to_dict(),
        }

    def format_table(self, width: int | None = None) -> str:
        """A per-layer table with a total row, rendered to a string with rich, at most `width`
        characters wide (None: `table_width()`, the terminal's or 200).

        Numbers are never wrapped nor cut; long layer names fold onto more lines. When all the
        columns do not fit in `width` (layer names at least `_NAME_MIN` wide), the number
        columns are split over several tables, one under the other, each with the layer names."""
        from rich.console import Console

        width = width or table_width()
        rows = [(layer, _table_cells(layer, layer is self.total)) for layer in self.layers]
        rows.append((self.total, _table_cells(self.total, True)))
        title = (
            f"{self.target_name}: {self.total.cycles:,} cycles, {self.time_us:,.2f} us "
            f"at {self.clock_mhz:g} MHz"
        )
        console = Console(record=True, width=width, force_terminal=False, color_system=None)
        with console.capture() as capture:
            groups, name_width = _table_groups(rows, width)
            for index, columns in enumerate(groups):
                table = self._table(rows, columns, name_width, title if index == 0 else None)
                console.print(table)
            if self.simulated is not None and self.simulated < self.total.instructions:
                console.print(
                    f"timing: {self.simulated:,} of {self.total.instructions:,} instructions "
                    "simulated one by one, the rest fast-forwarded exactly",
                    soft_wrap=True,
                )
        return capture.get()

    def _table(
        self,
        rows: list[tuple[LayerStats, dict[str, str]]],
        columns: list[str],
        name_width: int | None,
        title: str | None,
    ) -> Any:
        """One table of `columns`; `name_width` None: narrower than any table of whole numbers
        (under ~40 cells), so they wrap too (folded onto more lines: still never cut)."""
        from rich.table import Table

        table = Table(title=title, show_footer=False)
        for col in columns:
            if col in _TABLE_NUMBERS:  # never wrapped (rich would crop a no_wrap cell)
                no_wrap = name_width is not None
                stonne = col == "energy nJ" and self.energy_unit != "pJ"
                header = "energy ku" if stonne else col  # thousands of STONNE's unit
                table.add_column(header, justify="right", no_wrap=no_wrap, overflow="fold")
            elif col == "layer":  # the same width in every table; long names fold
                table.add_column(col, justify="left", overflow="fold", width=name_width)
            else:
                table.add_column(col, justify="left", overflow="fold")
        for layer, cells in rows:
            is_total = layer is self.total
            table.add_row(
                *(cells[col] for col in columns),
                end_section=not is_total and layer is self.layers[-1],
                style="bold" if is_total else None,
            )
        return table


# The per-layer table (`ModelStats.format_table`): text columns, then number columns.
_TABLE_TEXT = ("layer", "kind", "where")
_TABLE_NUMBERS = (
    "cycles", "compute", "stall", "idle", "util %",
    "MACs", "DRAM rd B", "DRAM wr B", "SRAM rd B", "SRAM wr B", "energy nJ",
)  # fmt: skip
_NAME_MIN = 20  # the layer column is at least this wide (or its longest name) before a split
_DEFAULT_WIDTH = 200  # output that is not a terminal, without COLUMNS


def table_width(default: int = _DEFAULT_WIDTH) -> int:
    """The width tables are printed at: the terminal's (rich's detection, COLUMNS first) when
    stdout is a terminal, else COLUMNS when set, else `default` (generous: no line is cut in a
    file or a pipe)."""
    import os

    from rich.console import Console

    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    console = Console()
    return console.width if console.is_terminal else default


def _table_cells(layer: LayerStats, is_total: bool) -> dict[str, str]:
    return {
        "layer": layer.name,
        "kind": layer.kind,
        "where": "" if is_total else layer.unit,
        "cycles": f"{layer.cycles:,}",
        "compute": f"{layer.compute_cycles:,}",
        "stall": f"{layer.stall_cycles:,}",
        "idle": f"{layer.idle_cycles:,}",
        "util %": f"{100 * layer.utilisation:.1f}",
        "MACs": f"{layer.macs:,}",
        "DRAM rd B": f"{layer.dram_read_bytes:,}",
        "DRAM wr B": f"{layer.dram_write_bytes:,}",
        "SRAM rd B": f"{sum(layer.sram_read_bytes.values()):,}",
        "SRAM wr B": f"{sum(layer.sram_write_bytes.values()):,}",
        "energy nJ": f"{layer.total_energy_pj / 1000:,.2f}",
    }


def _table_groups(
    rows: list[tuple[LayerStats, dict[str, str]]], width: int
) -> tuple[list[list[str]], int]:
    """(the columns of each table, the layer column's width): all the columns in one table
    when they fit in `width`, else the number columns packed in order into as few tables as
    fit (the first with kind and where too); the layer column as wide as every table allows,
    None when some table does not fit even so (then rich shares out the width)."""
    from rich.cells import cell_len

    def need(col: str) -> int:
        return max([cell_len(col), *(cell_len(cells[col]) for _, cells in rows)])

    def others(columns: list[str]) -> int:
        # rich's default box: a 1-cell border or divider, 1 cell of padding each side.
        return sum(need(col) for col in columns if col != "layer") + 3 * len(columns) + 1

    name_min = min(need("layer"), _NAME_MIN)
    groups: list[list[str]] = []
    lead = list(_TABLE_TEXT)
    current = list(lead)
    for col in _TABLE_NUMBERS:
        if len(current) > len(lead) and others([*current, col]) + name_min > width:
            groups.append(current)
            lead = ["layer"]
            current = list(lead)
        current.append(col)
    groups.append(current)
    room = min(width - others(columns) for columns in groups)
    return groups, (min(need("layer"), room) if room >= name_min else None)
