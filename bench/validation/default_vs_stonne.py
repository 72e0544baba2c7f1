"""The default MAERI spatial tile checked in STONNE, on the scaled plan of tuned_vs_stonne.

    python -m bench.validation.default_vs_stonne --stonne /path/to/stonne --heuristic NAME
    python -m bench.validation.default_vs_stonne --summary      # the CSV's figures, no STONNE

For each layer of `tuned_vs_stonne.LAYERS` (AlexNet's and ResNet-18's layers with fewer channels,
num_ms = 64, dn = rn = 8) and the accumulation buffer off and on, the spatial tile the default
heuristic picks for the whole layer as one buffer tile (`maeri_mapping.maeri_spatial`, what
`accelflow compile` gives a MAERI layer that fits its buffers) is run in STONNE with its exact
command (a tile STONNE refuses is a row without cycles, its assertion noted); accelflow's cycles
are `maeri.layer_cycles` of the same tile. A command that tuned_vs_stonne.csv or this CSV already
holds is not run again (its STONNE cycles are taken from there). Each row is labelled with `--heuristic` (which version of the heuristic picked it), so
that the CSV keeps the runs of the heuristic before a change beside those after it; `--summary`
sets them side by side.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.validation import stonne_compare as sc  # noqa: E402
from bench.validation import tuned_vs_stonne as tv  # noqa: E402

OUT = Path(__file__).with_name("default_vs_stonne.csv")
FIELDS = ("heuristic", "layer", "accumulation_buffer", "tile", "ours", "stonne", "stonne_wall_s",
          "note", "command")  # fmt: skip


def default_tile(dims: dict[str, int], acc: bool) -> tuple[int, ...]:
    """The default heuristic's spatial tile of the scaled layer, by role (`tv.ROLES` order)."""
    from simulator.arch.maeri_mapping import STONNE_TILE_NAMES, maeri_spatial
    from simulator.target import load_target
    from simulator.workload import LayerShape

    z = tv.extents(dims)
    target = load_target(
        f"maeri-{tv.HARDWARE['num_ms']}",
        [f"accumulation_buffer={str(acc).lower()}", f"dn_bw_elems_per_cycle={tv.HARDWARE['dn_bw']}",
         f"rn_bw_elems_per_cycle={tv.HARDWARE['rn_bw']}"],
    )  # fmt: skip
    if tv.is_fc(dims):
        shape = LayerShape("matmul", {"g": 1, "m": z[6], "n": z[3], "k": z[1]})
        f = maeri_spatial(shape, target, dict(shape.dims))
        tile = [1] * len(tv.ROLES)
        for i, role in tv.FC_ROLES.items():
            tile[i] = f[STONNE_TILE_NAMES["matmul"][role]]
        return tuple(tile)
    # STONNE's X (and T_X') are our rows y, its Y our columns x (`STONNE_TILE_NAMES`).
    r, s, c, k = z[:4]
    shape = LayerShape(
        "conv2d", {"n": 1, "g": 1, "k": k, "c": c, "y": z[6], "x": z[7], "r": r, "s": s},
        stride=(dims["stride"],) * 2, in_hw=(dims["X"], dims["Y"]),
    )  # fmt: skip
    f = maeri_spatial(shape, target, dict(shape.dims))
    return tuple(f[STONNE_TILE_NAMES["conv2d"][role]] for role in tv.ROLES)


def _recorded(out: Path) -> list[dict[str, str]]:
    """The runs this CSV holds (none before the first measurement)."""
    if not out.exists():
        return []
    with open(out, newline="") as f:
        return list(csv.DictReader(f))


