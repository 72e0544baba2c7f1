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

from simulator.memory import energy_pj
from simulator.target import Target

BUFFERS = ("input", "weight", "output")
STALL_CAUSES = ("dram_bandwidth", "dram_latency", "output_drain", "sram_bandwidth")


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
    energy_pj: dict[str, float] = field(
        default_factory=lambda: {"mac": 0.0, "noc": 0.0, "sram": 0.0, "dram": 0.0}
    )
    instructions: int = 0

    @staticmethod
    def host(name: str, kind: str) -> LayerStats:
        """A host layer: 0 accelerator cycles, no traffic (v1 does not model host time)."""
        return LayerStats(name=name, kind=kind, on_accel=False)

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
    ) -> LayerStats:
        sram_bytes = sum(sram_read_bytes.values()) + sum(sram_write_bytes.values())
        energy = energy_pj(target, macs, noc_hops, sram_bytes, dram_read_bytes + dram_write_bytes)
        return LayerStats(
            name=name,
            kind=kind,
            on_accel=True,
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
        }


@dataclass
class ModelStats:
    layers: list[LayerStats]
    total: LayerStats
    target_name: str
    clock_mhz: float
    num_pes: int

    @staticmethod
    def from_layers(layers: list[LayerStats], target: Target) -> ModelStats:
        accel = [layer for layer in layers if layer.on_accel]
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
        )
        return ModelStats(
            layers=layers,
            total=total,
            target_name=target.name,
            clock_mhz=float(target.clock_mhz),
            num_pes=int(target.num_pes),
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
            "clock_mhz": float(self.clock_mhz),
            "num_pes": int(self.num_pes),
            "time_us": float(self.time_us),
            "layers": [layer.to_dict() for layer in self.layers],
            "total": self.total.to_dict(),
        }

    def format_table(self, width: int = 160) -> str:
        """A per-layer table with a total row, rendered to a string with rich."""
        from rich.console import Console
        from rich.table import Table

        table = Table(
            title=f"{self.target_name}: {self.total.cycles:,} cycles, {self.time_us:,.2f} us "
            f"at {self.clock_mhz:g} MHz",
            show_footer=False,
        )
        columns = (
            "layer", "kind", "where", "cycles", "compute", "stall", "idle", "util %",
            "MACs", "DRAM rd B", "DRAM wr B", "SRAM rd B", "SRAM wr B", "energy nJ",
        )  # fmt: skip
        for i, col in enumerate(columns):
            table.add_column(col, justify="left" if i < 3 else "right")
        for layer in [*self.layers, self.total]:
            is_total = layer is self.total
            where = "" if is_total else ("accel" if layer.on_accel else "host")
            table.add_row(
                layer.name,
                layer.kind,
                where,
                f"{layer.cycles:,}",
                f"{layer.compute_cycles:,}",
                f"{layer.stall_cycles:,}",
                f"{layer.idle_cycles:,}",
                f"{100 * layer.utilisation:.1f}",
                f"{layer.macs:,}",
                f"{layer.dram_read_bytes:,}",
                f"{layer.dram_write_bytes:,}",
                f"{sum(layer.sram_read_bytes.values()):,}",
                f"{sum(layer.sram_write_bytes.values()):,}",
                f"{layer.total_energy_pj / 1000:,.2f}",
                end_section=not is_total and layer is self.layers[-1],
                style="bold" if is_total else None,
            )
        console = Console(record=True, width=width, force_terminal=False, color_system=None)
        with console.capture() as capture:
            console.print(table)
        return capture.get()
