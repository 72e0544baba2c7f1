"""The mapping space (tuner/space.py): every point it generates is legal. For random conv
(grouped, strided, padded, dilated), depthwise and matmul layers on systolic arrays (split and
shared buffers), MAERI (with and without accumulation buffer, roomy and tight buffers) and SIGMA,
`sample`, `enumerate` + `legal`, `neighbours` + `legal` and every strategy's `ask` return only
points whose decoded mapping `tiling.check_mapping` accepts; `legal` agrees with `check_mapping`
on random genomes, legal or not; the default genome decodes to `tiling.default_mapping`;
`genome_of` inverts `mapping`; and `options` compiles, through `accel-map` and `accel-tile`, to
the mapping it names."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accelflow import models
from compiler import tiling
from compiler.importer import import_onnx
from compiler.passes.common import layer_shape, tiled_mapping
from compiler.pipeline import compile_module
from compiler.tiling import LayerShape, MappingError, ShapeError
from dialects import accel
from simulator.target import Target, load_target
from tuner.space import AXIS_GROUPS, MappingSpace
from tuner.strategies import STRATEGIES, make_strategy

EXAMPLES = settings(
    max_examples=6, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

TIGHT = ["ifmap_sram_kib=2", "filter_sram_kib=2", "ofmap_sram_kib=2"]
# id -> (preset, --set overrides)
TARGETS: dict[str, tuple[str, list[str]]] = {
    "tpu-like": ("tpu-like", []),
    "tpu-like-small": ("tpu-like-small", []),
    "tpu-like-small-shared": ("tpu-like-small", ["global_buffer=shared"]),
    "maeri-64": ("maeri-64", []),
    "maeri-128": ("maeri-128", []),
    "maeri-64-no-acc": ("maeri-64", ["accumulation_buffer=false"]),
    "maeri-128-no-acc": ("maeri-128", ["accumulation_buffer=false"]),
    # buffers that bind on MAERI too (the presets' 1.5 MiB hold these layers whole)
    "maeri-64-tight-split-no-acc": (
        "maeri-64",
        [*TIGHT, "global_buffer=split", "accumulation_buffer=false"],
    ),
    "sigma-64": ("sigma-64", []),
}


def target(name: str) -> Target:
    preset, overrides = TARGETS[name]
    return load_target(preset, overrides)


@st.composite
def layers(draw) -> LayerShape:
    """A small conv (grouped, strided, padded, dilated), depthwise conv or matmul layer."""
    kind = draw(st.sampled_from(["conv", "depthwise", "matmul"]))
    if kind == "matmul":
        batch = draw(st.sampled_from([(), (2,), (3,)]))
        m, k, n = (draw(st.integers(1, 40)) for _ in range(3))
        b_shape = (*batch, k, n) if batch and draw(st.booleans()) else (k, n)
        return tiling.matmul_shape((*batch, m, k), b_shape, has_bias=draw(st.booleans()))
    if kind == "depthwise":
        channels = draw(st.integers(1, 16))
        group, c, k = channels, channels, channels * draw(st.sampled_from([1, 2]))
    else:
        group = draw(st.sampled_from([1, 1, 2, 3]))
        c, k = group * draw(st.integers(1, 8)), group * draw(st.integers(1, 8))
    r, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    h, w = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    pads = tuple(draw(st.integers(0, 2)) for _ in range(4))
    try:
        return tiling.conv2d_shape(
            (draw(st.integers(1, 2)), c, h, w),
            (k, c // group, r, s),
            strides=(draw(st.integers(1, 3)), draw(st.integers(1, 3))),
            pads=pads,
            dilations=(draw(st.integers(1, 2)), draw(st.integers(1, 2))),
            group=group,
            has_bias=draw(st.booleans()),
        )
    except ShapeError:
        assume(False)
        raise


def check_error(space: MappingSpace, genome: np.ndarray) -> str | None:
    """check_mapping's message for the decoded genome, or None when it accepts it."""
    try:
        tiling.check_mapping(space.shape, space.mapping(genome), space.target)
    except MappingError as err:
        return str(err)
    return None


def assert_legal(space: MappingSpace, genomes: np.ndarray, where: str) -> None:
    genomes = np.asarray(genomes).reshape(-1, len(space.axes))
    for g in genomes:
        error = check_error(space, g)
        assert error is None, f"{where} returned {g.tolist()} ({space.shape.signature}): {error}"
    assert space.legal(genomes).all(), where


