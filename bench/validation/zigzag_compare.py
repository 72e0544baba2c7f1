"""ZigZag (zigzag-dse 3.9.1, the peers extra) on `accelflow export --format zigzag` files against
accelflow's cost model and simulator, layer by layer: latency (cycles) and energy (pJ).

    python -m bench.validation.zigzag_compare [--models lenet,resnet_block,depthwise_pointwise]
        [--target tpu-like] [--markdown]

Per model (built by accelflow.models) the default mappings are exported, ZigZag runs the files in
a subprocess (`run_zigzag.py`, this Python), and each layer's ZigZag latency and energy are put
beside the cost model's (`tuner.cost_model.evaluate` of the same mapping) and the simulator's
(`accelflow.simulate` of the compiled model). docs/validation.md shows the table and explains
the differences.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import onnx

from accelflow import api, models
from accelflow.export import export
from tuner.cost_model import CandidateBatch, evaluate

LINE = re.compile(
    r"^(\S+): latency (\d+) cycles, energy ([0-9.e+]+) pJ \(temporal (\d+), stall/slack "
    r"(-?\d+), onloading (\d+), offloading (\d+); MAC ([0-9.e+]+) pJ, memory ([0-9.e+]+) pJ\)$",
    re.M,
)


def compare(model: str, target: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{model}.onnx"
        onnx.save(getattr(models, model)(), str(path))
        result = export(path, target, "zigzag", Path(tmp) / "zz")
        run = subprocess.run(
            [sys.executable, str(result.folder / "run_zigzag.py")],
            capture_output=True,
            text=True,
            check=True,
        )
        zz = {m[1]: m.groups()[1:] for m in LINE.finditer(run.stdout)}
        compiled = api.compile(path, target)
        stats = api.simulate(compiled.program).stats
    sim = {layer.name: layer for layer in stats.layers if layer.on_accel}
    rows = []
    for layer in result.layers:
        figures = evaluate(
            layer.shape, compiled.target, CandidateBatch.from_mappings(layer.shape, [layer.mapping])
        )
        s = sim[layer.name]
        z_lat, z_energy, temporal, stall, onload, offload, z_mac, z_mem = zz[layer.file_stem]
        z_lat, z_energy = int(z_lat), float(z_energy)
        rows.append(
            {
                "model": model,
                "layer": layer.name,
                "dataflow": layer.mapping.dataflow,
                "folds": int(figures["folds"][0]),
                "zigzag_cycles": z_lat,
                "zigzag_temporal_cycles": int(temporal),
                "zigzag_stall_cycles": int(stall) + int(onload) + int(offload),
                "zigzag_mac_energy_pj": float(z_mac),
                "zigzag_memory_energy_pj": float(z_mem),
                "simulated_mac_energy_pj": float(s.energy_pj["mac"]),
                "cost_model_cycles": int(figures["latency_cycles"][0]),
                "simulated_cycles": int(s.cycles),
                "simulated_compute_cycles": int(s.compute_cycles),
                "zigzag_energy_pj": z_energy,
                "cost_model_energy_pj": float(figures["energy_pj"][0]),
                "simulated_energy_pj": float(sum(s.energy_pj.values())),
            }
        )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| model | layer | df | folds | ZigZag cycles (temporal + stalls) | cost model "
        "| simulated (compute) | ZigZag / sim | ZigZag nJ (MAC + memory) | cost model nJ "
        "| simulated nJ (MAC) | ZigZag / sim |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['layer']} | {r['dataflow']} | {r['folds']:,} | "
            f"{r['zigzag_cycles']:,} ({r['zigzag_temporal_cycles']:,} + "
            f"{r['zigzag_stall_cycles']:,}) | {r['cost_model_cycles']:,} | "
            f"{r['simulated_cycles']:,} ({r['simulated_compute_cycles']:,}) | "
            f"{r['zigzag_cycles'] / r['simulated_cycles']:.2f} | "
            f"{r['zigzag_energy_pj'] / 1e3:,.1f} ({r['zigzag_mac_energy_pj'] / 1e3:,.1f} + "
            f"{r['zigzag_memory_energy_pj'] / 1e3:,.1f}) | {r['cost_model_energy_pj'] / 1e3:,.1f} | "
            f"{r['simulated_energy_pj'] / 1e3:,.1f} ({r['simulated_mac_energy_pj'] / 1e3:,.1f}) | "
            f"{r['zigzag_energy_pj'] / r['simulated_energy_pj']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lenet,resnet_block,depthwise_pointwise")
    parser.add_argument("--target", default="tpu-like")
    args = parser.parse_args()
    rows = [r for m in args.models.split(",") if m for r in compare(m, args.target)]
    print(markdown(rows))


if __name__ == "__main__":
    main()
