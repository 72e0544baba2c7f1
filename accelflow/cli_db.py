"""`accelflow db show|diff|merge`: mapping databases kept across projects (tuner/db.py).

accelflow db show maps.json [--json]          # one row per entry, with its provenance
accelflow db diff a.json b.json [--json]      # entries only in one, and mappings that differ
accelflow db merge a.json b.json -o c.json [--overwrite]
                                              # the union; per key the better entry wins
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console


def add_db_parser(sub: Any) -> None:
    p = sub.add_parser("db", help="show, compare or merge mapping databases")
    dbsub = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    show = dbsub.add_parser("show", help="list a database's entries and their provenance")
    show.add_argument("database")
    show.add_argument("--json", action="store_true", help="print the entries as JSON")
    diff = dbsub.add_parser("diff", help="entries only in one database, and differing mappings")
    diff.add_argument("a")
    diff.add_argument("b")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    merge = dbsub.add_parser(
        "merge", help="merge databases into a new one (per entry the better one wins)"
    )
    merge.add_argument("databases", nargs="+")
    merge.add_argument("-o", "--output", required=True, help="the merged database to write")
    merge.add_argument(
        "--overwrite", action="store_true", help="later databases' entries win even when worse"
    )


def cmd_db(args: argparse.Namespace) -> int:
    return {"show": _show, "diff": _diff, "merge": _merge}[args.db_command](args)


def _load(path: str) -> Any:
    from simulator.errors import existing_file
    from tuner.db import DatabaseError, MappingDB

    existing_file(path, DatabaseError)
    return MappingDB.load(path)


def _row(key: str, entry: dict[str, Any], targets: dict[str, Any]) -> dict[str, Any]:
    layer = entry.get("layer", {})
    target = targets.get(entry.get("fingerprint", entry.get("target")), {})
    cycles, default = entry.get("cycles"), entry.get("default_cycles")
    return {
        "key": key,
        "layers": entry.get("layers", []),
        "kind": layer.get("kind", entry["signature"].split()[0]),
        "dims": layer.get("dims"),
        "target": target.get("name"),
        "timing_fingerprint": entry["target"],
        "fingerprint": entry.get("fingerprint"),
        "objective": entry.get("objective", "latency"),
        "cycles": cycles,
        "default_cycles": default,
        "speedup": round(default / cycles, 4) if cycles and default else None,
        "energy_pj": entry.get("energy_pj"),
        "created": entry.get("created"),
        "accelflow_version": entry.get("accelflow_version"),
        "strategy": entry.get("strategy"),
        "budget": entry.get("budget"),
        "model_sha256": entry.get("model_sha256"),
        "mapping": entry["mapping"],
    }


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    from rich.table import Table

    from simulator.stats import table_width

    table = Table(title=title)
    for i, col in enumerate(header):
        table.add_column(col, justify="left" if i < 3 else "right", overflow="fold")
    for row in rows:
        table.add_row(*row)
    Console(width=table_width(), highlight=False).print(table)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _show(args: argparse.Namespace) -> int:
    db = _load(args.database)
    rows = [_row(k, e, db.targets) for k, e in sorted(db.entries.items())]
    if args.json:
        print(json.dumps({"database": args.database, "entries": rows}, indent=1))
        return 0
    _table(
        f"{args.database}: {len(rows)} entries",
        ("layer", "dims", "objective", "target", "cycles", "default", "speed-up", "nJ", "created"),
        [
            (
                (r["layers"] or [r["key"]])[0]
                + (f" (+{len(r['layers']) - 1})" if len(r["layers"]) > 1 else ""),
                " ".join(f"{d}{v}" for d, v in (r["dims"] or {}).items()),
                r["objective"],
                f"{r['target'] or '?'} {r['timing_fingerprint']}",
                _fmt(r["cycles"]),
                _fmt(r["default_cycles"]),
                "-" if r["speedup"] is None else f"{r['speedup']:.2f}x",
                "-" if r["energy_pj"] is None else f"{r['energy_pj'] / 1e3:,.1f}",
                r["created"] or "-",
            )
            for r in rows
        ],
    )
    return 0


def _diff(args: argparse.Namespace) -> int:
    a, b = _load(args.a), _load(args.b)
    only_a = sorted(set(a.entries) - set(b.entries))
    only_b = sorted(set(b.entries) - set(a.entries))
    changed = sorted(
        k
        for k in set(a.entries) & set(b.entries)
        if a.entries[k]["mapping"] != b.entries[k]["mapping"]
    )
    same = len(set(a.entries) & set(b.entries)) - len(changed)
    if args.json:
        print(
            json.dumps(
                {
                    "only_in_a": only_a,
                    "only_in_b": only_b,
                    "same": same,
                    "different": [
                        {
                            "key": k,
                            "a": _row(k, a.entries[k], a.targets),
                            "b": _row(k, b.entries[k], b.targets),
                        }
                        for k in changed
                    ],
                },
                indent=1,
            )
        )
        return 0
    print(
        f"{args.a}: {len(a)} entries, {args.b}: {len(b)} entries; {same} the same, "
        f"{len(changed)} with different mappings, {len(only_a)} only in {args.a}, "
        f"{len(only_b)} only in {args.b}"
    )
    for k in only_a:
        print(f"only in {args.a}: {k}")
    for k in only_b:
        print(f"only in {args.b}: {k}")
    for k in changed:
        ea, eb = a.entries[k], b.entries[k]
        print(
            f"different: {k}: {_fmt(ea.get('cycles'))} cycles / {_fmt(ea.get('energy_pj'))} pJ "
            f"in {args.a}, {_fmt(eb.get('cycles'))} cycles / {_fmt(eb.get('energy_pj'))} pJ "
            f"in {args.b}"
        )
    return 0


def _merge(args: argparse.Namespace) -> int:
    from simulator.errors import checked_output
    from tuner.db import MappingDB

    out = checked_output(
        args.output, "-o", [(f"the input database {d}", d) for d in args.databases]
    )
    merged = MappingDB()
    totals = {"added": 0, "replaced": 0, "kept": 0}
    for path in args.databases:
        counts = merged.merge(_load(path), overwrite=args.overwrite)
        for k, v in counts.items():
            totals[k] += v
    merged.save(out)
    print(
        f"wrote {out}: {len(merged)} entries from {len(args.databases)} databases "
        f"({totals['replaced']} replaced by a better entry, {totals['kept']} worse entries "
        "left out)"
    )
    return 0
