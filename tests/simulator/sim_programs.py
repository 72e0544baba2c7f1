"""Hand-built Programs for the simulator tests (independent of the compiler's scheduler).

`matmul_program` / `conv_program` tile one layer with the given tile sizes: output tiles in the
outer loops, reduction tiles inner (acc=0 on the first reduction tile), a LOAD of input and
weight per COMPUTE, a STORE after the last reduction tile. With `double_buffer`, loads alternate
slots 0/1 (input/weight per compute, output per output tile); otherwise everything uses slot 0.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from simulator.program import (
    CONV_DIMS,
    MATMUL_DIMS,
    OP_COMPUTE,
    OP_CONFIG,
    OP_LOAD,
    OP_STORE,
    ROW,
    Layer,
    Program,
)

DF_CODE = {"ws": 0, "os": 1, "is": 2}


def row(op: int, **fields: Any) -> np.ndarray:
    """One instruction row [F] from its named fields (`ROW.encode`)."""
    return ROW.encode(1, opcode=op, **fields)[0]


def _ranges(extent: int, tile: int) -> list[tuple[int, int]]:
    return [(o, min(tile, extent - o)) for o in range(0, extent, tile)]


def _tile_rows(
    layer_index: int,
    dims: tuple[str, ...],
    extents: dict[str, int],
    tiles: dict[str, int],
    out_dims: tuple[str, ...],
    red_dims: tuple[str, ...],
    gemm: Any,
    nbytes: Any,
    dataflow: str,
    double_buffer: bool,
) -> list[np.ndarray]:
    df = DF_CODE[dataflow]
    rows = [row(OP_CONFIG, layer=layer_index, dataflow=df)]
    count = 0
    out_tiles = itertools.product(
        *[_ranges(extents[d], tiles.get(d, extents[d])) for d in out_dims]
    )
    for out_count, out_tile in enumerate(out_tiles):
        s_out = out_count % 2 if double_buffer else 0
        reds = list(
            itertools.product(*[_ranges(extents[d], tiles.get(d, extents[d])) for d in red_dims])
        )
        for ri, red_tile in enumerate(reds):
            t = dict(zip(out_dims, out_tile, strict=True)) | dict(
                zip(red_dims, red_tile, strict=True)
            )
            off = [t[d][0] for d in dims]
            size = [t[d][1] for d in dims]
            z = dict(zip(dims, size, strict=True))
            slot = count % 2 if double_buffer else 0
            count += 1
            in_bytes, w_bytes, out_bytes = nbytes(z)
            rows.append(
                row(
                    OP_LOAD,
                    layer=layer_index,
                    buffer=0,
                    slot=slot,
                    bytes=in_bytes,
                    off=off,
                    size=size,
                )
            )
            rows.append(
                row(
                    OP_LOAD,
                    layer=layer_index,
                    buffer=1,
                    slot=slot,
                    bytes=w_bytes,
                    off=off,
                    size=size,
                )
            )
            reps, m, n, k = gemm(z)
            rows.append(
                row(OP_COMPUTE, layer=layer_index, dataflow=df, s_in=slot, s_w=slot, s_out=s_out,
                    acc=int(ri > 0), reps=reps, m=m, n=n, k=k, off=off, size=size)
            )  # fmt: skip
            if ri == len(reds) - 1:
                rows.append(
                    row(
                        OP_STORE, layer=layer_index, slot=s_out, bytes=out_bytes, off=off, size=size
                    )
                )
    return rows


def matmul_program(
    g: int, m: int, n: int, k: int,
    tiles: dict[str, int] | None = None,
    dataflow: str = "ws",
    double_buffer: bool = True,
    element_bytes: int = 1,
    bias: bool = False,
    shared_b: bool = False,
    batched_shape: bool = True,
    target: dict[str, Any] | None = None,
) -> Program:  # fmt: skip
    extents = {"g": g, "m": m, "n": n, "k": k}
    tiles = tiles or {}
    e = element_bytes
    rows = _tile_rows(
        0, MATMUL_DIMS, extents, tiles, ("g", "m", "n"), ("k",),
        gemm=lambda z: (z["g"], z["m"], z["n"], z["k"]),
        nbytes=lambda z: (z["g"] * z["m"] * z["k"] * e, z["g"] * z["k"] * z["n"] * e, z["g"] * z["m"] * z["n"] * e),
        dataflow=dataflow, double_buffer=double_buffer,
    )  # fmt: skip
    a_shape = (g, m, k) if batched_shape or g > 1 else (m, k)
    b_shape = (k, n) if shared_b else (g, k, n) if batched_shape or g > 1 else (k, n)
    out_shape = (g, m, n) if batched_shape or g > 1 else (m, n)
    rng = np.random.default_rng(1)
    constants = {"b": rng.standard_normal(b_shape).astype(np.float32)}
    if bias:
        constants["bias"] = rng.standard_normal(n).astype(np.float32)
    layer = Layer(
        name="mm", kind="matmul", on_accel=True, inputs=["a", "b", "bias" if bias else ""],
        outputs=["y"], dims=dict(extents), mapping={"dataflow": dataflow},
        instr_begin=0, instr_end=len(rows),
    )  # fmt: skip
    return Program(
        instrs=np.stack(rows), layers=[layer], constants=constants,
        tensors={"a": a_shape, "b": b_shape, "y": out_shape}, inputs=["a"], outputs=["y"],
        target=target or {},
    )  # fmt: skip


def conv_program(
    n: int, c_in: int, h: int, w: int, c_out: int, r: int, s: int,
    group: int = 1, strides: tuple[int, int] = (1, 1), pads: tuple[int, int, int, int] = (0, 0, 0, 0),
    dilations: tuple[int, int] = (1, 1), tiles: dict[str, int] | None = None, bias: bool = True,
    dataflow: str = "ws", double_buffer: bool = True,
) -> Program:  # fmt: skip
    sy, sx = strides
    dy, dx = dilations
    y = (h + pads[0] + pads[2] - (r - 1) * dy - 1) // sy + 1
    x = (w + pads[1] + pads[3] - (s - 1) * dx - 1) // sx + 1
    extents = {
        "n": n,
        "g": group,
        "k": c_out // group,
        "c": c_in // group,
        "y": y,
        "x": x,
        "r": r,
        "s": s,
    }
    rows = _tile_rows(
        0, CONV_DIMS, extents, tiles or {}, ("n", "g", "k", "y", "x"), ("c", "r", "s"),
        gemm=lambda z: (z["g"], z["n"] * z["y"] * z["x"], z["k"], z["c"] * z["r"] * z["s"]),
        nbytes=lambda z: (z["n"] * z["g"] * z["c"] * z["y"] * z["x"], z["g"] * z["k"] * z["c"] * z["r"] * z["s"],
                          z["n"] * z["g"] * z["k"] * z["y"] * z["x"]),
        dataflow=dataflow, double_buffer=double_buffer,
    )  # fmt: skip
    rng = np.random.default_rng(2)
    constants = {"w": rng.standard_normal((c_out, c_in // group, r, s)).astype(np.float32)}
    if bias:
        constants["bias"] = rng.standard_normal(c_out).astype(np.float32)
    layer = Layer(
        name="conv", kind="conv2d", on_accel=True, inputs=["x", "w", "bias" if bias else ""],
        outputs=["y"], attrs={"strides": list(strides), "pads": list(pads), "dilations": list(dilations), "group": group},
        dims=extents, mapping={"dataflow": dataflow}, instr_begin=0, instr_end=len(rows),
    )  # fmt: skip
    return Program(
        instrs=np.stack(rows), layers=[layer], constants=constants,
        tensors={"x": (n, c_in, h, w), "w": constants["w"].shape, "y": (n, c_out, y, x)},
        inputs=["x"], outputs=["y"],
    )  # fmt: skip


def drop_compute(program: Program, index: int) -> Program:
    """The same program without its `index`-th COMPUTE row (a schedule that misses a tile)."""
    computes = np.flatnonzero(ROW.view(program.instrs).opcode == OP_COMPUTE)
    keep = np.ones(program.num_instructions, bool)
    keep[computes[index]] = False
    layers = [
        Layer(**{**layer.__dict__, "instr_end": layer.instr_end - 1}) for layer in program.layers
    ]
    return Program(
        instrs=program.instrs[keep], layers=layers, constants=program.constants,
        tensors=program.tensors, inputs=program.inputs, outputs=program.outputs,
    )  # fmt: skip
