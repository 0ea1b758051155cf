"""A QuickNet-like binary network as canonical-form ONNX, random weights (the shape of
larq_zoo's QuickNet, Bannink et al. 2021, for timing only): 224x224x3 input; a float stem
(3x3 stride-2 conv 3->32 with ReLU, depthwise 3x3 stride 2, 1x1 conv 32->64); four
sections of 64, 128, 256, 512 channels with 4 residual blocks each (y = x + BN(bconv3x3(
sign(x))), a binary 3x3 conv whose weights are +-a_c, BN folded into its bias); between
sections a float transition (max pool 2x2 stride 2, then a 1x1 conv to the next width);
a float head (ReLU, global average pool, 1000-way Gemm)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTHS = (64, 128, 256, 512)
BLOCKS = 4


class _Builder:
    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}{self.count}"

    def const(self, value: np.ndarray, stem: str) -> str:
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, group: int = 1) -> str:
        fan_in = cin // group * k * k
        w = self.rng.normal(0, 1 / np.sqrt(fan_in), (cout, cin // group, k, k))
        b = self.rng.normal(0, 0.1, cout)
        return self.node("Conv", [x, self.const(w, "w"), self.const(b, "b")], kernel_shape=[k, k],
                         strides=[stride, stride], pads=[k // 2] * 4, group=group)

    def binary_block(self, x: str, channels: int) -> str:
        less = self.node("Less", [x, self.const(np.array(0.0), "zero")])
        sign = self.node("Where", [less, self.const(np.array(-1.0), "neg"), self.const(np.array(1.0), "pos")])
        scale = self.rng.uniform(0.5, 1.5, channels) / np.sqrt(channels * 9)
        w = self.rng.choice(np.array([-1.0, 1.0]), (channels, channels, 3, 3)) * scale[:, None, None, None]
        y = self.node("Conv", [sign, self.const(w, "bw"), self.const(self.rng.normal(0, 0.1, channels), "bb")],
                      kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        return self.node("Add", [x, y])


def quicknet_model(size: int = 224, classes: int = 1000) -> onnx.ModelProto:
    g = _Builder()
    x = g.node("Relu", [g.conv("x", 3, 32, 3, stride=2)])
    x = g.node("Relu", [g.conv(x, 32, 32, 3, stride=2, group=32)])
    x = g.conv(x, 32, WIDTHS[0], 1)
    for section, width in enumerate(WIDTHS):
        if section:
            x = g.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
            x = g.conv(x, WIDTHS[section - 1], width, 1)
        for _ in range(BLOCKS):
            x = g.binary_block(x, width)
    x = g.node("GlobalAveragePool", [g.node("Relu", [x])])
    x = g.node("Flatten", [x])
    w = g.const(g.rng.normal(0, 1 / np.sqrt(WIDTHS[-1]), (WIDTHS[-1], classes)), "fc")
    g.nodes.append(helper.make_node("Gemm", [x, w, g.const(np.zeros(classes), "fcb")], ["y"]))
    graph = helper.make_graph(g.nodes, "quicknet_like",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, classes])], g.inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
