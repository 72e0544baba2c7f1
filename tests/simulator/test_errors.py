"""The boundary checks of simulator/errors.py that the API applies to what a caller passes."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.errors import AccelflowError, checked_number


@pytest.mark.parametrize(
    "value", [3, 3.5, np.int64(3), np.int32(3), np.float32(0.5), np.float64(2)]
)
def test_numpy_and_python_numbers_are_numbers(value):
    assert checked_number(value, "seed", minimum=0) == value


@pytest.mark.parametrize("value", [True, np.bool_(True), "3", None, 1 + 2j, [1]])
def test_what_is_not_a_real_number_is_refused(value):
    with pytest.raises(AccelflowError, match="seed must be a number"):
        checked_number(value, "seed")


@pytest.mark.parametrize("value", [np.float64("nan"), float("inf"), np.float32("-inf")])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(AccelflowError, match="finite"):
        checked_number(value, "--rtol")


def test_random_inputs_take_a_numpy_seed(tmp_path):
    import accelflow
    from accelflow.api import random_inputs
    from accelflow.models import lenet

    program = accelflow.compile(lenet(), target="tpu-like-small").program
    a = random_inputs(program, seed=np.int64(7))
    b = random_inputs(program, seed=7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