def canonical(space: MappingSpace, genome: np.ndarray) -> bool:
    """The genome is the one `genome_of` gives its decoded mapping (no spatial factor clamped)."""
    try:
        return bool(np.array_equal(space.genome_of(space.mapping(genome)), genome))
    except ValueError:
        return False


@pytest.mark.parametrize("target_name", list(TARGETS))
@EXAMPLES
@given(shape=layers(), seed=st.integers(0, 2**32 - 1))
def test_generated_points_are_legal(target_name, shape, seed):
    tgt = target(target_name)
    space = MappingSpace(shape, tgt)
    rng = np.random.default_rng(seed)

    sampled = space.sample(rng, 48)
    assert len(sampled) > 0, "no legal point sampled (the default mapping is legal)"
    assert_legal(space, sampled, "sample")

    start = int(rng.integers(0, max(space.size - 2048, 1)))
    walked = space.enumerate(start, 2048)
    assert_legal(space, walked[space.legal(walked)], "enumerate + legal")

    moved = space.neighbours(sampled, rng, steps=int(rng.integers(1, 3)))
    assert moved.shape == sampled.shape
    assert ((moved >= 0) & (moved < space.sizes)).all()
    assert_legal(space, moved[space.legal(moved)], "neighbours + legal")

    for name in STRATEGIES:
        strategy = make_strategy(name, space, seed)
        for round_ in range(3):
            asked = strategy.ask(16)
            if asked is None:
                assert name == "exhaustive" and round_ > 0
                break
            assert_legal(space, asked, f"{name} ask (round {round_})")
            strategy.tell(asked, rng.random(len(asked)) * 1000)


@pytest.mark.parametrize("target_name", list(TARGETS))
@EXAMPLES
@given(shape=layers(), seed=st.integers(0, 2**32 - 1))
def test_legal_agrees_with_check_mapping(target_name, shape, seed):
    """On random genomes (mostly illegal) and on moves away from legal ones: `legal` says yes
    exactly when check_mapping accepts the decoded mapping and the genome is the one of that
    mapping (a MAERI spatial factor beyond its tile decodes clamped: a duplicate point)."""
    tgt = target(target_name)
    space = MappingSpace(shape, tgt)
    rng = np.random.default_rng(seed)
    genomes = np.concatenate(
        [
            rng.integers(0, space.sizes, size=(96, len(space.axes))),
            space.neighbours(space.sample(rng, 32), rng, steps=2),
        ]
    )
    legal = space.legal(genomes)
    for g, says in zip(genomes, legal, strict=True):
        error = check_error(space, g)
        expected = error is None and canonical(space, g)
        assert says == expected, (
            f"legal({g.tolist()}) = {says} for {space.mapping(g).to_dict()} "
            f"({shape.signature}): check_mapping says {error or 'ok'}, "
            f"canonical {canonical(space, g)}"
        )


@pytest.mark.parametrize("target_name", list(TARGETS))
@EXAMPLES
@given(shape=layers(), seed=st.integers(0, 2**32 - 1))
def test_default_genome_and_genome_of_round_trip(target_name, shape, seed):
    tgt = target(target_name)
    space = MappingSpace(shape, tgt)
    default = tiling.default_mapping(shape, tgt)
    assert space.mapping(space.default_genome) == default
    assert space.legal(space.default_genome[None]).all()
    assert np.array_equal(space.genome_of(default), space.default_genome)

    for g in space.sample(np.random.default_rng(seed), 24):
        mapping = space.mapping(g)
        assert np.array_equal(space.genome_of(mapping), g), mapping.to_dict()
        assert space.mapping(space.genome_of(mapping)) == mapping

    # Nothing tuned: the default is the only point.
    fixed = MappingSpace(shape, tgt, tune=())
    assert fixed.size == 1
    assert np.array_equal(fixed.enumerate(), fixed.default_genome[None])
    assert fixed.mapping(fixed.default_genome) == default


@pytest.mark.parametrize("group", AXIS_GROUPS)
def test_a_restricted_space_varies_only_its_axes(group):
    """tune=(group,): the other axes hold the default's value only."""
    shape = tiling.conv2d_shape((1, 6, 14, 14), (16, 6, 5, 5), has_bias=True)
    tgt = target("maeri-64-tight-split-no-acc" if group == "spatial" else "tpu-like-small")
    space = MappingSpace(shape, tgt, tune=(group,))
    prefix = {"tiles": "tile-", "spatial": "spatial-"}.get(group, group.replace("_", "-"))
    varied = [a.name for a in space.axes if len(a.values) > 1]
    assert varied and all(name.startswith(prefix) for name in varied), varied
    default = space.mapping(space.default_genome)
    for g in space.sample(np.random.default_rng(0), 16):
        m = space.mapping(g)
        if group != "tiles":
            assert m.tiles == default.tiles
        if group != "order":
            assert m.order == default.order
        if group != "dataflow":
            assert m.dataflow == default.dataflow


