"""compiler/constant_pool.py: inside a compile, large constants are held once (handles in the
IR, arrays not copied); outside, inline; a handle without its array is an elided constant."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, DenseResourceAttr, TensorType, f32

import accelflow
from accelflow import models
from compiler import constant_pool


def test_large_constants_are_handles_inside_a_scope_and_inline_outside():
    big = np.arange(1000, dtype=np.float32).reshape(10, 100)
    small = np.arange(4, dtype=np.int64)
    outside = constant_pool.attribute(big)
    assert isinstance(outside, DenseIntOrFPElementsAttr)
    assert np.array_equal(constant_pool.array_of(outside), big)
    with constant_pool.scope():
        held = constant_pool.attribute(big.T, "conv1/weight")
        assert isinstance(held, DenseResourceAttr)
        assert held.resource_handle.data.startswith("conv1_weight_")
        value = constant_pool.array_of(held)
        assert value is not None and np.shares_memory(value, big)  # not copied
        assert isinstance(constant_pool.attribute(small), DenseIntOrFPElementsAttr)
    assert constant_pool.array_of(held) is None  # its scope ended: elided
    missing = DenseResourceAttr.from_params("__elided__", TensorType(f32, [2]))
    assert constant_pool.array_of(missing) is None


def test_a_compile_holds_weights_once_and_releases_them():
    model = models.mlp()
    result = accelflow.compile(model, target="tpu-like", keep_ir=True)
    assert constant_pool._scopes == []
    program = result.program
    # Views of the model's bytes, not copies: a weight as stored, one transposed (transB).
    for name in ("fc2.weight", "/fc1/Gemm/B"):
        value = program.constants[name]
        assert value.nbytes > constant_pool.INLINE_BYTES
        assert value.base is not None and not value.flags.writeable
    assert "dense_resource<__elided__>" in result.stages["onnx-to-accel"]
    outputs = accelflow.simulate(program, functional=True).outputs
    assert all(np.isfinite(v).all() for v in outputs.values())
