"""The cycle-stepped systolic reference against the fold formulas of `simulator.arch.systolic`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.arch import systolic
from simulator.arch.systolic_reference import simulate_gemm

DATAFLOWS = {"ws": systolic.DF_WS, "os": systolic.DF_OS, "is": systolic.DF_IS}


def _formula(m, n, k, dataflow, rows, cols):
    return int(systolic.compute_cycles(1, m, n, k, DATAFLOWS[dataflow], rows, cols, xp=np))


@pytest.mark.parametrize("dataflow", ["ws", "os", "is"])
@pytest.mark.parametrize("rows,cols", [(1, 1), (2, 3), (4, 4), (3, 2)])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (4, 4, 4), (5, 7, 3), (12, 5, 9), (2, 12, 12)])
def test_reference_cycles_equal_fold_formula(dataflow, rows, cols, m, n, k):
    rng = np.random.default_rng(m * 100 + n * 10 + k)
    a, b = rng.standard_normal((m, k)), rng.standard_normal((k, n))
    cycles, c = simulate_gemm(a, b, dataflow, rows, cols)
    assert cycles == _formula(m, n, k, dataflow, rows, cols)
    np.testing.assert_allclose(c, a @ b, rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    dataflow=st.sampled_from(["ws", "os", "is"]),
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    m=st.integers(1, 12),
    n=st.integers(1, 12),
    k=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_reference_random_gemms(dataflow, rows, cols, m, n, k, seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(-5, 6, (m, k)).astype(np.float64)
    b = rng.integers(-5, 6, (k, n)).astype(np.float64)
    cycles, c = simulate_gemm(a, b, dataflow, rows, cols)
    assert cycles == _formula(m, n, k, dataflow, rows, cols)
    np.testing.assert_array_equal(c, a @ b)


def test_jax_and_numpy_cost_agree_vectorised():
    import jax.numpy as jnp

    grid = np.stack(np.meshgrid(*[np.arange(1, 14)] * 3, np.arange(3), indexing="ij"), -1).reshape(
        -1, 4
    )
    m, n, k, df = grid.T
    for rows, cols in [(4, 4), (3, 7)]:
        ref = systolic.compute_cycles(2, m, n, k, df, rows, cols, xp=np)
        got = systolic.compute_cycles(
            2, jnp.asarray(m), jnp.asarray(n), jnp.asarray(k), jnp.asarray(df), rows, cols
        )
        np.testing.assert_array_equal(np.asarray(got), ref)
        for x, y in zip(
            systolic.sram_traffic(1, m, n, k, 1, df, rows, cols, xp=np),
            systolic.sram_traffic(
                1, jnp.asarray(m), jnp.asarray(n), jnp.asarray(k), 1, jnp.asarray(df), rows, cols
            ),
            strict=True,
        ):
            np.testing.assert_array_equal(np.asarray(y), x)


def test_unknown_dataflow():
    with pytest.raises(ValueError, match="dataflow"):
        simulate_gemm(np.ones((2, 2)), np.ones((2, 2)), "rs", 2, 2)
