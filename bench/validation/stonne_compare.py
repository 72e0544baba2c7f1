"""accelflow's MAERI and SIGMA timing against STONNE's, row by row of bench/validation/stonne.csv.

    python -m bench.validation.stonne_compare            # tables + mean/max error per regime

For every MAERI row (`arch == "maeri"`: CONV and FC runs of STONNE's standalone binary) this
builds the same layer as an ONNX model (onnx.helper; conv: input [1, C, X, Y], weight
[K, C, R, S], STONNE's stride, no padding since STONNE's X/Y are already padded; FC: MatMul of
[1, K] by [K, N]), compiles it for a `maeri-<num_ms>` target with STONNE's `dn_bw`, `rn_bw` and
`accumulation_buffer`, and STONNE's spatial tile through `accel-map{spatial="T_R=.. ..."}`. The
global buffer is made large enough that the buffer tile is the whole layer (STONNE keeps every
operand on chip), single-buffered, and DRAM is given a very large bandwidth and no latency.
"ours" is the layer's compute cycles (the COMPUTE busy time: STONNE's count has no DRAM in it).

Weights are graph inputs rather than initializers: timing needs no values, and the FC6 layer's
37.7 M weights would otherwise be carried through the IR.

Regimes (docs/stonne-timing.md): A = no folding or accumulation buffer on (the closed form is
documented within 3 %); B = folding without accumulation buffer (the psum round trip: exact for
one VN per step, up to 24 % off with several). `A_ERROR_BOUND` is what
tests/validation/test_stonne_maeri.py asserts for A rows and for B rows but its listed misses.

SIGMA rows (`arch == "sigma"`, `-SparseGEMM`): STONNE multiplies a stationary MK [M, K] by a
streamed KN [K, N], both drawn by its `generateMatrixDense` with glibc `rand()` (default seed:
an element is zero when `rand() % 100 <= sparsity`, else a second `rand()` gives its value; MK is
drawn first, row-major). `sigma_matrix` reproduces MK by calling libc `rand()` through ctypes in
the same order, and the row becomes the ONNX MatMul `y[N, M] = x[N, K] @ w[K, M]` with
`w = MK^T` as an *initializer* (SIGMA's timing depends on the actual non-zeros: `accel-emit` reads
them), compiled for `sigma-<num_ms>` with STONNE's dn_bw / rn_bw and a buffer holding the whole
layer; our stationary rows are w's columns = MK's rows, our streamed columns KN's N columns.
STONNE's bitmap (`generateBitMapFromDense`) also marks the first zero elements of a row with
fewer than 3 non-zeros as present (explicit zeros, so every VN has >= 3 multipliers);
`sigma_matrix` gives those entries a tiny non-zero value so that our packing sees the same rows.
MK_STR_KN_STA (KN stationary) rows swap the roles: KN (drawn after MK, padded by columns) is
the weight initializer, `y[M, N] = x[M, K] @ w[K, N]` with x = MK streamed, so our stationary
rows are KN's columns and our streamed columns MK's rows (STONNE's SparseSDMemory runs the same
state machine with the operands swapped).
Coverage (`SigmaRow.covered`): the closed form (packing, ports, and the collection-bus lines the
VNs' sums leave on) is asserted (`SIGMA_ERROR_BOUND`, by tests/validation/test_stonne_sigma.py)
on every row of both dataflows.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, helper

CSV_PATH = Path(__file__).with_name("stonne.csv")
A_ERROR_BOUND = 0.05
SIGMA_ERROR_BOUND = 0.05
# STONNE's bitmap gives every stationary row at least this many (possibly zero) elements.
STONNE_MIN_ROW_NONZEROS = 3
# The value our weights give those padded entries (non-zero, so accel-emit maps them).
STONNE_PADDED_VALUE = 1e-30


@dataclass
class MaeriRow:
    """One MAERI run of STONNE (a row of stonne.csv) and accelflow's cycles for it."""

    layer: str
    kind: str  # "conv" | "fc"
    params: dict[str, int]
    num_ms: int
    dn_bw: int
    rn_bw: int
    accumulation_buffer: bool
    stonne_cycles: int
    stonne_wall_s: float
    ours: int = 0
    ours_wall_s: float = 0.0

    @property
    def folds(self) -> int:
        p = self.params
        if self.kind == "fc":
            return math.ceil(p["K"] / p["T_K"])
        return (
            math.ceil(p["R"] / p["T_R"])
            * math.ceil(p["S"] / p["T_S"])
            * math.ceil(p["C"] / p["T_C"])
        )

    @property
    def regime(self) -> str:
        """A: the closed form covers it (no folding, or accumulation buffer); B: psum round trip."""
        return "A" if self.accumulation_buffer or self.folds == 1 else "B"

    @property
    def error(self) -> float:
        return (self.ours - self.stonne_cycles) / self.stonne_cycles

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "kind": self.kind,
            "params": self.params,
            "num_ms": self.num_ms,
            "dn_bw": self.dn_bw,
            "rn_bw": self.rn_bw,
            "accumulation_buffer": int(self.accumulation_buffer),
            "regime": self.regime,
            "stonne_cycles": self.stonne_cycles,
            "ours": self.ours,
            "error_pct": 100 * self.error,
            "ours_wall_s": self.ours_wall_s,
            "stonne_wall_s": self.stonne_wall_s,
        }


