"""Transformer and modern-CNN example models, built as ONNX graphs the way torch's exporter
writes them (opset 17, legacy exporter style), for tests and benchmarks without torch.

    from accelflow.transformer_models import TRANSFORMER_MODELS, encoder, gpt, vit
    onnx.save(vit(), "vit.onnx")
    python -m accelflow.transformer_models vit-b16 -o vit-b16.onnx

- `encoder`: `nn.TransformerEncoder` layers, post-norm (`norm_first=False`, the default) or
  pre-norm: multi-head self-attention as the exporter spells it (MatMul + Add projections,
  Reshape / Transpose to [batch, heads, seq, head_dim], QK^T scaled by a Mul, Softmax, AV,
  Transpose / Reshape back), residual Adds, LayerNormalization, a ReLU or GELU feed-forward;
  `bert_base` is BERT-base-sized (12 layers, 768 wide, 12 heads, 3072 feed-forward, GELU).
- `gpt`: a GPT-style causal decoder on int64 token ids: embedding `Gather`s (tokens and
  positions), pre-norm blocks whose attention adds the causal mask with `Where` on a `Trilu`
  mask, the tanh-free GELU the exporter writes (`x * 0.5 * (1 + Erf(x / sqrt 2))`), a final
  LayerNorm and the tied-free LM head.
- `vit`: a ViT: patch embedding (a strided Conv), Reshape / Transpose to tokens, the class token
  (`Expand` + `Concat`), position embedding, pre-norm encoder blocks, `Gather` of the class
  token, LayerNorm and the head; `vit_b16` is ViT-B/16 at 224x224.
- `mobilenetv3_block`: expand 1x1 conv, HardSwish, depthwise 3x3, squeeze-excite
  (GlobalAveragePool, 1x1 convs, ReLU, HardSigmoid, Mul), project 1x1, residual.
- `convnext_block`: depthwise 7x7 conv, channels-last (Transpose) LayerNormalization, the
  inverted MLP with GELU (Erf form), layer scale, back to NCHW, residual.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

import numpy as np
import onnx
from onnx import TensorProto

from accelflow.models import GraphBuilder

__all__ = [
    "TRANSFORMER_MODELS",
    "bert_base",
    "convnext_block",
    "encoder",
    "gpt",
    "main",
    "mobilenetv3_block",
    "vit",
    "vit_b16",
]


class _Builder(GraphBuilder):
    """GraphBuilder with the transformer pieces."""

    def const(self, scope: str, array: np.ndarray) -> str:
        return self.constant_node(scope, np.asarray(array))

    def linear(self, x: str, scope: str, param: str, in_f: int, out_f: int) -> str:
        """`nn.Linear` on a [.., in_f] tensor as the exporter writes it: MatMul + Add."""
        w = self.weight(f"{param}.weight_t", (in_f, out_f), fan_in=in_f)
        b = self.bias(f"{param}.bias", out_f)
        y = self.node("MatMul", [x, w], f"{scope}/MatMul")
        return self.node("Add", [y, b], f"{scope}/Add")

    def layer_norm(self, x: str, scope: str, param: str, width: int) -> str:
        scale = self.constant(
            f"{param}.weight", self.rng.uniform(0.8, 1.2, width).astype(np.float32)
        )
        bias = self.bias(f"{param}.bias", width)
        return self.node(
            "LayerNormalization", [x, scale, bias], f"{scope}/LayerNormalization", axis=-1,
            epsilon=1e-5,
        )  # fmt: skip

    def gelu(self, x: str, scope: str) -> str:
        """GELU as the legacy exporter writes it: x * 0.5 * (1 + erf(x / sqrt(2)))."""
        d = self.node("Div", [x, self.const(f"{scope}/Constant", np.float32(math.sqrt(2)))],
                      f"{scope}/Div")  # fmt: skip
        e = self.node("Erf", [d], f"{scope}/Erf")
        a = self.node("Add", [e, self.const(f"{scope}/Constant_1", np.float32(1))], f"{scope}/Add")
        m = self.node("Mul", [x, a], f"{scope}/Mul")
        return self.node("Mul", [m, self.const(f"{scope}/Constant_2", np.float32(0.5))],
                         f"{scope}/Mul_1")  # fmt: skip

    def attention(
        self,
        x: str,
        scope: str,
        param: str,
        batch: int,
        seq: int,
        width: int,
        heads: int,
        mask: str | None = None,
    ) -> str:
        """Multi-head self-attention on x [batch, seq, width] (optionally a bool mask [seq,
        seq]: where False, the score is -inf)."""
        hd = width // heads
        split = self.const(f"{scope}/Constant", np.array([batch, seq, heads, hd], np.int64))
        qkv = []
        for name, perm in (("q", [0, 2, 1, 3]), ("k", [0, 2, 3, 1]), ("v", [0, 2, 1, 3])):
            p = self.linear(x, f"{scope}/{name}_proj", f"{param}.{name}_proj", width, width)
            r = self.node("Reshape", [p, split], f"{scope}/Reshape_{name}")
            qkv.append(self.node("Transpose", [r], f"{scope}/Transpose_{name}", perm=perm))
        q, k, v = qkv
        scores = self.node("MatMul", [q, k], f"{scope}/MatMul")
        scale = self.const(f"{scope}/Constant_1", np.float32(1 / math.sqrt(hd)))
        scores = self.node("Mul", [scores, scale], f"{scope}/Mul")
        if mask is not None:
            ninf = self.const(f"{scope}/Constant_2", np.float32(-np.inf))
            scores = self.node("Where", [mask, scores, ninf], f"{scope}/Where")
        probs = self.node("Softmax", [scores], f"{scope}/Softmax", axis=-1)
        out = self.node("MatMul", [probs, v], f"{scope}/MatMul_1")
        out = self.node("Transpose", [out], f"{scope}/Transpose", perm=[0, 2, 1, 3])
        merge = self.const(f"{scope}/Constant_3", np.array([batch, seq, width], np.int64))
        out = self.node("Reshape", [out, merge], f"{scope}/Reshape")
        return self.linear(out, f"{scope}/out_proj", f"{param}.out_proj", width, width)

    def block(
        self,
        x: str,
        scope: str,
        param: str,
        shape: tuple[int, int, int],
        heads: int,
        ff: int,
        *,
        norm_first: bool,
        activation: str,
        mask: str | None = None,
    ) -> str:
        """One `nn.TransformerEncoderLayer` (post-norm, or pre-norm with `norm_first`)."""
        batch, seq, width = shape

        def feed_forward(h: str) -> str:
            h = self.linear(h, f"{scope}/linear1", f"{param}.linear1", width, ff)
            h = self.gelu(h, f"{scope}/gelu") if activation == "gelu" else self.relu(
                h, f"{scope}/relu")  # fmt: skip
            return self.linear(h, f"{scope}/linear2", f"{param}.linear2", ff, width)

        def attend(h: str) -> str:
            return self.attention(
                h, f"{scope}/self_attn", f"{param}.self_attn", batch, seq, width, heads, mask
            )

        if norm_first:
            h = self.layer_norm(x, f"{scope}/norm1", f"{param}.norm1", width)
            x = self.node("Add", [x, attend(h)], f"{scope}/Add")
            h = self.layer_norm(x, f"{scope}/norm2", f"{param}.norm2", width)
            return self.node("Add", [x, feed_forward(h)], f"{scope}/Add_1")
        x = self.node("Add", [x, attend(x)], f"{scope}/Add")
        x = self.layer_norm(x, f"{scope}/norm1", f"{param}.norm1", width)
        x = self.node("Add", [x, feed_forward(x)], f"{scope}/Add_1")
        return self.layer_norm(x, f"{scope}/norm2", f"{param}.norm2", width)


def encoder(
    batch: int = 1,
    seq: int = 8,
    width: int = 32,
    heads: int = 4,
    ff: int = 64,
    layers: int = 2,
    norm_first: bool = False,
    activation: str = "relu",
    seed: int = 0,
) -> onnx.ModelProto:
    """`nn.TransformerEncoder` of `layers` layers on input [batch, seq, width]."""
    g = _Builder("encoder_prenorm" if norm_first else "encoder", seed)
    x = "input"
    for i in range(layers):
        x = g.block(
            x, f"/layers.{i}", f"layers.{i}", (batch, seq, width), heads, ff,
            norm_first=norm_first, activation=activation,
        )  # fmt: skip
    if norm_first:
        x = g.layer_norm(x, "/norm", "norm", width)
    return g.model("input", (batch, seq, width), x, (batch, seq, width))


def bert_base(batch: int = 1, seq: int = 128, seed: int = 0) -> onnx.ModelProto:
    """A BERT-base-sized encoder: 12 post-norm layers, 768 wide, 12 heads, 3072 GELU FF."""
    return encoder(batch, seq, 768, 12, 3072, 12, norm_first=False, activation="gelu", seed=seed)


def gpt(
    batch: int = 1,
    seq: int = 8,
    vocab: int = 50,
    width: int = 32,
    heads: int = 4,
    layers: int = 2,
    seed: int = 0,
) -> onnx.ModelProto:
    """A GPT-style causal decoder on int64 token ids [batch, seq] -> logits [batch, seq, vocab]."""
    g = _Builder("gpt", seed)
    wte = g.weight("wte.weight", (vocab, width), fan_in=width)
    wpe = g.weight("wpe.weight", (seq, width), fan_in=width)
    tok = g.node("Gather", [wte, "input"], "/wte/Gather", axis=0)
    positions = g.const("/Constant", np.arange(seq, dtype=np.int64)[None, :])
    pos = g.node("Gather", [wpe, positions], "/wpe/Gather", axis=0)
    x = g.node("Add", [tok, pos], "/Add")
    ones = g.const("/Constant_1", np.ones((seq, seq), np.float32))
    lower = g.node("Trilu", [ones], "/Trilu", upper=0)
    mask = g.node("Cast", [lower], "/Cast", to=TensorProto.BOOL)
    for i in range(layers):
        x = g.block(
            x, f"/h.{i}", f"h.{i}", (batch, seq, width), heads, 4 * width,
            norm_first=True, activation="gelu", mask=mask,
        )  # fmt: skip
    x = g.layer_norm(x, "/ln_f", "ln_f", width)
    head = g.weight("lm_head.weight_t", (width, vocab), fan_in=width)
    logits = g.node("MatMul", [x, head], "/lm_head/MatMul")
    return g.model("input", (batch, seq), logits, (batch, seq, vocab), TensorProto.INT64)


def vit(
    batch: int = 1,
    image: int = 32,
    patch: int = 8,
    width: int = 32,
    heads: int = 4,
    layers: int = 2,
    ff: int = 64,
    classes: int = 10,
    seed: int = 0,
) -> onnx.ModelProto:
    """A ViT on [batch, 3, image, image]: patch embedding, class token, pre-norm blocks."""
    g = _Builder("vit", seed)
    tokens = (image // patch) ** 2
    x = g.conv("input", "/conv_proj", "conv_proj", 3, width, patch, stride=patch)
    x = g.node("Reshape", [x, g.const("/Constant", np.array([batch, width, tokens], np.int64))],
               "/Reshape")  # fmt: skip
    x = g.node("Transpose", [x], "/Transpose", perm=[0, 2, 1])
    cls = g.constant("class_token", g.rng.standard_normal((1, 1, width)).astype(np.float32))
    cls = g.node("Expand", [cls, g.const("/Constant_1", np.array([batch, 1, width], np.int64))],
                 "/Expand")  # fmt: skip
    x = g.node("Concat", [cls, x], "/Concat", axis=1)
    pos = g.constant(
        "encoder.pos_embedding",
        (0.02 * g.rng.standard_normal((1, tokens + 1, width))).astype(np.float32),
    )
    x = g.node("Add", [x, pos], "/encoder/Add")
    for i in range(layers):
        x = g.block(
            x, f"/encoder/layers/encoder_layer_{i}", f"encoder.layers.encoder_layer_{i}",
            (batch, tokens + 1, width), heads, ff, norm_first=True, activation="gelu",
        )  # fmt: skip
    x = g.layer_norm(x, "/encoder/ln", "encoder.ln", width)
    x = g.node("Gather", [x, g.const("/Constant_2", np.array(0, np.int64))], "/Gather", axis=1)
    x = g.gemm(x, "/heads/head", "heads.head", width, classes)
    return g.model("input", (batch, 3, image, image), x, (batch, classes))


def vit_b16(batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """ViT-B/16 at 224x224: 12 layers, 768 wide, 12 heads, 3072 feed-forward, 1000 classes."""
    return vit(batch, 224, 16, 768, 12, 12, 3072, 1000, seed)


def mobilenetv3_block(
    batch: int = 1, channels: int = 16, expand: int = 64, size: int = 16, seed: int = 0
) -> onnx.ModelProto:
    """A MobileNetV3 inverted residual with HardSwish and squeeze-excite."""
    g = _Builder("mobilenetv3_block", seed)
    x = g.conv("input", "/block/0", "block.0", channels, expand, 1)
    x = g.node("HardSwish", [x], "/block/0/HardSwish")
    x = g.conv(x, "/block/1", "block.1", expand, expand, 3, pads=1, group=expand)
    x = g.node("HardSwish", [x], "/block/1/HardSwish")
    s = g.node("GlobalAveragePool", [x], "/block/2/avgpool/GlobalAveragePool")
    s = g.conv(s, "/block/2/fc1", "block.2.fc1", expand, expand // 4, 1)
    s = g.relu(s, "/block/2")
    s = g.conv(s, "/block/2/fc2", "block.2.fc2", expand // 4, expand, 1)
    s = g.node("HardSigmoid", [s], "/block/2/HardSigmoid", alpha=1 / 6, beta=0.5)
    x = g.node("Mul", [s, x], "/block/2/Mul")
    x = g.conv(x, "/block/3", "block.3", expand, channels, 1)
    y = g.node("Add", [x, "input"], "/Add")
    shape = (batch, channels, size, size)
    return g.model("input", shape, y, shape)


def convnext_block(
    batch: int = 1, channels: int = 32, size: int = 14, seed: int = 0
) -> onnx.ModelProto:
    """A ConvNeXt block: depthwise 7x7, channels-last LayerNorm, inverted MLP, layer scale."""
    g = _Builder("convnext_block", seed)
    x = g.conv("input", "/dwconv", "dwconv", channels, channels, 7, pads=3, group=channels)
    x = g.node("Transpose", [x], "/Transpose", perm=[0, 2, 3, 1])
    x = g.layer_norm(x, "/norm", "norm", channels)
    x = g.linear(x, "/pwconv1", "pwconv1", channels, 4 * channels)
    x = g.gelu(x, "/act")
    x = g.linear(x, "/pwconv2", "pwconv2", 4 * channels, channels)
    gamma = g.constant("gamma", np.full(channels, 0.5, np.float32))
    x = g.node("Mul", [x, gamma], "/Mul")
    x = g.node("Transpose", [x], "/Transpose_1", perm=[0, 3, 1, 2])
    y = g.node("Add", ["input", x], "/Add")
    shape = (batch, channels, size, size)
    return g.model("input", shape, y, shape)


TRANSFORMER_MODELS: dict[str, Callable[..., onnx.ModelProto]] = {
    "encoder": encoder,
    "encoder-prenorm": lambda **kw: encoder(norm_first=True, activation="gelu", **kw),
    "bert-base": bert_base,
    "gpt": gpt,
    "vit": vit,
    "vit-b16": vit_b16,
    "mobilenetv3-block": mobilenetv3_block,
    "convnext-block": convnext_block,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(TRANSFORMER_MODELS))
    parser.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    args = parser.parse_args(argv)
    onnx.save(TRANSFORMER_MODELS[args.model](), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
