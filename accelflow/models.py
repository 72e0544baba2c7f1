"""Small example models, built as ONNX graphs that look like PyTorch's exporter wrote them.

Every builder returns an `onnx.ModelProto` (opset 17, IR version 8, float32 weights drawn from
`numpy.random.default_rng(seed)`) that passes `onnx.checker.check_model`. Node names follow the
exporter (`/layer1/layer1.0/conv1/Conv`), weights are named like the module's parameters
(`layer1.0.conv1.weight`), the graph input is `input` and the output `output`.

    python -m accelflow.models lenet -o examples/lenet.onnx
    python -m accelflow.models resnet18 -o resnet18.onnx --batch 4
    python -m accelflow.models alexnet -o alexnet.onnx

    from accelflow.models import MODELS, lenet
    onnx.save(lenet(), "lenet.onnx")

They live in the installed package (tests, bench/ and the README use them); `examples/` is a
folder of files (a model, target files, a plugin), not a package.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8

__all__ = [
    "MODELS",
    "GraphBuilder",
    "alexnet",
    "concat_branches",
    "depthwise_pointwise",
    "lenet",
    "main",
    "mlp",
    "resnet18",
    "resnet_block",
]


class GraphBuilder:
    """Collects nodes and initializers; names outputs as the exporter does (`<node>_output_0`).
    Public: accelflow/transformer_models.py builds on it."""

    def __init__(self, name: str, seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    # -- weights -----------------------------------------------------------------------

    def constant(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(self, name: str, shape: Sequence[int], fan_in: int | None = None) -> str:
        """He-initialised float32 weight."""
        fan_in = fan_in or int(np.prod(shape[1:]))
        std = np.float32(np.sqrt(2.0 / fan_in))
        return self.constant(name, self.rng.standard_normal(shape, dtype=np.float32) * std)

    def bias(self, name: str, size: int) -> str:
        return self.constant(name, self.rng.uniform(-0.1, 0.1, size).astype(np.float32))

    # -- nodes -------------------------------------------------------------------------

    def node(self, op_type: str, inputs: Sequence[str], name: str, **attrs: Any) -> str:
        output = f"{name}_output_0"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], name=name, **attrs))
        return output

    def constant_node(self, name: str, array: np.ndarray) -> str:
        """A `Constant` node, as the exporter writes for Clip bounds and shape arithmetic."""
        tensor = numpy_helper.from_array(np.asarray(array), f"{name}_value")
        return self.node("Constant", [], name, value=tensor)

    def conv(
        self,
        x: str,
        scope: str,
        param: str,
        in_ch: int,
        out_ch: int,
        kernel: int,
        *,
        stride: int = 1,
        pads: Sequence[int] | int = 0,
        group: int = 1,
        dilation: int = 1,
        bias: bool = True,
    ) -> str:
        w = self.weight(f"{param}.weight", (out_ch, in_ch // group, kernel, kernel))
        inputs = [x, w] + ([self.bias(f"{param}.bias", out_ch)] if bias else [])
        pads = [pads] * 4 if isinstance(pads, int) else list(pads)
        return self.node(
            "Conv",
            inputs,
            f"{scope}/Conv",
            dilations=[dilation, dilation],
            group=group,
            kernel_shape=[kernel, kernel],
            pads=pads,
            strides=[stride, stride],
        )

    def batch_norm(self, x: str, scope: str, param: str, channels: int) -> str:
        rng = self.rng
        scale = self.constant(f"{param}.weight", rng.uniform(0.5, 1.5, channels).astype(np.float32))
        bias = self.constant(f"{param}.bias", rng.uniform(-0.2, 0.2, channels).astype(np.float32))
        mean = self.constant(
            f"{param}.running_mean", rng.uniform(-0.3, 0.3, channels).astype(np.float32)
        )
        var = self.constant(
            f"{param}.running_var", rng.uniform(0.5, 2.0, channels).astype(np.float32)
        )
        return self.node(
            "BatchNormalization",
            [x, scale, bias, mean, var],
            f"{scope}/BatchNormalization",
            epsilon=1e-5,
            momentum=0.9,
        )

    def gemm(self, x: str, scope: str, param: str, in_f: int, out_f: int, **attrs: Any) -> str:
        """A `torch.nn.Linear` as exported: Gemm with transB=1 (weight [out, in])."""
        w = self.weight(f"{param}.weight", (out_f, in_f))
        b = self.bias(f"{param}.bias", out_f)
        attrs = {"alpha": 1.0, "beta": 1.0, "transB": 1, **attrs}
        return self.node("Gemm", [x, w, b], f"{scope}/Gemm", **attrs)

    def relu(self, x: str, scope: str) -> str:
        return self.node("Relu", [x], f"{scope}/Relu")

    def max_pool(self, x: str, scope: str, kernel: int, stride: int, pads: int = 0) -> str:
        return self.node(
            "MaxPool",
            [x],
            f"{scope}/MaxPool",
            ceil_mode=0,
            dilations=[1, 1],
            kernel_shape=[kernel, kernel],
            pads=[pads] * 4,
            strides=[stride, stride],
        )

    def flatten(self, x: str, scope: str = "") -> str:
        return self.node("Flatten", [x], f"{scope}/Flatten", axis=1)

    def clip(self, x: str, scope: str, low: float, high: float) -> str:
        lo = self.constant_node(f"{scope}/Constant", np.array(low, dtype=np.float32))
        hi = self.constant_node(f"{scope}/Constant_1", np.array(high, dtype=np.float32))
        return self.node("Clip", [x, lo, hi], f"{scope}/Clip")

    # -- model -------------------------------------------------------------------------

    def model(
        self,
        x: str,
        input_shape: Sequence[int],
        y: str,
        output_shape: Sequence[int],
        input_type: int = TensorProto.FLOAT,
        more_inputs: Sequence[tuple[str, Sequence[int]]] = (),
    ) -> onnx.ModelProto:
        """Rename the last node's output to `output` and wrap the graph in a checked model
        (`input_type`: the graph input's element type, e.g. INT64 token ids; `more_inputs`:
        further float32 graph inputs, (name, shape))."""
        last = self.nodes[-1]
        assert last.output[0] == y
        last.output[0] = "output"
        graph = helper.make_graph(
            self.nodes,
            self.name,
            [helper.make_tensor_value_info(x, input_type, list(input_shape))]
            + [
                helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))
                for name, shape in more_inputs
            ],
            [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(output_shape))],
            initializer=self.initializers,
        )
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="accelflow.examples",
            producer_version="0.1",
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


def lenet(batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """LeNet-5 on 1x28x28 digits: two conv/relu/maxpool stages and three Linear layers."""
    g = GraphBuilder("lenet", seed)
    x = g.conv("input", "/conv1", "conv1", 1, 6, 5, pads=2)
    x = g.max_pool(g.relu(x, "/relu1"), "/pool1", 2, 2)
    x = g.conv(x, "/conv2", "conv2", 6, 16, 5)
    x = g.max_pool(g.relu(x, "/relu2"), "/pool2", 2, 2)
    x = g.flatten(x)
    x = g.relu(g.gemm(x, "/fc1", "fc1", 16 * 5 * 5, 120), "/relu3")
    x = g.relu(g.gemm(x, "/fc2", "fc2", 120, 84), "/relu4")
    y = g.gemm(x, "/fc3", "fc3", 84, 10)
    return g.model("input", (batch, 1, 28, 28), y, (batch, 10))


def mlp(batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """64 -> Gemm 128 + Relu -> MatMul + Add + Clip(0, 6) -> Gemm 10 (alpha 0.5, beta 2) -> Sigmoid."""
    g = GraphBuilder("mlp", seed)
    x = g.relu(g.gemm("input", "/fc1", "fc1", 64, 128), "/act1")
    w2 = g.weight("fc2.weight", (128, 64), fan_in=128)  # stored [in, out]: exported as MatMul
    b2 = g.bias("fc2.bias", 64)
    x = g.node("MatMul", [x, w2], "/fc2/MatMul")
    x = g.node("Add", [b2, x], "/fc2/Add")
    x = g.clip(x, "/act2", 0.0, 6.0)
    w3 = g.weight("fc3.weight", (64, 10), fan_in=64)
    b3 = g.bias("fc3.bias", 10)
    x = g.node("Gemm", [x, w3, b3], "/fc3/Gemm", alpha=0.5, beta=2.0, transB=0)
    y = g.node("Sigmoid", [x], "/out/Sigmoid")
    return g.model("input", (batch, 64), y, (batch, 10))


def _basic_block(
    g: GraphBuilder, x: str, scope: str, param: str, in_ch: int, out_ch: int, stride: int
) -> str:
    """torchvision's BasicBlock: conv-bn-relu-conv-bn (+ 1x1 downsample) + add + relu."""
    y = g.conv(
        x, f"{scope}/conv1", f"{param}.conv1", in_ch, out_ch, 3, stride=stride, pads=1, bias=False
    )
    y = g.batch_norm(y, f"{scope}/bn1", f"{param}.bn1", out_ch)
    y = g.relu(y, f"{scope}/relu")
    y = g.conv(y, f"{scope}/conv2", f"{param}.conv2", out_ch, out_ch, 3, pads=1, bias=False)
    y = g.batch_norm(y, f"{scope}/bn2", f"{param}.bn2", out_ch)
    identity = x
    if stride != 1 or in_ch != out_ch:
        identity = g.conv(
            x,
            f"{scope}/downsample/downsample.0",
            f"{param}.downsample.0",
            in_ch,
            out_ch,
            1,
            stride=stride,
            bias=False,
        )
        identity = g.batch_norm(
            identity, f"{scope}/downsample/downsample.1", f"{param}.downsample.1", out_ch
        )
    y = g.node("Add", [y, identity], f"{scope}/Add")
    return g.relu(y, f"{scope}/relu_1")