def read_rows(path: Path = CSV_PATH) -> list[MaeriRow]:
    """The MAERI rows of the committed CSV (no STONNE run)."""
    rows = []
    with open(path, newline="") as f:
        for rec in csv.DictReader(f):
            if rec["arch"] != "maeri" or not rec["cycles"]:
                continue
            params = {k: int(v) for k, v in (item.split("=") for item in rec["params"].split(";"))}
            rows.append(
                MaeriRow(
                    layer=rec["layer"],
                    kind=rec["kind"],
                    params=params,
                    num_ms=int(rec["num_ms"]),
                    dn_bw=int(rec["dn_bw"]),
                    rn_bw=int(rec["rn_bw"]),
                    accumulation_buffer=rec["accumulation_buffer"] == "1",
                    stonne_cycles=int(rec["cycles"]),
                    stonne_wall_s=float(rec["wall_s"] or 0),
                )
            )
    return rows


def layer_model(row: MaeriRow) -> onnx.ModelProto:
    """The row's layer as an ONNX model (weights as inputs, see the module docstring)."""
    p = row.params
    f32 = TensorProto.FLOAT
    if row.kind == "conv":
        x_out = (p["X"] - p["R"]) // p["stride"] + 1
        y_out = (p["Y"] - p["S"]) // p["stride"] + 1
        node = helper.make_node(
            "Conv", ["x", "w"], ["y"], strides=[p["stride"], p["stride"]], name="conv"
        )
        inputs = [
            helper.make_tensor_value_info("x", f32, [1, p["C"], p["X"], p["Y"]]),
            helper.make_tensor_value_info("w", f32, [p["K"], p["C"], p["R"], p["S"]]),
        ]
        output = helper.make_tensor_value_info("y", f32, [1, p["K"], x_out, y_out])
    else:
        node = helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")
        inputs = [
            helper.make_tensor_value_info("x", f32, [p["M"], p["K"]]),
            helper.make_tensor_value_info("w", f32, [p["K"], p["N"]]),
        ]
        output = helper.make_tensor_value_info("y", f32, [p["M"], p["N"]])
    graph = helper.make_graph([node], row.layer, inputs, [output])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def spatial_option(row: MaeriRow) -> str:
    """STONNE's tile as the `accel-map{spatial=...}` option."""
    from accelflow.export.stonne import CONV_TILES, FC_TILES

    p = row.params
    names = CONV_TILES if row.kind == "conv" else FC_TILES
    return " ".join(f"{n}={p[n]}" for n in names)


