"""ONNX window arithmetic shared by the compiler (conv lowering, tiling) and the host ops
(pooling): output sizes and the pads that `auto_pad=SAME_UPPER|SAME_LOWER` implies.
Plain Python, no JAX or xDSL."""

from __future__ import annotations

from collections.abc import Sequence


def window_extent(kernel: int, dilation: int = 1) -> int:
    """Input positions one (dilated) kernel window covers."""
    return (kernel - 1) * dilation + 1


def output_size(size: int, kernel: int, stride: int, pad_total: int, dilation: int = 1) -> int:
    """Output positions of a sliding window along one axis (floor mode, ONNX/PyTorch)."""
    return (size + pad_total - window_extent(kernel, dilation)) // stride + 1


def same_pads(
    sizes: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    upper: bool = True,
) -> tuple[list[int], list[int]]:
    """(begin, end) pads per axis for ONNX auto_pad SAME_UPPER (`upper`) or SAME_LOWER: the
    output is ceil(size / stride) and the odd pad goes at the end (UPPER) or begin (LOWER)."""
    begin, end = [], []
    for size, k, stride, dilation in zip(sizes, kernel, strides, dilations, strict=True):
        out = -(-size // stride)
        total = max(0, (out - 1) * stride + window_extent(k, dilation) - size)
        small, big = total // 2, total - total // 2
        begin.append(small if upper else big)
        end.append(big if upper else small)
    return begin, end
