"""STONNE's energy numbers for recorded runs of stonne.csv, and accelflow's next to them.

    python -m bench.validation.stonne_energy_check --stonne /path/to/stonne [--rows 1-10,57]
        [--calculator PATH/calculate_energy.py] [--table PATH/energy_model.txt]
        [--out bench/validation/stonne_energy.csv]
    python -m bench.validation.stonne_energy_check --compare [--rows ...] [--table TABLE]
                                                   # no STONNE binary needed

Regenerate (needs STONNE's standalone binary and its `energy_tables/` folder; nothing here is
needed by the tests): for every chosen data line of bench/validation/stonne.csv (`row`, counted
from 1 as in stonne_export_check.py) it

1. runs the line's recorded `command` with `-print_stats=1` instead of `-print_stats=0` (nothing
   else changes, so the cycles must equal the recorded ones; the script checks it) in a scratch
   folder holding `./stonne` (a link to the binary) and `parameters/` (a link to the binary's),
   with `OUTPUT_DIR` set to that folder, where STONNE writes its `.txt` stats and `.counters`;
2. sums the `.counters` file per table component and operation (`COMPONENT OP=n ...` lines; the
   number of lines of a component is its instance count, which the static energy multiplies);
3. runs STONNE's own calculator, `calculate_energy.py -v -table_file=<table>
   -counter_file=<counters> -out_file=<scratch>` (default: `energy_tables/` next to the binary,
   `energy_model.txt` its default table), and reads its verbose per-line energies (summed per
   component: dynamic and static), its per-section breakdown and its totals;
4. writes one CSV line per row (`COLUMNS`): the row, the exact command line run, the cycles, the
   counters, the energies. Energies are in the unit of STONNE's table, which STONNE does not
   state (docs/stonne-energy.md); `e_dram` is 0 because STONNE has no DRAM or off-chip traffic
   (every operand is preloaded into the SDMemory).

`--compare` reads the CSV back (no STONNE) and runs the same rows through accelflow as
bench/validation/stonne_compare.py does (its `run_row` / `run_sigma_row`, watching
`accelflow.simulate` for the layer's statistics), and prints STONNE's total and components next
to accelflow's `energy_pj` and its events (MACs, network hops, global-buffer bytes); with
`--table` (STONNE's energy_model.txt) also accelflow's current events priced with STONNE's table
(`table_swap`) and the error of the closed-form recipe of docs/stonne-energy.md section 2.1
(`recipe`). The comparison in docs/stonne-energy.md was made with it.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.validation import stonne_compare as sc

ENERGY_CSV = Path(__file__).with_name("stonne_energy.csv")
CYCLES = re.compile(r"Number of cycles running:\s*(\d+)")

# (table component, operation) counters kept, one column each ("<COMP>_<OP>").
COUNTERS = (
    ("MULTIPLIER", "MULTIPLICATION"),
    ("MULTIPLIER", "FORWARD_PSUM"),
    ("MULTIPLIER", "CONFIGURATION"),
    ("ADDER", "ADD_2_1"),
    ("ADDER", "ADD_3_1"),
    ("ADDER", "CONFIGURATION"),
    ("ACCUMULATOR", "ADD"),
    ("ACCUMULATOR", "READ"),
    ("ACCUMULATOR", "WRITE"),
    ("SWITCH", "ROUTE_UNICAST"),
    ("SWITCH", "ROUTE_BROADCAST"),
    ("DN_WIRE", "WRITE"),
    ("MN_WIRE", "WRITE"),
    ("RN_WIRE", "WRITE"),
    ("CB_WIRE", "WRITE"),
    ("FIFO", "PUSH"),
    ("FIFO", "POP"),
    ("GLOBALBUFFER", "READ"),
    ("GLOBALBUFFER", "WRITE"),
)
# Table components whose instances the counters file lists (static energy = cycles x STATIC
# x instances; only MULTIPLIER, ADDER, ACCUMULATOR, SWITCH and GLOBALBUFFER have STATIC > 0).
INSTANCES = (
    "MULTIPLIER",
    "ADDER",
    "ACCUMULATOR",
    "SWITCH",
    "DN_WIRE",
    "MN_WIRE",
    "RN_WIRE",
    "CB_WIRE",
    "GLOBALBUFFER",
)
# Table components priced by the calculator, summed from its verbose lines.
PRICED = ("MULTIPLIER", "ADDER", "ACCUMULATOR", "SWITCH", "DN_WIRE", "MN_WIRE", "RN_WIRE")
PRICED += ("CB_WIRE", "GLOBALBUFFER")
SECTIONS = ("DSNetwork", "MSNetwork", "ReduceNetwork", "GlobalBuffer", "CollectionBus")
# The groups issue 12 compares (each = dynamic + static of its table components).
GROUPS = {
    "multiplier": ("MULTIPLIER",),
    "adder": ("ADDER", "ACCUMULATOR"),
    "distribution": ("SWITCH", "DN_WIRE", "MN_WIRE"),
    "reduction": ("RN_WIRE", "CB_WIRE"),
    "buffer": ("GLOBALBUFFER",),
}

COLUMNS = (
    ("row", "layer", "arch", "regime", "command", "cycles", "recorded_cycles", "dn_port_sends")
    + tuple(f"n_{c.lower()}" for c in INSTANCES)
    + tuple(f"{c}_{op}" for c, op in COUNTERS)
    + tuple(f"dyn_{c.lower()}" for c in PRICED)
    + tuple(f"static_{c.lower()}" for c in PRICED)
    + tuple(f"section_{s}" for s in SECTIONS)
    + tuple(f"e_{g}" for g in GROUPS)
    + ("e_dram", "total_dynamic", "total_static", "total", "stonne_wall_s")
)


def recorded(path: Path = sc.CSV_PATH) -> list[dict[str, Any]]:
    """Every data line of stonne.csv with cycles: its number (from 1), the record, and the
    stonne_compare row object (`MaeriRow` / `SigmaRow`) it reads for it."""
    return [{"row": i, "record": rec, "run": run} for i, rec, run in sc.numbered_rows(path)]


def regime(entry: dict[str, Any]) -> str:
    """A / B (MAERI, docs/stonne-timing.md section 3) or S (SIGMA)."""
    run = entry["run"]
    return run.regime if entry["record"]["arch"] == "maeri" else "S"


def stats_command(command: str) -> str:
    """The recorded command line with stats on (the only change)."""
    if "-print_stats=0" not in command:
        raise ValueError(f"no -print_stats=0 in {command!r}")
    return command.replace("-print_stats=0", "-print_stats=1")


def parse_counters(text: str) -> dict[str, Any]:
    """A `.counters` file: {'cycles', 'sums': {(comp, op): n}, 'instances': {comp: lines},
    'dn_port_sends'} (the first `dn_bw` DN_WIRE lines are the SDMemory-to-tree-root links)."""
    sums: dict[tuple[str, str], int] = defaultdict(int)
    instances: dict[str, int] = defaultdict(int)
    dn_wires: list[int] = []
    cycles = 0
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("["):
            continue
        if line.startswith("CYCLES="):
            cycles = int(line.split("=")[1])
            continue
        comp, *ops = line.split()
        instances[comp] += 1
        for op in ops:
            name, value = op.split("=")
            sums[comp, name] += int(value)
            if comp == "DN_WIRE" and name == "WRITE":
                dn_wires.append(int(value))
    return {"cycles": cycles, "sums": dict(sums), "instances": dict(instances), "dn": dn_wires}


def parse_energy(text: str) -> dict[str, Any]:
    """The calculator's verbose output: per component (dynamic, static) summed over its lines,
    per section (static, dynamic) and the totals."""
    per: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    sections: dict[str, float] = {}
    totals: dict[str, float] = {}
    in_breakdown = False
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("COMPONENT BREAKDOWN"):
            in_breakdown = True
            continue
        if line.startswith("Total "):
            key, value = line.split(":")
            totals[key.strip()] = float(value)
            continue
        if in_breakdown:
            m = re.match(r"(\w+): STATIC=(\S+) AREA=\S+ DYNAMIC=(\S+)", line)
            if m:
                sections[m.group(1)] = float(m.group(2)) + float(m.group(3))
            continue
        parts = line.split()
        if len(parts) < 3 or not parts[1].startswith("STATIC="):
            continue
        comp = parts[0]
        for item in parts[1:]:
            name, value = item.split("=")
            if name == "STATIC":
                per[comp][1] += float(value)
            elif name != "AREA":
                per[comp][0] += float(value)
    return {"per": dict(per), "sections": sections, "totals": totals}


def run_stonne(command: str, stonne: Path, calculator: Path, table: Path) -> dict[str, Any]:
    """Run one STONNE line with stats on in a scratch folder; its cycles, counters and energy
    (the calculator's verbose output, parsed)."""
    argv = shlex.split(command)
    if argv[0] != "./stonne":
        raise ValueError(f"not a ./stonne line: {command!r}")
    with sc.stonne_folder(stonne, "stonne-energy-") as work:
        env = dict(os.environ, OUTPUT_DIR=str(work))
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        found = CYCLES.findall(proc.stdout)
        counters = sorted(work.glob("*.counters"))
        if proc.returncode != 0 or not found or len(counters) != 1:
            tail = (proc.stdout + proc.stderr)[-2000:]
            raise RuntimeError(
                f"{command}: exit {proc.returncode}, {len(counters)} counters\n{tail}"
            )
        out_file = work / "energy.txt"
        calc = subprocess.run(
            [
                sys.executable,
                str(calculator),
                "-v",
                f"-table_file={table}",
                f"-counter_file={counters[0]}",
                f"-out_file={out_file}",
            ],
            capture_output=True,
            text=True,
        )
        if calc.returncode != 0 or not out_file.exists():
            raise RuntimeError(f"calculator failed: {calc.stdout[-1000:]} {calc.stderr[-1000:]}")
        parsed = parse_counters(counters[0].read_text())
        energy = parse_energy(out_file.read_text())
    return {"cycles": int(found[-1]), "counters": parsed, "energy": energy, "wall": wall}


def energy_row(entry: dict[str, Any], stonne: Path, calculator: Path, table: Path) -> dict:
    """One CSV line (COLUMNS) for a recorded row."""
    rec = entry["record"]
    command = stats_command(rec["command"])
    res = run_stonne(command, stonne, calculator, table)
    if res["cycles"] != int(rec["cycles"]):
        raise AssertionError(
            f"row {entry['row']}: {res['cycles']} cycles, recorded {rec['cycles']}"
        )
    c, e = res["counters"], res["energy"]
    dn_bw = int(rec["dn_bw"])
    line: dict[str, Any] = {
        "row": entry["row"],
        "layer": rec["layer"],
        "arch": rec["arch"],
        "regime": regime(entry),
        "command": command,
        "cycles": res["cycles"],
        "recorded_cycles": int(rec["cycles"]),
        "dn_port_sends": sum(c["dn"][:dn_bw]),
        "stonne_wall_s": f"{res['wall']:.2f}",
    }
    for comp in INSTANCES:
        line[f"n_{comp.lower()}"] = c["instances"].get(comp, 0)
    for comp, op in COUNTERS:
        line[f"{comp}_{op}"] = c["sums"].get((comp, op), 0)
    per = e["per"]
    for comp in PRICED:
        dyn, static = per.get(comp, (0.0, 0.0))
        line[f"dyn_{comp.lower()}"] = f"{dyn:.6g}"
        line[f"static_{comp.lower()}"] = f"{static:.6g}"
    for s in SECTIONS:
        line[f"section_{s}"] = f"{e['sections'].get(s, 0.0):.6g}"
    for group, comps in GROUPS.items():
        value = sum(sum(per.get(comp, (0.0, 0.0))) for comp in comps)
        line[f"e_{group}"] = f"{value:.6g}"
    line["e_dram"] = 0
    tot = e["totals"]
    line["total_dynamic"] = f"{tot['Total DYNAMIC Energy']:.6g}"
    line["total_static"] = f"{tot['Total STATIC Energy']:.6g}"
    line["total"] = f"{tot['Total Energy']:.6g}"
    # The groups cover every priced component: their sum is the calculator's total.
    groups = sum(sum(per.get(comp, (0.0, 0.0))) for comps in GROUPS.values() for comp in comps)
    if abs(groups - tot["Total Energy"]) > 1e-6 * max(1.0, tot["Total Energy"]):
        raise AssertionError(f"row {entry['row']}: groups {groups} != total {tot['Total Energy']}")
    return line


# The rows recorded in stonne_energy.csv: MAERI conv and FC in both regimes (A: no folding or
# accumulation buffer; B: folds through memory), micro and AlexNet-shaped, and SIGMA rows of
# both dataflows at several sparsities and port counts.
DEFAULT_ROWS = (
    "1,3,5-7,11-15,17,20,32,33,37,41,43-47,49,51,53,55-65,67,68,71,72,75,76,78,80,83,84,86-88,"
    "91,92,95,96,99,104,110,112,113,119,121,125"
)


def accelflow_row(entry: dict[str, Any]) -> dict[str, Any]:
    """The row through accelflow as stonne_compare does; the layer's cycles, events, energy."""
    calls: list[Any] = []
    with sc.watching("simulate", calls):
        run = entry["run"]
        run = sc.run_row(run) if entry["record"]["arch"] == "maeri" else sc.run_sigma_row(run)
    (((program, target, *_), _, sim),) = calls
    (layer,) = program.accel_layers()
    stats = sim.stats.layer(layer.name)
    return {
        "compute_cycles": stats.compute_cycles,
        "cycles": stats.cycles,
        "macs": stats.macs,
        "noc_hops": stats.noc_hops,
        "sram_read_bytes": dict(stats.sram_read_bytes),
        "sram_write_bytes": dict(stats.sram_write_bytes),
        "dram_bytes": stats.dram_read_bytes + stats.dram_write_bytes,
        "energy_pj": dict(stats.energy_pj),
        "total_pj": stats.total_energy_pj,
        "element_bytes": target.element_bytes,
    }


def streamed_density(run: Any) -> float:
    """The non-zero fraction STONNE draws for a SIGMA run's streamed matrix (KN when MK is
    stationary, else MK)."""
    p = run.params
    sparsity = p["MK_sparsity"] if run.dataflow == "MK_STR_KN_STA" else p["KN_sparsity"]
    return 1 - int(sparsity) / 100


def model_errors(rows: set[int] | None, path: Path = ENERGY_CSV) -> list[dict[str, Any]]:
    """accelflow with `energy_model=stonne` (the whole flow, its own cycles) against STONNE's
    recorded energy, per group and in total, for the MAERI and SIGMA rows: % errors. A SIGMA
    run's streamed sparsity is declared to accelflow as its activation density."""
    from simulator.arch.stonne_energy import GROUPS

    with open(path, newline="") as f:
        stonne = {int(r["row"]): r for r in csv.DictReader(f)}
    out = []
    for entry in recorded():
        row = entry["row"]
        if row not in stonne or (rows and row not in rows):
            continue
        calls: list[Any] = []
        with sc.watching("simulate", calls):
            if entry["record"]["arch"] == "maeri":
                sc.run_row(entry["run"], extra=("energy_model=stonne",))
            else:
                density = streamed_density(entry["run"])
                extra = ("energy_model=stonne",)
                if density < 1:
                    extra += ("sparse_activations=true", f"activation_density={density}")
                sc.run_sigma_row(entry["run"], extra=extra)
        (((program, _target, *_), _, sim),) = calls
        (layer,) = program.accel_layers()
        stats = sim.stats.layer(layer.name)
        s = stonne[row]
        errors = {
            g: 100 * (stats.energy_pj[g] / float(s[f"e_{g}"]) - 1) for g in GROUPS if g != "dram"
        }
        errors["total"] = 100 * (stats.total_energy_pj / float(s["total"]) - 1)
        out.append({"row": row, "arch": entry["record"]["arch"], "regime": s["regime"],
                    "cycles": (int(s["cycles"]), stats.cycles), "errors": errors})  # fmt: skip
    return out


def print_model(results: list[dict[str, Any]]) -> None:
    """One line per row (% error per group and in total) and the worst of each."""
    keys = list(results[0]["errors"])
    print(f"{'row':>3s} rg {'cycles STONNE/ours':>19s} " + " ".join(f"{k[:7]:>8s}" for k in keys))
    for r in results:
        cyc = f"{r['cycles'][0]}/{r['cycles'][1]}"
        errs = " ".join(f"{r['errors'][k]:+8.2f}" for k in keys)
        print(f"{r['row']:3d} {r['regime']:>2s} {cyc:>19s} {errs}")
    worst = {k: max((r["errors"][k] for r in results), key=abs) for k in keys}
    print(f"{len(results)} rows; worst: " + ", ".join(f"{k} {v:+.2f} %" for k, v in worst.items()))


def compare(rows: set[int] | None, path: Path = ENERGY_CSV) -> list[dict[str, Any]]:
    """STONNE's recorded energy (the CSV) next to accelflow's for the same rows."""
    with open(path, newline="") as f:
        stonne = {int(r["row"]): r for r in csv.DictReader(f)}
    out = []
    for entry in recorded():
        if entry["row"] not in stonne or (rows and entry["row"] not in rows):
            continue
        out.append(
            {"row": entry["row"], "stonne": stonne[entry["row"]], "ours": accelflow_row(entry)}
        )
    return out


def read_table(path: Path) -> dict[str, dict[str, float]]:
    """An energy table in STONNE's format (`COMPONENT KEY=value ...` per line)."""
    table: dict[str, dict[str, float]] = {}
    for line in Path(path).read_text().splitlines():
        comp, *items = line.split()
        table[comp] = {k: float(v) for k, v in (item.split("=") for item in items)}
    return table


def table_swap(ours: dict[str, Any], table: dict[str, dict[str, float]]) -> float:
    """accelflow's current events priced with STONNE's table, nothing else changed: a MAC as a
    MULTIPLICATION, a global-buffer byte (element_bytes = 1 here) as a GLOBALBUFFER access, a
    network hop as an RN_WIRE write, DRAM free, no adders, no static energy."""
    sram = sum(ours["sram_read_bytes"].values()) + sum(ours["sram_write_bytes"].values())
    return (
        ours["macs"] * table["MULTIPLIER"]["MULTIPLICATION"]
        + sram / ours["element_bytes"] * table["GLOBALBUFFER"]["READ"]
        + ours["noc_hops"] * table["RN_WIRE"]["WRITE"]
    )


def recipe(s: dict[str, str], ours: dict[str, Any], table: dict, exact_31: bool) -> dict:
    """STONNE's energy groups rebuilt from the closed forms of docs/stonne-energy.md section
    2.1: accelflow's MACs and compute cycles (static), STONNE's buffer accesses, port sends,
    psum forwards and forwarded activations (which accelflow can compute, section 5), binary
    additions in place of adder events (`exact_31`: minus STONNE's ADD_3_1 count, which needs
    the ART port), switch routes = port sends x log2(ms/dn), RN wires approximated."""
    p = dict(re.findall(r"-(\w+)=(\S+)", s["command"]))
    ms, dn = int(p["num_ms"]), int(p["dn_bw"])
    acc = int(p.get("accumulation_buffer", 0))

    def g(key: str) -> int:
        return int(s[key])

    def t(comp: str, op: str) -> float:
        return table[comp][op]

    mults, fwd, writes = ours["macs"], g("MULTIPLIER_FORWARD_PSUM"), g("GLOBALBUFFER_WRITE")
    tree_out = g("ACCUMULATOR_WRITE") if acc else writes
    regime_b = s["regime"] == "B"
    binary = mults if regime_b else mults + fwd - tree_out
    events = binary - (g("ADDER_ADD_3_1") if exact_31 else 0)
    cyc = ours["compute_cycles"]
    sends, depth = g("dn_port_sends"), (ms // dn).bit_length() - 1
    wire = t("RN_WIRE", "WRITE")
    rn = mults + (tree_out if regime_b else 0) + binary + (tree_out if acc else 0)
    return {
        "multiplier": t("MULTIPLIER", "MULTIPLICATION") * (mults + fwd)
        + cyc * ms * t("MULTIPLIER", "STATIC"),
        "adder": t("ADDER", "ADD_2_1") * events
        + t("ACCUMULATOR", "ADD") * g("ACCUMULATOR_ADD")
        + cyc * (ms - 1) * (t("ADDER", "STATIC") + acc * t("ACCUMULATOR", "STATIC")),
        "distribution": t("SWITCH", "ROUTE_UNICAST") * sends * depth
        + t("DN_WIRE", "WRITE") * sends * (1 + depth)
        + t("MN_WIRE", "WRITE") * g("MN_WIRE_WRITE")
        + cyc * (ms - dn) * t("SWITCH", "STATIC"),
        "reduction": wire * rn + t("CB_WIRE", "WRITE") * 2 * writes,
        "buffer": t("GLOBALBUFFER", "READ") * (g("GLOBALBUFFER_READ") + writes)
        + cyc * t("GLOBALBUFFER", "STATIC"),
    }


def print_recipe(results: list[dict[str, Any]], table: dict) -> None:
    """Error (%) of `recipe` against STONNE per group and in total, 3:1 adders ignored and
    counted; the worst row of each."""
    worst: dict[str, tuple[float, int]] = {}
    print(
        f"\n{'row':>3s} rg "
        + " ".join(f"{g[:6]:>7s}" for g in GROUPS)
        + "   total | 3:1 counted: adder   total"
    )
    for r in results:
        s = r["stonne"]
        errs = {}
        for exact in (False, True):
            e = recipe(s, r["ours"], table, exact)
            tag = "31" if exact else ""
            for group in GROUPS:
                errs[group + tag] = 100 * (e[group] / float(s[f"e_{group}"]) - 1)
            errs["total" + tag] = 100 * (sum(e.values()) / float(s["total"]) - 1)
        for key, value in errs.items():
            if abs(value) > abs(worst.get(key, (0.0, 0))[0]):
                worst[key] = (value, r["row"])
        print(
            f"{r['row']:3d} {s['regime']:>2s} "
            + " ".join(f"{errs[g]:+7.1f}" for g in GROUPS)
            + f" {errs['total']:+7.1f} |             {errs['adder31']:+7.1f} {errs['total31']:+7.1f}"
        )
    print("worst: " + ", ".join(f"{k} {v:+.1f} % (row {row})" for k, (v, row) in worst.items()))


def print_compare(results: list[dict[str, Any]], table: dict | None = None) -> None:
    """One line per row: cycles, STONNE's total (its unit) and static share, accelflow's total
    (pJ, and without DRAM), their ratio, the table-swap ratio (with `table`), and the events:
    STONNE's multiplications / accelflow's MACs, STONNE's adder events (2:1 + 3:1 +
    accumulator), STONNE's buffer accesses / accelflow's buffer bytes (all of them),
    STONNE's switch routes / accelflow's network hops."""
    print(
        f"{'row':>3s} {'layer':22s} rg {'cycles':>8s} {'ours cyc':>8s} {'STONNE':>10s} "
        f"{'st%':>3s} {'ours pJ':>10s} {'no DRAM':>10s} {'ratio':>6s} {'swap':>5s} | "
        f"{'mults':>8s} {'macs':>8s} | {'adds':>8s} | {'GB acc':>8s} {'ours B':>8s} | "
        f"{'routes':>8s} {'hops':>9s}"
    )
    ratios, swaps = [], []
    for r in results:
        s, o = r["stonne"], r["ours"]
        total = float(s["total"])
        ratio = o["total_pj"] / total
        ratios.append(ratio)
        swap = table_swap(o, table) / total if table else float("nan")
        swaps.append(swap)
        adds = int(s["ADDER_ADD_2_1"]) + int(s["ADDER_ADD_3_1"]) + int(s["ACCUMULATOR_ADD"])
        sram = int(s["GLOBALBUFFER_READ"]) + int(s["GLOBALBUFFER_WRITE"])
        ours_b = sum(o["sram_read_bytes"].values()) + sum(o["sram_write_bytes"].values())
        routes = int(s["SWITCH_ROUTE_UNICAST"]) + int(s["SWITCH_ROUTE_BROADCAST"])
        print(
            f"{r['row']:3d} {s['layer'][:22]:22s} {s['regime']:>2s} {int(s['cycles']):8d} "
            f"{o['compute_cycles']:8d} {total:10.4g} {100 * float(s['total_static']) / total:3.0f} "
            f"{o['total_pj']:10.4g} {o['total_pj'] - o['energy_pj']['dram']:10.4g} "
            f"{ratio:6.1f} {swap:5.2f} | {int(s['MULTIPLIER_MULTIPLICATION']):8d} {o['macs']:8d} | "
            f"{adds:8d} | {sram:8d} {ours_b:8d} | {routes:8d} {o['noc_hops']:9d}"
        )
    if ratios:
        print(f"ours/STONNE total: min {min(ratios):.2f} max {max(ratios):.2f} (n={len(ratios)})")
    if table and swaps:
        print(f"table swap/STONNE: min {min(swaps):.2f} max {max(swaps):.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stonne", type=Path, help="STONNE's standalone binary")
    ap.add_argument("--calculator", type=Path, help="calculate_energy.py (default: next to it)")
    ap.add_argument("--table", type=Path, help="energy table (default: energy_model.txt)")
    ap.add_argument("--rows", default=DEFAULT_ROWS, help="stonne.csv data lines, e.g. 1-10,57")
    ap.add_argument("--out", type=Path, default=ENERGY_CSV)
    ap.add_argument("--compare", action="store_true", help="accelflow next to the CSV")
    ap.add_argument(
        "--model", action="store_true", help="accelflow's energy_model=stonne against the CSV"
    )
    args = ap.parse_args(argv)
    rows = sc.parse_rows(args.rows)
    if args.model:
        print_model(model_errors(rows, args.out))
        return 0
    if args.compare:
        results = compare(rows, args.out)
        table = read_table(args.table) if args.table else None
        print_compare(results, table)
        if table:
            print_recipe(results, table)
        return 0
    if args.stonne is None:
        ap.error("--stonne is required (or --compare)")
    tables = Path(args.stonne).resolve().parent / "energy_tables"
    calculator = args.calculator or tables / "calculate_energy.py"
    table = args.table or tables / "energy_model.txt"
    lines = []
    for entry in recorded():
        if entry["row"] not in rows:
            continue
        line = energy_row(entry, args.stonne, calculator, table)
        lines.append(line)
        print(
            f"row {line['row']:3d} {line['layer'][:24]:24s} {line['regime']} "
            f"cycles {line['cycles']:8d} total {line['total']:>12s} ({line['stonne_wall_s']} s)",
            flush=True,
        )
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(lines)
    print(f"wrote {len(lines)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