def target_overrides(row: MaeriRow) -> list[str]:
    """maeri-<num_ms> with STONNE's ports and accumulation buffer, a buffer holding the whole
    layer (single-buffered), DRAM out of the way."""
    p = row.params
    if row.kind == "conv":
        elems = (
            p["C"] * p["X"] * p["Y"] + p["K"] * p["C"] * p["R"] * p["S"] + p["K"] * p["X"] * p["Y"]
        )
    else:
        elems = p["M"] * p["K"] + p["K"] * p["N"] + p["M"] * p["N"]
    kib = elems // 1024 + 16
    return [
        f"dn_bw_elems_per_cycle={row.dn_bw}",
        f"rn_bw_elems_per_cycle={row.rn_bw}",
        f"accumulation_buffer={'true' if row.accumulation_buffer else 'false'}",
        f"ifmap_sram_kib={kib}",
        f"filter_sram_kib={kib}",
        f"ofmap_sram_kib={kib}",
        "double_buffer=false",
        "dram_bw_bytes_per_cycle=1048576",
        "dram_latency_cycles=0",
        "sram_banks=65536",
    ]


def run_row(row: MaeriRow, extra: tuple[str, ...] = ()) -> MaeriRow:
    """Compile and simulate one row with accelflow; fills `ours` and `ours_wall_s`. `extra`:
    more target overrides (e.g. `energy_model=stonne`)."""
    import accelflow

    passes = (
        f'onnx-to-accel,accel-map{{spatial="{spatial_option(row)}"}},'
        "accel-tile{double-buffer=off},accel-emit"
    )
    start = time.perf_counter()
    result = accelflow.compile(
        layer_model(row),
        target=f"maeri-{row.num_ms}",
        overrides=[*target_overrides(row), *extra],
        passes=passes,
    )
    sim = accelflow.simulate(result.program, result.target)
    row.ours_wall_s = time.perf_counter() - start
    (layer,) = result.program.accel_layers()
    whole = all(layer.mapping["tiles"][d] == n for d, n in layer.dims.items())
    if not whole:
        raise AssertionError(f"{row.layer}: the buffer tile is not the whole layer")
    row.ours = sim.stats.layer(layer.name).compute_cycles
    return row


def compare(path: Path = CSV_PATH) -> list[dict[str, Any]]:
    """Every MAERI row of the CSV with accelflow's cycles: (layer, params, STONNE cycles, ours,
    error %, our wall time, STONNE's wall time, ...) as dicts."""
    return [run_row(row).as_dict() for row in read_rows(path)]


def summary(rows: list[dict[str, Any]]) -> list[str]:
    """Mean and max |error| per accumulation buffer setting and layer kind, and per regime."""
    lines = []
    groups: list[tuple[str, Any]] = [
        (
            f"accumulation_buffer={ab} {kind}",
            lambda r, ab=ab, kind=kind: r["accumulation_buffer"] == ab and r["kind"] == kind,
        )
        for ab in (1, 0)
        for kind in ("conv", "fc")
    ]
    groups += [
        (f"accumulation_buffer={ab}", lambda r, ab=ab: r["accumulation_buffer"] == ab)
        for ab in (1, 0)
    ]
    groups += [(f"regime {g}", lambda r, g=g: r["regime"] == g) for g in ("A", "B")]
    for label, keep in groups:
        errors = [abs(r["error_pct"]) for r in rows if keep(r)]
        if errors:
            lines.append(
                f"{label:32s} n={len(errors):2d}  mean |err| {sum(errors) / len(errors):5.2f} %  "
                f"max {max(errors):5.2f} %"
            )
    return lines


