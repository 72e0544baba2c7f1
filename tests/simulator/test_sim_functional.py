"""Functional execution computed tile by tile from the COMPUTE rows, against whole-layer references."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sim_programs import conv_program, drop_compute, matmul_program

from simulator import functional
from simulator.program import Layer, Program
from simulator.run import simulate
from simulator.target import make_target


def _conv_reference(x, w, b, strides, pads, dilations, group):
    y = jax.lax.conv_general_dilated(
        x, w, strides, ((pads[0], pads[2]), (pads[1], pads[3])),
        rhs_dilation=dilations, feature_group_count=group, precision=jax.lax.Precision.HIGHEST,
    )  # fmt: skip
    y = np.asarray(y)
    return y if b is None else y + b[None, :, None, None]


# fmt: off
CONV_CASES = [
    # n, c_in, h, w, c_out, r, s, group, strides, pads, dilations, tiles, bias
    (1, 3, 8, 8, 4, 3, 3, 1, (1, 1), (0, 0, 0, 0), (1, 1), {}, True),
    (2, 4, 9, 7, 6, 3, 2, 1, (2, 1), (1, 0, 2, 1), (1, 1), {"k": 4, "c": 3, "y": 3, "x": 2, "r": 2}, True),
    (1, 4, 11, 10, 4, 3, 3, 1, (1, 2), (2, 1, 0, 3), (2, 2), {"c": 1, "y": 4, "x": 3, "s": 2}, False),
    (2, 6, 8, 8, 9, 3, 3, 3, (1, 1), (1, 1, 1, 1), (1, 1), {"n": 1, "g": 2, "k": 2, "c": 1, "y": 3, "r": 1}, True),
    (1, 8, 7, 9, 8, 3, 3, 8, (2, 2), (1, 1, 1, 1), (1, 1), {"g": 3, "y": 2, "x": 2, "s": 2}, True),  # depthwise
    (1, 5, 6, 6, 7, 1, 1, 1, (1, 1), (0, 0, 0, 0), (1, 1), {"k": 3, "c": 2, "x": 4}, True),
]
# fmt: on


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_conv_tiles_equal_reference(case, dataflow):
    n, c_in, h, w, c_out, r, s, group, strides, pads, dilations, tiles, bias = case
    program = conv_program(
        n, c_in, h, w, c_out, r, s, group, strides, pads, dilations, tiles, bias, dataflow
    )
    x = np.random.default_rng(3).standard_normal((n, c_in, h, w)).astype(np.float32)
    out = functional.run_functional(program, {"x": x})["y"]
    ref = _conv_reference(
        x, program.constants["w"], program.constants.get("bias"), strides, pads, dilations, group
    )
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


# fmt: off
MATMUL_CASES = [
    # g, m, n, k, tiles, bias, shared_b, batched_shape
    (1, 7, 5, 9, {}, False, False, False),
    (1, 13, 11, 17, {"m": 4, "n": 3, "k": 5}, True, False, False),
    (3, 6, 7, 8, {"g": 2, "m": 4, "n": 5, "k": 3}, True, False, True),
    (4, 5, 6, 10, {"g": 3, "m": 2, "k": 4}, False, True, True),
]
# fmt: on


@pytest.mark.parametrize("case", MATMUL_CASES)
def test_matmul_tiles_equal_reference(case):
    g, m, n, k, tiles, bias, shared_b, batched = case
    program = matmul_program(g, m, n, k, tiles, bias=bias, shared_b=shared_b, batched_shape=batched)
    a = np.random.default_rng(4).standard_normal(program.tensors["a"]).astype(np.float32)
    out = functional.run_functional(program, {"a": a})["y"]
    ref = np.matmul(a.astype(np.float64), program.constants["b"].astype(np.float64))
    if bias:
        ref = ref + program.constants["bias"]
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("index", [0, 3, -1])
def test_missing_tile_gives_wrong_numbers(index):
    program = matmul_program(1, 8, 8, 8, {"m": 4, "n": 4, "k": 4}, bias=True)
    a = np.random.default_rng(5).standard_normal(program.tensors["a"]).astype(np.float32)
    good = functional.run_functional(program, {"a": a})["y"]
    bad = functional.run_functional(drop_compute(program, index), {"a": a})["y"]
    assert not np.allclose(good, bad, equal_nan=False)


def test_missing_conv_reduction_tile_gives_wrong_numbers():
    program = conv_program(1, 4, 6, 6, 4, 3, 3, tiles={"c": 2, "r": 1})
    x = np.random.default_rng(6).standard_normal((1, 4, 6, 6)).astype(np.float32)
    good = functional.run_functional(program, {"x": x})["y"]
    bad = functional.run_functional(drop_compute(program, 2), {"x": x})["y"]
    assert np.isfinite(bad).all()  # an accumulation tile is missing: finite but wrong
    assert not np.allclose(good, bad)


def test_tile_outside_extents_is_rejected():
    program = matmul_program(1, 8, 8, 8)
    program.layers[0].dims["m"] = 4
    with pytest.raises(ValueError, match="layer mm"):
        functional.run_functional(program, {"a": np.zeros((1, 8, 8), np.float32)})


def test_identical_layers_compile_once():
    functional._matmul_fn.cache_clear()
    program = matmul_program(1, 8, 8, 8, {"k": 4})
    a = np.ones((1, 8, 8), np.float32)
    functional.run_functional(program, {"a": a})
    functional.run_functional(program, {"a": 2 * a})
    info = functional._matmul_fn.cache_info()
    assert info.misses == 1 and info.hits == 1


def test_simulate_with_host_layers_end_to_end():
    conv = conv_program(1, 3, 8, 8, 4, 3, 3, pads=(1, 1, 1, 1), tiles={"k": 2, "y": 3})
    layers = [
        conv.layers[0],
        Layer("relu", "Relu", False, ["y"], ["r"]),
        Layer(
            "pool",
            "MaxPool",
            False,
            ["r"],
            ["p"],
            attrs={"kernel_shape": [2, 2], "strides": [2, 2]},
        ),
        Layer("flat", "Flatten", False, ["p"], ["f"], attrs={"axis": 1}),
    ]
    program = Program(conv.instrs, layers, conv.constants, conv.tensors, ["x"], ["f"],
                      target={"name": "t", "rows": 4, "cols": 4})  # fmt: skip
    x = np.random.default_rng(7).standard_normal((1, 3, 8, 8)).astype(np.float32)
    result = simulate(program, functional=True, inputs={"x": x})
    y = np.maximum(
        _conv_reference(
            x, conv.constants["w"], conv.constants["bias"], (1, 1), (1, 1, 1, 1), (1, 1), 1
        ),
        0,
    )
    ref = y.reshape(1, 4, 4, 2, 4, 2).max(axis=(3, 5)).reshape(1, -1)
    assert set(result.outputs) == {"f"}
    np.testing.assert_allclose(result.outputs["f"], ref, rtol=1e-4, atol=1e-4)
    assert result.stats.target_name == "t"
    assert [layer.cycles == 0 for layer in result.stats.layers] == [False, True, True, True]
    timing_only = simulate(program, make_target({"rows": 4, "cols": 4}))
    assert timing_only.outputs is None
    assert timing_only.stats.cycles == result.stats.cycles