def resnet_block(
    batch: int = 1, seed: int = 0, channels: int = 16, size: int = 16
) -> onnx.ModelProto:
    """One residual block (conv-bn-relu-conv-bn + identity), a strided conv, pool and a classifier."""
    g = GraphBuilder("resnet_block", seed)
    x = _basic_block(g, "input", "/block", "block", channels, channels, 1)
    x = g.conv(x, "/down", "down", channels, 2 * channels, 3, stride=2, pads=1)
    x = g.node("GlobalAveragePool", [x], "/pool/GlobalAveragePool")
    x = g.flatten(x)
    y = g.gemm(x, "/fc", "fc", 2 * channels, 10)
    return g.model("input", (batch, channels, size, size), y, (batch, 10))


def depthwise_pointwise(batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """MobileNet-style: depthwise 3x3 conv + ReLU6, pointwise 1x1 conv to 16, 2x2 average pool."""
    g = GraphBuilder("depthwise_pointwise", seed)
    x = g.conv("input", "/dw", "dw", 8, 8, 3, pads=1, group=8)
    x = g.clip(x, "/dw_act", 0.0, 6.0)
    x = g.conv(x, "/pw", "pw", 8, 16, 1)
    y = g.node(
        "AveragePool",
        [x],
        "/pool/AveragePool",
        ceil_mode=0,
        count_include_pad=0,
        kernel_shape=[2, 2],
        pads=[0, 0, 0, 0],
        strides=[2, 2],
    )
    return g.model("input", (batch, 8, 16, 16), y, (batch, 16, 8, 8))


def concat_branches(batch: int = 1, seed: int = 0) -> onnx.ModelProto:
    """Two branches concatenated, an asymmetric-pad strided conv, and `x.view(x.size(0), -1)`.

    The view exports as Shape -> Gather -> Unsqueeze -> Concat -> Reshape, which the importer folds.
    """
    g = GraphBuilder("concat_branches", seed)
    a = g.conv("input", "/branch_a", "branch_a", 4, 6, 1)
    b = g.conv("input", "/branch_b", "branch_b", 4, 5, 3, pads=1)
    x = g.node("Concat", [a, b], "/Concat", axis=1)
    x = g.relu(x, "/relu")
    x = g.conv(x, "/head", "head", 11, 8, 3, stride=2, pads=(0, 0, 1, 1))  # 12x12 -> 6x6
    flat = g.flatten(x)
    shape = g.node("Shape", [flat], "/Shape")
    index = g.constant_node("/Constant", np.array(0, dtype=np.int64))
    size0 = g.node("Gather", [shape, index], "/Gather", axis=0)
    axes = g.constant_node("/Constant_1", np.array([0], dtype=np.int64))
    size0 = g.node("Unsqueeze", [size0, axes], "/Unsqueeze")
    rest = g.constant_node("/Constant_2", np.array([-1], dtype=np.int64))
    new_shape = g.node("Concat", [size0, rest], "/Concat_1", axis=0)
    x = g.node("Reshape", [flat, new_shape], "/Reshape")
    y = g.gemm(x, "/fc", "fc", 8 * 6 * 6, 10)
    return g.model("input", (batch, 4, 12, 12), y, (batch, 10))


def gemm(batch: int = 16, k: int = 32, n: int = 8, seed: int = 0) -> onnx.ModelProto:
    """One MatMul layer, a batch of `batch` vectors: input [batch, k] @ initializer `w` [k, n]
    (the GEMM m x k x n with m = batch; the timing tests' workhorse)."""
    g = GraphBuilder("gemm", seed)
    w = g.weight("w", (k, n), fan_in=k)
    y = g.node("MatMul", ["input", w], "/gemm/MatMul")
    return g.model("input", (batch, k), y, (batch, n))


def resnet18(batch: int = 1, size: int = 224, seed: int = 0) -> onnx.ModelProto:
    """torchvision's ResNet-18 (BatchNormalization kept as nodes), random weights, 1000 classes."""
    g = GraphBuilder("resnet18", seed)
    x = g.conv("input", "/conv1", "conv1", 3, 64, 7, stride=2, pads=3, bias=False)
    x = g.relu(g.batch_norm(x, "/bn1", "bn1", 64), "/relu")
    x = g.max_pool(x, "/maxpool", 3, 2, pads=1)
    in_ch = 64
    for stage, out_ch in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            layer = f"layer{stage}"
            x = _basic_block(
                g, x, f"/{layer}/{layer}.{block}", f"{layer}.{block}", in_ch, out_ch, stride
            )
            in_ch = out_ch
    x = g.node("GlobalAveragePool", [x], "/avgpool/GlobalAveragePool")
    x = g.flatten(x)
    y = g.gemm(x, "/fc", "fc", 512, 1000)
    return g.model("input", (batch, 3, size, size), y, (batch, 1000))


def _alexnet_features_size(size: int) -> int:
    """Rows (= columns) of AlexNet's last feature map for a `size` x `size` input (0: none)."""
    # conv1 11x11/4 pad 2, pool 3/2, conv2 5x5 pad 2, pool 3/2, (conv3-5 keep the size), pool 3/2
    for kernel, stride, pad in ((11, 4, 2), (3, 2, 0), (5, 1, 2), (3, 2, 0), (3, 2, 0)):
        size = (size + 2 * pad - kernel) // stride + 1
        if size < 1:
            return 0
    return size


def alexnet(batch: int = 1, size: int = 224, seed: int = 0) -> onnx.ModelProto:
    """torchvision's AlexNet, random weights, 1000 classes, as PyTorch's exporter writes it in
    eval mode: conv1 3->64 11x11/4 pad 2, conv2 64->192 5x5 pad 2, conv3 192->384, conv4
    384->256, conv5 256->256 (3x3 pad 1), each followed by ReLU, max pools 3/2 after conv1,
    conv2 and conv5; then Linear 9216->4096, ReLU, 4096->4096, ReLU, 4096->1000 (the Dropout
    layers vanish in eval mode). `AdaptiveAvgPool2d((6, 6))` is exported as an AveragePool of
    kernel = stride = feature size / 6: kernel 1 at the usual 224 input, whose features are
    already 6x6 (the exporter's zero Pad before it is left out).

    The exporter writes the adaptive pool only when the last feature map is a multiple of 6
    (e.g. 224 gives 6x6, 416 gives 12x12): other sizes raise ValueError."""
    features = _alexnet_features_size(size)
    if features < 6 or features % 6:
        raise ValueError(
            f"alexnet: a {size}x{size} input gives {features}x{features} features, which "
            "AdaptiveAvgPool2d((6, 6)) exports only when a multiple of 6 (e.g. size 224)"
        )
    g = GraphBuilder("alexnet", seed)
    x = "input"
    # (in, out, kernel, stride, pad, followed by a max pool) of features.0, .3, .6, .8, .10
    convs = ((3, 64, 11, 4, 2, True), (64, 192, 5, 1, 2, True), (192, 384, 3, 1, 1, False),
             (384, 256, 3, 1, 1, False), (256, 256, 3, 1, 1, True))  # fmt: skip
    index = 0
    for in_ch, out_ch, kernel, stride, pad, pool in convs:
        scope = f"/features/features.{index}"
        x = g.conv(x, scope, f"features.{index}", in_ch, out_ch, kernel, stride=stride, pads=pad)
        x = g.relu(x, f"/features/features.{index + 1}")
        index += 2
        if pool:
            x = g.max_pool(x, f"/features/features.{index}", 3, 2)
            index += 1
    k = features // 6
    x = g.node(
        "AveragePool",
        [x],
        "/avgpool/AveragePool",
        ceil_mode=0,
        kernel_shape=[k, k],
        pads=[0, 0, 0, 0],
        strides=[k, k],
    )
    x = g.flatten(x)
    # classifier.0 and .3 are the Dropouts; .1, .4 and .6 the Linear layers.
    for index, in_f, out_f in ((1, 256 * 6 * 6, 4096), (4, 4096, 4096)):
        x = g.gemm(x, f"/classifier/classifier.{index}", f"classifier.{index}", in_f, out_f)
        x = g.relu(x, f"/classifier/classifier.{index + 1}")
    y = g.gemm(x, "/classifier/classifier.6", "classifier.6", 4096, 1000)
    return g.model("input", (batch, 3, size, size), y, (batch, 1000))


def _bottleneck(
    g: GraphBuilder, x: str, scope: str, param: str, in_ch: int, width: int, stride: int
) -> str:
    """torchvision's Bottleneck: 1x1 conv-bn-relu, 3x3 conv (stride)-bn-relu, 1x1 conv to 4 x
    width-bn (+ 1x1 downsample) + add + relu."""
    out_ch = 4 * width
    y = g.conv(x, f"{scope}/conv1", f"{param}.conv1", in_ch, width, 1, bias=False)
    y = g.relu(g.batch_norm(y, f"{scope}/bn1", f"{param}.bn1", width), f"{scope}/relu")
    y = g.conv(
        y, f"{scope}/conv2", f"{param}.conv2", width, width, 3, stride=stride, pads=1, bias=False
    )
    y = g.relu(g.batch_norm(y, f"{scope}/bn2", f"{param}.bn2", width), f"{scope}/relu_1")
    y = g.conv(y, f"{scope}/conv3", f"{param}.conv3", width, out_ch, 1, bias=False)
    y = g.batch_norm(y, f"{scope}/bn3", f"{param}.bn3", out_ch)
    identity = x
    if stride != 1 or in_ch != out_ch:
        identity = g.conv(
            x, f"{scope}/downsample/downsample.0", f"{param}.downsample.0", in_ch, out_ch, 1,
            stride=stride, bias=False,
        )  # fmt: skip
        identity = g.batch_norm(
            identity, f"{scope}/downsample/downsample.1", f"{param}.downsample.1", out_ch
        )
    y = g.node("Add", [y, identity], f"{scope}/Add")
    return g.relu(y, f"{scope}/relu_2")


def resnet50(batch: int = 1, size: int = 224, seed: int = 0) -> onnx.ModelProto:
    """torchvision's ResNet-50 (Bottleneck blocks 3-4-6-3), random weights, 1000 classes. Not in
    `MODELS` (its 98 MB of weights would slow the tests): bench/speed.py builds it."""
    g = GraphBuilder("resnet50", seed)
    x = g.conv("input", "/conv1", "conv1", 3, 64, 7, stride=2, pads=3, bias=False)
    x = g.relu(g.batch_norm(x, "/bn1", "bn1", 64), "/relu")
    x = g.max_pool(x, "/maxpool", 3, 2, pads=1)
    in_ch = 64
    for stage, (width, blocks) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3)), start=1):
        for block in range(blocks):
            stride = 2 if stage > 1 and block == 0 else 1
            layer = f"layer{stage}"
            x = _bottleneck(
                g, x, f"/{layer}/{layer}.{block}", f"{layer}.{block}", in_ch, width, stride
            )
            in_ch = 4 * width
    x = g.node("GlobalAveragePool", [x], "/avgpool/GlobalAveragePool")
    x = g.flatten(x)
    y = g.gemm(x, "/fc", "fc", 2048, 1000)
    return g.model("input", (batch, 3, size, size), y, (batch, 1000))