@dataclass
class SigmaRow:
    """One SIGMA run of STONNE (a `-SparseGEMM` row of stonne.csv) and accelflow's cycles."""

    layer: str
    params: dict[str, Any]
    num_ms: int
    dn_bw: int
    rn_bw: int
    stonne_cycles: int
    stonne_wall_s: float
    ours: int = 0
    ours_wall_s: float = 0.0
    vns_per_iteration: float = 0.0

    @property
    def dataflow(self) -> str:
        return str(self.params["dataflow"])

    @property
    def covered(self) -> bool:
        """The closed form covers it (see the module docstring): both dataflows."""
        return self.dataflow in ("MK_STA_KN_STR", "MK_STR_KN_STA")

    @property
    def error(self) -> float:
        return (self.ours - self.stonne_cycles) / self.stonne_cycles

    def as_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "params": self.params,
            "num_ms": self.num_ms,
            "dn_bw": self.dn_bw,
            "rn_bw": self.rn_bw,
            "dataflow": self.dataflow,
            "covered": self.covered,
            "vns_per_iteration": self.vns_per_iteration,
            "stonne_cycles": self.stonne_cycles,
            "ours": self.ours,
            "error_pct": 100 * self.error,
            "ours_wall_s": self.ours_wall_s,
            "stonne_wall_s": self.stonne_wall_s,
        }


def write_rows(path: Path, fields: Sequence[str], rows: list[dict[str, Any]]) -> None:
    """A CSV of STONNE runs (the bench scripts' format: a header, one run per row)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {path}")


def read_sigma_rows(path: Path = CSV_PATH) -> list[SigmaRow]:
    """The SIGMA rows of the committed CSV (no STONNE run), `vns_per_iteration` filled."""
    from simulator.arch import sigma

    rows = []
    with open(path, newline="") as f:
        for rec in csv.DictReader(f):
            if rec["arch"] != "sigma" or not rec["cycles"]:
                continue
            params: dict[str, Any] = dict(item.split("=") for item in rec["params"].split(";"))
            for key in ("M", "N", "K", "MK_sparsity", "KN_sparsity"):
                params[key] = int(params[key])
            row = SigmaRow(
                layer=rec["layer"],
                params=params,
                num_ms=int(rec["num_ms"]),
                dn_bw=int(rec["dn_bw"]),
                rn_bw=int(rec["rn_bw"]),
                stonne_cycles=int(rec["cycles"]),
                stonne_wall_s=float(rec["wall_s"] or 0),
            )
            mk, kn = sigma_matrices(row)
            stationary = kn.T if row.dataflow == "MK_STR_KN_STA" else mk
            iterations = sigma.pack_rows(stationary != 0, row.num_ms)
            row.vns_per_iteration = sum(v for _, v in iterations) / max(1, len(iterations))
            rows.append(row)
    return rows


def sigma_matrix(row: SigmaRow) -> Any:
    """STONNE's stationary MK [M, K] (values 1..10, zeros where it draws them): glibc `rand()`
    with the default seed, called in `generateMatrixDense`'s order; then, as STONNE's
    `generateBitMapFromDense` does, a row with fewer than 3 non-zeros gets its first zero
    elements marked present (`STONNE_PADDED_VALUE` here, an explicit 0.0 in STONNE)."""
    return sigma_matrices(row)[0]


def sigma_matrices(row: SigmaRow) -> tuple[Any, Any]:
    """(MK [M, K], KN [K, N]) as STONNE draws them (MK first, then KN, both row-major), each
    padded as STONNE's bitmap pads it: MK by rows, KN by columns (see `sigma_matrix`)."""
    import ctypes

    import numpy as np

    libc = ctypes.CDLL("libc.so.6")
    libc.srand(1)
    p = row.params

    def draw(rows: int, cols: int, sparsity: int) -> Any:
        matrix = np.zeros((rows, cols), np.float32)
        for i in range(rows):
            for j in range(cols):
                if libc.rand() % 100 <= sparsity:
                    continue
                matrix[i, j] = libc.rand() % 10 + 1
        return matrix

    def pad_rows(matrix: Any) -> Any:
        for i in range(matrix.shape[0]):
            missing = STONNE_MIN_ROW_NONZEROS - int(np.count_nonzero(matrix[i]))
            head = matrix[i, :STONNE_MIN_ROW_NONZEROS]
            for j in np.flatnonzero(head == 0)[: max(missing, 0)]:
                matrix[i, j] = STONNE_PADDED_VALUE
        return matrix

    mk = pad_rows(draw(p["M"], p["K"], p["MK_sparsity"]))
    kn = pad_rows(draw(p["K"], p["N"], p["KN_sparsity"]).T.copy()).T.copy()
    return mk, kn