def measure(stonne: Path | None, heuristic: str, out: Path) -> None:
    mine = _recorded(out)
    # STONNE's figures for a command run before: here or in tuned_vs_stonne.csv.
    by_command = {r["command"]: r for r in [*mine, *tv.read_runs(tv.OUT)]}
    rows = [r for r in mine if r["heuristic"] != heuristic]
    for name, dims in tv.LAYERS.values():
        for acc in (False, True):
            tile = default_tile(dims, acc)
            line = tv.command(name, dims, tile, acc)
            known = by_command.get(line)
            note = ""
            if known is not None:
                cycles, wall, note = known["stonne"], known["stonne_wall_s"], known.get("note", "")
            elif stonne is None:
                raise SystemExit(f"{name}: {line} was never run in STONNE (give --stonne)")
            else:
                got, seconds, said = tv.run_stonne(stonne, line)
                cycles, wall = ("" if got is None else got), f"{seconds:.2f}"
                note = said if got is None else ""
            row = {"heuristic": heuristic, "layer": name, "accumulation_buffer": int(acc),
                   "tile": tv.label(dims, tile), "ours": tv.ours(dims, tile, acc),
                   "stonne": cycles, "stonne_wall_s": wall, "note": note,
                   "command": line}  # fmt: skip
            print(f"{name} acc={int(acc)} {row['tile']}: ours {row['ours']} STONNE {cycles}",
                  flush=True)  # fmt: skip
            rows.append(row)
    sc.write_rows(out, FIELDS, rows)


def summary(path: Path) -> list[str]:
    """Per layer and accumulation buffer, each heuristic's tile, its STONNE cycles and our
    error; and per heuristic the total STONNE cycles."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    heuristics = list(dict.fromkeys(r["heuristic"] for r in rows))
    head = " | ".join(f"{h}: tile | STONNE | ours / STONNE" for h in heuristics)
    lines = [f"| layer | acc. buffer | {head} |", "|---|---|" + "---|---|---|" * len(heuristics)]
    key = lambda r: (r["layer"], r["accumulation_buffer"])  # noqa: E731
    by_key = {(r["heuristic"], r["layer"], r["accumulation_buffer"]): int(r["stonne"])
              for r in rows if r["stonne"]}  # fmt: skip
    errors: dict[str, list[float]] = {h: [] for h in heuristics}
    refused: dict[str, int] = {}
    for (layer, acc), group in itertools.groupby(sorted(rows, key=key), key=key):
        by_h = {r["heuristic"]: r for r in group}
        cells = []
        for h in heuristics:
            r = by_h.get(h)
            if r is None:
                cells.append("- | - | -")
                continue
            if not r["stonne"]:  # STONNE refused the tile
                refused[h] = refused.get(h, 0) + 1
                cells.append(f"{r['tile']} | refused ({r['note']}) | -")
                continue
            ours, theirs = int(r["ours"]), int(r["stonne"])
            errors[h].append(abs(ours / theirs - 1))
            cells.append(f"{r['tile']} | {theirs:,} | {ours / theirs:.3f}")
        lines.append(f"| {layer} | {'on' if acc == '1' else 'off'} | {' | '.join(cells)} |")
    lines.append("")
    ran = [key for key in {(r["layer"], r["accumulation_buffer"]) for r in rows}
           if all(by_key.get((h, *key)) for h in heuristics)]  # fmt: skip
    for h in heuristics:
        off = sum(by_key[(h, *key)] for key in ran if key[1] == "0")
        on = sum(by_key[(h, *key)] for key in ran if key[1] == "1")
        worst = max(errors[h]) if errors[h] else float("nan")
        lines.append(
            f"- {h}: STONNE cycles summed over the {len(ran)} rows every heuristic ran: {off:,} "
            f"(buffer off), {on:,} (on); {refused.get(h, 0)} tiles refused by STONNE; ours "
            f"within {100 * worst:.1f} % of STONNE on every row it ran"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stonne", type=Path, help="STONNE's standalone binary")
    ap.add_argument("--heuristic", help="the label of this version of the heuristic")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--summary", action="store_true", help="the CSV's figures (no STONNE)")
    args = ap.parse_args(argv)
    if args.summary:
        if not args.out.is_file():
            ap.error(f"{args.out}: no such file")
        print("\n".join(summary(args.out)))
        return 0
    if not args.heuristic:
        ap.error("--heuristic is required (or --summary)")
    if args.stonne is not None and not args.stonne.is_file():
        ap.error(f"--stonne {args.stonne}: no such file")
    measure(args.stonne, args.heuristic, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