def vgg11(batch: int = 1, size: int = 224, seed: int = 0) -> onnx.ModelProto:
    """torchvision's VGG-11 (configuration A: 64, M, 128, M, 256, 256, M, 512, 512, M, 512,
    512, M; ReLU after each 3x3 conv), random weights, 1000 classes: 507 MB of weights, most in
    the 25088 x 4096 Linear. The input must give 7x7 features (`size` 224), where the
    exporter's AdaptiveAvgPool2d((7, 7)) is the identity and is left out. Not in `MODELS` (its
    weights would slow the tests): bench/speed.py builds it."""
    if size // 32 != 7 or size % 32:
        raise ValueError(f"vgg11: a {size}x{size} input does not give 7x7 features (use 224)")
    g = GraphBuilder("vgg11", seed)
    x, in_ch, index = "input", 3, 0
    for out_ch in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        scope = f"/features/features.{index}"
        if out_ch == "M":
            x = g.max_pool(x, scope, 2, 2)
            index += 1
            continue
        x = g.conv(x, scope, f"features.{index}", in_ch, int(out_ch), 3, pads=1)
        x = g.relu(x, f"/features/features.{index + 1}")
        in_ch, index = int(out_ch), index + 2
    x = g.flatten(x)
    x = g.relu(g.gemm(x, "/classifier/classifier.0", "classifier.0", 512 * 7 * 7, 4096),
               "/classifier/classifier.1")  # fmt: skip
    x = g.relu(g.gemm(x, "/classifier/classifier.3", "classifier.3", 4096, 4096),
               "/classifier/classifier.4")  # fmt: skip
    y = g.gemm(x, "/classifier/classifier.6", "classifier.6", 4096, 1000)
    return g.model("input", (batch, 3, size, size), y, (batch, 1000))


MODELS: dict[str, Callable[..., onnx.ModelProto]] = {
    "lenet": lenet,
    "mlp": mlp,
    "resnet_block": resnet_block,
    "depthwise_pointwise": depthwise_pointwise,
    "concat_branches": concat_branches,
    "resnet18": resnet18,
    "gemm": gemm,
    "alexnet": alexnet,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m accelflow.models", description="Write one of the example ONNX models."
    )
    parser.add_argument("name", choices=sorted(MODELS), help="which model")
    parser.add_argument("-o", "--output", required=True, type=Path, help="the .onnx file to write")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    args = parser.parse_args(argv)
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    model = MODELS[args.name](batch=args.batch, seed=args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(args.output))
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
