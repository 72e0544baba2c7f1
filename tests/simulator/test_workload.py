"""simulator.workload's loop-nest counts against a walk of the loop nest."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.workload import last_true, visits


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_visits_count_the_tile_changes_of_the_loop_nest(data):
    nd = data.draw(st.integers(1, 5))
    trips = data.draw(st.lists(st.integers(1, 3), min_size=nd, max_size=nd))
    order = data.draw(st.permutations(range(nd)))
    deps = tuple(i for i in range(nd) if data.draw(st.booleans()))
    # Walk the nest (outermost first) and count how often the operand's coordinates change.
    changes, previous = 0, None
    for point in itertools.product(*(range(trips[d]) for d in order)):
        coords = tuple(point[order.index(d)] for d in deps)
        changes += coords != previous
        previous = coords
    loop_trips = np.array([[trips[d]] for d in order], np.int64)
    (got,) = visits(loop_trips, np.array([[d] for d in order], np.int64), [deps])
    assert int(got[0]) == changes


def test_last_true():
    flags = np.array([[1, 0, 0, 1], [0, 0, 1, 1], [1, 0, 0, 0]], bool)
    assert last_true(flags).tolist() == [2, -1, 1, 1]