def sigma_layer_model(row: SigmaRow) -> onnx.ModelProto:
    """The stationary matrix is our weight (an initializer), the streamed one our input.
    MK_STA_KN_STR: `y[N, M] = x[N, K] @ w[K, M]`, w = MK^T, x = KN^T; MK_STR_KN_STA:
    `y[M, N] = x[M, K] @ w[K, N]`, w = KN, x = MK (see the module docstring)."""
    from onnx import numpy_helper

    p = row.params
    f32 = TensorProto.FLOAT
    mk, kn = sigma_matrices(row)
    if row.dataflow == "MK_STR_KN_STA":
        weight, (rows, cols) = kn, (p["M"], p["N"])
    else:
        weight, (rows, cols) = mk.T.copy(), (p["N"], p["M"])
    node = helper.make_node("MatMul", ["x", "w"], ["y"], name="gemm")
    graph = helper.make_graph(
        [node],
        row.layer,
        [helper.make_tensor_value_info("x", f32, [rows, p["K"]])],
        [helper.make_tensor_value_info("y", f32, [rows, cols])],
        initializer=[numpy_helper.from_array(weight, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run_sigma_row(row: SigmaRow, extra: tuple[str, ...] = ()) -> SigmaRow:
    """Compile and simulate one SIGMA row with accelflow; fills `ours` and `ours_wall_s`.
    `extra`: more target overrides (e.g. `energy_model=stonne`)."""
    import accelflow

    p = row.params
    kib = (p["N"] * p["K"] + p["K"] * p["M"] + p["N"] * p["M"]) // 1024 + 16
    overrides = [
        f"dn_bw_elems_per_cycle={row.dn_bw}",
        f"rn_bw_elems_per_cycle={row.rn_bw}",
        f"ifmap_sram_kib={kib}",
        f"filter_sram_kib={kib}",
        f"ofmap_sram_kib={kib}",
        "double_buffer=false",
        "dram_bw_bytes_per_cycle=1048576",
        "dram_latency_cycles=0",
        "sram_banks=65536",
        *extra,
    ]
    # The whole reduction in one buffer tile, as STONNE runs it (with fewer ports than
    # multipliers the default mapping would weigh shorter ones: `Sigma.default_tile_options`).
    passes = f"onnx-to-accel,accel-map,accel-tile{{tile-k={p['K']}}},accel-emit"
    start = time.perf_counter()
    result = accelflow.compile(
        sigma_layer_model(row), target=f"sigma-{row.num_ms}", overrides=overrides, passes=passes
    )
    sim = accelflow.simulate(result.program, result.target)
    row.ours_wall_s = time.perf_counter() - start
    (layer,) = result.program.accel_layers()
    if any(layer.mapping["tiles"][d] != n for d, n in layer.dims.items()):
        raise AssertionError(f"{row.layer}: the buffer tile is not the whole layer")
    row.ours = sim.stats.layer(layer.name).compute_cycles
    return row


def compare_sigma(path: Path = CSV_PATH) -> list[dict[str, Any]]:
    """Every SIGMA row of the CSV with accelflow's cycles, as dicts."""
    return [run_sigma_row(row).as_dict() for row in read_sigma_rows(path)]


def sigma_summary(rows: list[dict[str, Any]]) -> list[str]:
    """Mean and max |error| of the covered rows, of the others, and of all."""
    lines = []
    for label, keep in (
        ("sigma covered", lambda r: r["covered"]),
        ("sigma not covered", lambda r: not r["covered"]),
        ("sigma all", lambda r: True),
    ):
        errors = [abs(r["error_pct"]) for r in rows if keep(r)]
        if errors:
            lines.append(
                f"{label:32s} n={len(errors):2d}  mean |err| {sum(errors) / len(errors):5.2f} %  "
                f"max {max(errors):5.2f} %"
            )
    return lines


def main() -> None:
    rows = compare()
    print(
        f"{'layer':24s} {'tile':42s} {'ms':>4s} {'dn':>4s} {'rn':>3s} ab rg "
        f"{'STONNE':>9s} {'ours':>9s} {'err %':>7s} {'ours s':>7s} {'STONNE s':>8s}"
    )
    for r in rows:
        tile = " ".join(f"{k}={v}" for k, v in r["params"].items() if k.startswith("T_"))
        print(
            f"{r['layer'][:24]:24s} {tile[:42]:42s} {r['num_ms']:4d} {r['dn_bw']:4d} "
            f"{r['rn_bw']:3d} {r['accumulation_buffer']:2d} {r['regime']:>2s} "
            f"{r['stonne_cycles']:9d} {r['ours']:9d} {r['error_pct']:+7.2f} "
            f"{r['ours_wall_s']:7.2f} {r['stonne_wall_s']:8.2f}"
        )
    print("\n".join(summary(rows)))
    sigma_rows = compare_sigma()
    print(
        f"\n{'layer':18s} {'sparsity':10s} {'dataflow':14s} {'ms':>4s} {'dn':>4s} {'rn':>4s} "
        f"{'VN/it':>5s} cov {'STONNE':>7s} {'ours':>7s} {'err %':>7s}"
    )
    for r in sigma_rows:
        p = r["params"]
        print(
            f"{r['layer'][:18]:18s} MK={p['MK_sparsity']:2d};KN={p['KN_sparsity']:2d} "
            f"{r['dataflow']:14s} {r['num_ms']:4d} {r['dn_bw']:4d} {r['rn_bw']:4d} "
            f"{r['vns_per_iteration']:5.1f} {'yes' if r['covered'] else 'no ':3s} "
            f"{r['stonne_cycles']:7d} {r['ours']:7d} {r['error_pct']:+7.2f}"
        )
    print("\n".join(sigma_summary(sigma_rows)))


if __name__ == "__main__":
    main()


def parse_rows(text: str) -> set[int]:
    """Row numbers of stonne.csv's data lines (from 1) given as '1-10,57' -> {1, ..., 10, 57}
    (the --rows option of the STONNE check scripts)."""
    out: set[int] = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def numbered_rows(path: Path = CSV_PATH) -> list[tuple[int, dict[str, str], Any]]:
    """Every MAERI and SIGMA line of stonne.csv with cycles, in file order: (its number among
    the data lines, from 1; the CSV record; the `MaeriRow` / `SigmaRow` read for it)."""
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    runs = {"maeri": iter(read_rows(path)), "sigma": iter(read_sigma_rows(path))}
    out = []
    for i, rec in enumerate(records, start=1):
        if rec["arch"] not in runs or not rec["cycles"]:
            continue
        run = next(runs[rec["arch"]])
        if run.layer != rec["layer"] or run.stonne_cycles != int(rec["cycles"]):
            raise AssertionError(f"row {i}: stonne_compare read {run.layer} {run.stonne_cycles}")
        out.append((i, rec, run))
    return out


@contextmanager
def watching(name: str, calls: list[tuple[tuple, dict, Any]]) -> Iterator[None]:
    """Record (args, kwargs, result) of every `accelflow.<name>` call (compile, simulate) made
    while the block runs: what `run_row` compiled and simulated for a row."""
    import accelflow

    real = getattr(accelflow, name)

    def watched(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append((args, kwargs, result))
        return result

    setattr(accelflow, name, watched)
    try:
        yield
    finally:
        setattr(accelflow, name, real)


@contextmanager
def stonne_folder(stonne: Path, prefix: str = "stonne-") -> Iterator[Path]:
    """A scratch folder to run STONNE's binary in: `./stonne` (a link to `stonne`) and its
    tile mapper's `parameters/` beside it; give it as OUTPUT_DIR so STONNE's statistics files
    go away with it."""
    import tempfile

    stonne = Path(stonne).resolve()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        work = Path(tmp)
        (work / "stonne").symlink_to(stonne)
        if (stonne.parent / "parameters").is_dir():
            (work / "parameters").symlink_to(stonne.parent / "parameters")
        yield work
