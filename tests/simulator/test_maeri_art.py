"""simulator.arch.maeri_art: CompilerART's tree, the psum paths and the round-trip recurrence
(docs/stonne-several-vn.md). STONNE's own runs are in tests/validation/test_stonne_maeri.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.arch import maeri, maeri_art


@settings(max_examples=200, deadline=None)
@given(
    ms=st.sampled_from([16, 32, 64, 128, 256]),
    data=st.data(),
)
def test_aux_hops_closed_form_follows_the_configured_tree(ms, data):
    span = data.draw(st.integers(2, ms))
    nv = data.draw(st.integers(1, ms // span))
    art = maeri_art.art_configuration(ms, span, nv)
    for v in range(nv):
        path = maeri_art.psum_path(art, v * span)
        assert maeri_art.aux_hops(ms, v * span, span) == (len(path), path[-1])


def test_aux_hops_of_one_vn_at_zero():
    for span in range(2, 129):
        assert maeri_art.aux_hops(128, 0, span)[0] == (span + 1).bit_length() - 1


def test_bus_lines_cover_every_adder():
    for ms, rn in ((64, 8), (128, 128), (128, 2)):
        lines = maeri_art.bus_lines(ms, rn)
        assert len(lines) == ms - 1
        assert {line for line, _ in lines.values()} <= set(range(rn))
        assert all(0 <= i <= ms // rn for _, i in lines.values())  # ms/rn + 1 inputs a line


def test_one_vn_round_trip_is_its_path():
    # Alone, a VN's fold takes h + 2 + d: no queue waits.
    for span in (3, 10, 19, 51):
        h = maeri_art.aux_hops(128, 0, span)[0]
        assert maeri_art.round_trips(128, 128, 128, span, 1, 12) == (h + 2, 1)
        assert maeri_art.round_trips(128, 64, 128, span, 1, 12) == (h + 3, 1)


def test_several_vns_wait_for_each_other():
    # micro_fc_n4_k128, T_K = 4 (docs/stonne-several-vn.md 2.4): alone 4, 4, 5, 5; together the
    # last two lose a cycle at the write loop while the first two run.
    alone = [maeri_art.aux_hops(64, v * 5, 5)[0] + 2 for v in range(4)]
    assert alone == [4, 4, 5, 5]
    cycles, count = maeri_art.round_trips(64, 64, 8, 5, 4, 32)
    assert 5 < cycles / count < 6
    writes = maeri_art.psum_writes(64, 64, 8, 5, 4, 32, 1)
    assert [len(w) for w in writes] == [32] * 4
    gaps = [b - a for a, b in zip(writes[2], writes[2][1:], strict=False)]
    assert max(gaps) == 6 and min(gaps) == 5


def test_writes_are_ordered_and_complete():
    writes = maeri_art.psum_writes(128, 128, 128, 10, 12, 8, 3)
    for w in writes:
        assert len(w) == 24 and w == sorted(w)


def test_product_paths_and_drain():
    # One VN of 14 multipliers (aux first) on 128: the psum climbs 3 adders, its farthest
    # product 5; STONNE's first write follows the products.
    assert maeri_art.aux_hops(128, 0, 14)[0] == 3
    assert maeri_art.product_hops(128, 14, 1) == (5,)
    assert maeri_art.drain_cycles(128, 128, 14, 1) == 7
    assert maeri_art.drain_cycles(128, 64, 14, 1) == 8


def test_round_trip_fields_batch():
    # VNs of 9, 9, 9 and 200 multipliers, 4, 4, 1 and 1 of them, folding 16, 16, 16 and 2 times
    # in two windows per K-tile (FC layers of two rows).
    vn_nv_folds = [(9, 4, 16), (9, 4, 16), (9, 1, 16), (200, 1, 2)]
    z = [(1, vn * f, 1, nv, 1, 1, 2, 1) for vn, nv, f in vn_nv_folds]
    t = [(1, vn, 1, nv, 1, 1, 1, 1) for vn, nv, _ in vn_nv_folds]
    fields = maeri.round_trip_fields(z, t, [True, False, True, True], 64, 8, 8)
    assert fields.shape == (4, 3)
    assert tuple(fields[1]) == (0, 1, 0)  # no aux: no round trip
    assert tuple(fields[3]) == (0, 1, 0)  # beyond the multipliers: not laid out
    assert tuple(fields[0]) == (
        *maeri_art.round_trips(64, 8, 8, 10, 4, 16),
        maeri_art.drain_cycles(64, 8, 10, 4),
    )
    assert fields[2][1] == 1 and fields[2][0] == maeri_art.aux_hops(64, 0, 10)[0] + 3


def test_one_long_window_is_measured_on_one_window():
    # 32 VNs of 1 + 1 on 8 bus lines lock into a slower phase over one long window than over
    # three (the aux's zero at each window boundary shifts them): 5.67 against 5.30 per fold.
    one = maeri_art.round_trips(64, 8, 8, 2, 32, 512, one_window=True)
    three = maeri_art.round_trips(64, 8, 8, 2, 32, 512)
    assert 5.6 < one[0] / one[1] < 5.75 and 5.25 < three[0] / three[1] < 5.35
    # A short K-tile (fewer folds than the horizon) keeps the three windows' mean.
    assert maeri_art.round_trips(64, 8, 8, 2, 32, 12, True) == maeri_art.round_trips(
        64, 8, 8, 2, 32, 12
    )
    z = [(1, 512, 1, 32, 1, 1, rows, 1) for rows in (1, 2)]  # one window per K-tile, two
    fields = maeri.round_trip_fields(z, [(1, 1, 1, 32, 1, 1, 1, 1)] * 2, [True, True], 64, 8, 8)
    assert tuple(fields[0][:2]) == one and tuple(fields[1][:2]) == three


@pytest.mark.parametrize("k, stonne", [(64, 624), (128, 1243), (256, 2480)])
def test_one_window_fc_of_32_vns_of_one_against_stonne(k, stonne):
    # STONNE, run in its binary's folder: ./stonne -FC -layer_name=p -M=1 -N=32 -K=<k> -T_M=1
    # -T_N=32 -T_K=1 -num_ms=64 -dn_bw=8 -rn_bw=8 -accumulation_buffer=0 -print_stats=0
    # (9.66 cycles per fold: 4 weights, then the chain of 5.67; 5.30 measured over three windows
    # gave 3.8 % fewer cycles).
    cycles = maeri.layer_cycles(
        (1, k, 1, 32, 1, 1, 1, 1), (1, 1, 1, 32, 1, 1, 1, 1), 1, 64, 8, 8, False
    )
    assert abs(cycles / stonne - 1) < 0.005, cycles


def test_a_vn_beyond_the_multipliers_is_refused():
    with pytest.raises(ValueError, match="exceeds 64 multipliers"):
        maeri_art.aux_hops(64, 60, 10)
