"""Transformer and modern-CNN models built with onnx.helper (accelflow/transformer_models.py),
compiled, simulated and checked against the ONNX reference on every family: a post-norm and a
pre-norm encoder, a GPT-style causal decoder on int64 token ids, a ViT (patch embedding, class
token), a MobileNetV3 block (HardSwish, squeeze-excite) and a ConvNeXt block (channels-last
LayerNorm). Attention's matrix products run on the accelerator; every other operator on the
vector unit, so the total includes every op."""

from __future__ import annotations

import pytest

import accelflow
from accelflow import transformer_models as tm
from accelflow.api import random_inputs

MODELS = {
    "encoder": lambda: tm.encoder(),
    "encoder-prenorm": lambda: tm.encoder(norm_first=True, activation="gelu"),
    "gpt": lambda: tm.gpt(),
    "vit": lambda: tm.vit(),
    "mobilenetv3-block": lambda: tm.mobilenetv3_block(),
    "convnext-block": lambda: tm.convnext_block(),
}
TARGETS = ["tpu-like-small", "maeri-64", "sigma-64"]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", list(MODELS))
def test_model_matches_the_reference(name, target):
    model = MODELS[name]()
    result = accelflow.compile(model, target=target)
    program = result.program
    inputs = random_inputs(program, seed=2)
    sim = accelflow.simulate(program, result.target, functional=True, inputs=inputs)
    outputs = {n: sim.outputs[n] for n in program.outputs}
    report = accelflow.check(model, inputs, outputs)
    assert report.ok, f"{name} on {target}: worst {report.worst()}"
    stats = sim.stats
    units = {layer.unit for layer in stats.layers}
    assert units == {"accel", "vector", "fused"}  # every operator takes time somewhere
    assert stats.total.cycles == sum(layer.cycles for layer in stats.layers)
    assert all(layer.cycles > 0 for layer in stats.layers if layer.unit == "accel")


def test_attention_runs_on_the_accelerator():
    program = accelflow.compile(tm.encoder(), target="tpu-like").program
    by_name = {layer.name: layer for layer in program.layers}
    qk = by_name["/layers.0/self_attn/MatMul"]
    av = by_name["/layers.0/self_attn/MatMul_1"]
    assert qk.on_accel and av.on_accel
    assert qk.dims == {"g": 4, "m": 8, "n": 8, "k": 8}  # batch x heads, seq x seq, head dim
    assert av.dims == {"g": 4, "m": 8, "n": 8, "k": 8}


def test_gpt_takes_token_ids():
    program = accelflow.compile(tm.gpt(vocab=50), target="tpu-like").program
    assert program.input_dtypes == {"input": "int64"}
    ids = random_inputs(program, seed=0)["input"]
    assert ids.min() >= 0 and ids.max() < 50