def test_unknown_axis_group_is_refused():
    shape = tiling.matmul_shape((4, 8), (8, 4))
    with pytest.raises(ValueError, match="unknown axis group 'tile'"):
        MappingSpace(shape, target("tpu-like"), tune=("tile",))


# --- options(): the pass options that compile to the point -----------------------------------

# Depthwise, pointwise, strided with asymmetric pads, 1x1, 3x3 padded, and matmul layers.
MODELS = {
    "depthwise_pointwise": models.depthwise_pointwise,
    "concat_branches": models.concat_branches,
}
OPTION_TARGETS = ["tpu-like-small", "tpu-like-small-shared", "maeri-64-no-acc", "sigma-64"]


def accelerator_layers(model) -> dict[str, LayerShape]:
    module = import_onnx(model)
    compile_module(module, load_target("tpu-like"), passes="onnx-to-accel")
    return {
        op.layer_name.data: layer_shape(op)
        for op in module.walk()
        if isinstance(op, accel.Conv2DOp | accel.MatmulOp)
    }


def layer_options(name: str, options: str) -> str:
    """`space.options` for one layer: `layer=` on both passes, `force=true` on accel-map."""
    assert options.startswith("accel-map{") and ",accel-tile{" in options, options
    options = options.replace("accel-map{", f'accel-map{{layer="{name}" force=true ', 1)
    return options.replace(",accel-tile{", f',accel-tile{{layer="{name}" ', 1)


def compiled_mappings(model, tgt: Target, options: dict[str, str]) -> dict[str, tiling.Mapping]:
    passes = ",".join(["onnx-to-accel", *(layer_options(n, o) for n, o in options.items())])
    module = compile_module(import_onnx(model), tgt, passes=passes)
    return {
        op.layer_name.data: tiled_mapping(op)
        for op in module.walk()
        if isinstance(op, accel.TiledOp)
    }


@pytest.mark.parametrize("target_name", OPTION_TARGETS)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_options_compile_to_the_point(model_name, target_name):
    model = MODELS[model_name]()
    tgt = target(target_name)
    rng = np.random.default_rng(7)
    spaces = {name: MappingSpace(shape, tgt) for name, shape in accelerator_layers(model).items()}
    for _ in range(3):
        genomes = {name: space.sample(rng, 1)[0] for name, space in spaces.items()}
        options = {name: spaces[name].options(g) for name, g in genomes.items()}
        got = compiled_mappings(model, tgt, options)
        assert set(got) == set(spaces)
        for name, g in genomes.items():
            # (the place of a dim with one tile in the order changes nothing: normalized)
            want = spaces[name].mapping(g).normalized(spaces[name].shape)
            assert got[name] == want, options[name]


def test_options_keep_a_maeri_spatial_factor_beyond_the_default_tile():
    """/dw/Conv (g8 y16 x16 r3 s3) on a MAERI whose 6 KiB buffer makes the default tile g < 8:
    the point's g tile is 8, unrolled 8 ways; compiled from its options, g is unrolled less."""
    model = models.depthwise_pointwise()
    tgt = load_target("maeri-64", TIGHT)
    shape = accelerator_layers(model)["/dw/Conv"]
    space = MappingSpace(shape, tgt)
    assert tiling.default_mapping(shape, tgt).tiles["g"] < 8
    tiles = {"n": 1, "g": 8, "k": 1, "c": 1, "y": 16, "x": 4, "r": 3, "s": 2}
    factors = {"n": 1, "g": 8, "k": 1, "c": 1, "y": 1, "x": 4, "r": 2, "s": 1}
    base = tiling.Mapping("os", tiles, tuple("grkscxny"), double_buffer=False)
    point = tiling.with_maeri_spatial(shape, base, tgt, factors)
    tiling.check_mapping(shape, point, tgt)
    genome = space.genome_of(point)
    got = compiled_mappings(model, tgt, {"/dw/Conv": space.options(genome)})
    assert got["/dw/Conv"] == point.normalized(shape)
