"""Reference CNNs built in code as ONNX models (random weights, fixed seed).

MobileNet V1, MobileNet V2, ResNet-18 and ResNet-50 with the layer shapes of the published
architectures, written as exporters write them (Conv -> BatchNormalization -> Relu or
Clip(0, 6), residual Add, GlobalAveragePool -> Flatten -> Gemm), and a QuickNet-like
binary network. Used by ``pocketnn demo``, the tests and the benchmarks; nothing is
downloaded.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class _Builder:
    """Accumulates nodes and initializers with unique names."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}_{self._count}"

    def constant(self, prefix: str, value: np.ndarray) -> str:
        name = self._name(prefix)
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def node(self, op: str, inputs: list[str], **attrs: object) -> str:
        out = self._name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv_bn(self, x: str, c_in: int, c_out: int, kernel: int, stride: int = 1,
                group: int = 1, act: str | None = "relu") -> str:
        fan_in = c_in // group * kernel * kernel
        w = self.rng.normal(0.0, np.sqrt(2.0 / fan_in), (c_out, c_in // group, kernel, kernel))
        pad = kernel // 2
        y = self.node("Conv", [x, self.constant("w", w.astype(np.float32))],
                      kernel_shape=[kernel, kernel], strides=[stride, stride],
                      pads=[pad, pad, pad, pad], group=group)
        scale = self.rng.uniform(0.5, 1.5, c_out).astype(np.float32)
        bias = self.rng.normal(0.0, 0.1, c_out).astype(np.float32)
        mean = self.rng.normal(0.0, 0.1, c_out).astype(np.float32)
        var = self.rng.uniform(0.5, 1.5, c_out).astype(np.float32)
        y = self.node("BatchNormalization", [y] + [self.constant(n, v) for n, v in
                      (("bn_scale", scale), ("bn_bias", bias), ("bn_mean", mean), ("bn_var", var))],
                      epsilon=1e-5)
        if act == "relu":
            y = self.node("Relu", [y])
        elif act == "relu6":
            y = self.node("Clip", [y, self.constant("min", np.array(0.0, np.float32)),
                                   self.constant("max", np.array(6.0, np.float32))])
        return y

    def classifier(self, x: str, c_in: int, classes: int) -> str:
        y = self.node("GlobalAveragePool", [x])
        y = self.node("Flatten", [y], axis=1)
        w = self.rng.normal(0.0, np.sqrt(1.0 / c_in), (classes, c_in)).astype(np.float32)
        b = self.rng.normal(0.0, 0.01, classes).astype(np.float32)
        return self.node("Gemm", [y, self.constant("fc_w", w), self.constant("fc_b", b)], transB=1)

    def model(self, name: str, x: str, y: str, input_shape: tuple[int, ...], classes: int) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(x, TensorProto.FLOAT, list(input_shape))],
            [helper.make_tensor_value_info(y, TensorProto.FLOAT, [input_shape[0], classes])],
            self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                  producer_name="pocketnn.reference_models")
        model.ir_version = 8
        onnx.checker.check_model(model)
        return model


def mobilenet_v1(resolution: int = 224, width: float = 1.0, classes: int = 1000,
                 seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)

    def ch(c: int) -> int:
        return max(8, int(c * width))

    y = b.conv_bn("input", 3, ch(32), 3, stride=2)
    c = ch(32)
    plan = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]
    for c_out, stride in plan:
        y = b.conv_bn(y, c, c, 3, stride=stride, group=c)
        y = b.conv_bn(y, c, ch(c_out), 1)
        c = ch(c_out)
    out = b.classifier(y, c, classes)
    return b.model("mobilenet_v1", "input", out, (1, 3, resolution, resolution), classes)


def mobilenet_v2(resolution: int = 224, width: float = 1.0, classes: int = 1000,
                 seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)

    def ch(c: float) -> int:
        return max(8, int(c * width + 4) // 8 * 8)

    y = b.conv_bn("input", 3, ch(32), 3, stride=2, act="relu6")
    c = ch(32)
    # (expansion t, channels c, repeats n, first stride s), as in the paper's table 2.
    for t, c_out, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                           (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = c * t
            x = y
            if t != 1:
                y = b.conv_bn(y, c, hidden, 1, act="relu6")
            y = b.conv_bn(y, hidden, hidden, 3, stride=stride, group=hidden, act="relu6")
            y = b.conv_bn(y, hidden, ch(c_out), 1, act=None)
            if stride == 1 and c == ch(c_out):
                y = b.node("Add", [x, y])
            c = ch(c_out)
    y = b.conv_bn(y, c, 1280, 1, act="relu6")
    out = b.classifier(y, 1280, classes)
    return b.model("mobilenet_v2", "input", out, (1, 3, resolution, resolution), classes)


def _channels(width: float) -> Callable[[int], int]:
    return lambda c: max(8, int(c * width))


def _resnet_stem(b: _Builder, channels: int) -> str:
    """7x7 stride-2 conv, 3x3 stride-2 max pool."""
    y = b.conv_bn("input", 3, channels, 7, stride=2)
    return b.node("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])


def resnet18(resolution: int = 224, width: float = 1.0, classes: int = 1000,
             seed: int = 0) -> onnx.ModelProto:
    b = _Builder(seed)
    ch = _channels(width)
    y, c = _resnet_stem(b, ch(64)), ch(64)
    for c_out, stride in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
        x = y
        y = b.conv_bn(y, c, ch(c_out), 3, stride=stride)
        y = b.conv_bn(y, ch(c_out), ch(c_out), 3, act=None)
        if stride != 1 or c != ch(c_out):
            x = b.conv_bn(x, c, ch(c_out), 1, stride=stride, act=None)
        y = b.node("Relu", [b.node("Add", [x, y])])
        c = ch(c_out)
    out = b.classifier(y, c, classes)
    return b.model("resnet18", "input", out, (1, 3, resolution, resolution), classes)


def resnet50(resolution: int = 224, width: float = 1.0, classes: int = 1000,
             seed: int = 0) -> onnx.ModelProto:
    """ResNet-50 v1.5 (the stride on the 3x3 conv of each bottleneck); not in MODELS, which
    the test suite runs through: bench/bench_convert_speed.py uses it."""
    b = _Builder(seed)
    ch = _channels(width)
    y, c = _resnet_stem(b, ch(64)), ch(64)
    for mid, blocks, first_stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for index in range(blocks):
            stride = first_stride if index == 0 else 1
            x = y
            y = b.conv_bn(y, c, ch(mid), 1)
            y = b.conv_bn(y, ch(mid), ch(mid), 3, stride=stride)
            y = b.conv_bn(y, ch(mid), ch(4 * mid), 1, act=None)
            if stride != 1 or c != ch(4 * mid):
                x = b.conv_bn(x, c, ch(4 * mid), 1, stride=stride, act=None)
            y = b.node("Relu", [b.node("Add", [x, y])])
            c = ch(4 * mid)
    out = b.classifier(y, c, classes)
    return b.model("resnet50", "input", out, (1, 3, resolution, resolution), classes)


QUICKNET_WIDTHS = (64, 128, 256, 512)


def _binary_block(b: _Builder, x: str, channels: int) -> str:
    """y = x + bconv3x3(sign(x)): the zero-positive sign as older Larq quantizers export
    it (Where(x < 0, -1, 1)), weights +-a_c per output channel with BN folded into a bias."""
    less = b.node("Less", [x, b.constant("zero", np.array(0.0, np.float32))])
    sign = b.node("Where", [less, b.constant("neg", np.array(-1.0, np.float32)),
                            b.constant("pos", np.array(1.0, np.float32))])
    scale = b.rng.uniform(0.5, 1.5, channels) / np.sqrt(channels * 9)
    w = b.rng.choice(np.array([-1.0, 1.0]), (channels, channels, 3, 3)) * scale[:, None, None, None]
    y = b.node("Conv", [sign, b.constant("bw", w.astype(np.float32)),
                        b.constant("bb", b.rng.normal(0.0, 0.1, channels).astype(np.float32))],
               kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    return b.node("Add", [x, y])


def quicknet_like(resolution: int = 224, classes: int = 1000, blocks: int = 4, seed: int = 0) -> onnx.ModelProto:
    """A binary network shaped as larq_zoo's QuickNet (Bannink et al. 2021): a float stem
    (3x3 stride-2 conv 3->32, depthwise 3x3 stride 2, 1x1 conv 32->64), four sections of
    64, 128, 256, 512 channels with `blocks` binary residual blocks each, float
    transitions (2x2 max pool, 1x1 conv), a float head (ReLU, global average pool, Gemm)."""
    b = _Builder(seed)
    x = b.conv_bn("input", 3, 32, 3, stride=2)
    x = b.conv_bn(x, 32, 32, 3, stride=2, group=32)
    x = b.conv_bn(x, 32, QUICKNET_WIDTHS[0], 1, act=None)
    for section, width in enumerate(QUICKNET_WIDTHS):
        if section:
            x = b.node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
            x = b.conv_bn(x, QUICKNET_WIDTHS[section - 1], width, 1, act=None)
        for _ in range(blocks):
            x = _binary_block(b, x, width)
    out = b.classifier(b.node("Relu", [x]), QUICKNET_WIDTHS[-1], classes)
    return b.model("quicknet_like", "input", out, (1, 3, resolution, resolution), classes)


MODELS: dict[str, Callable[..., onnx.ModelProto]] = {
    "mobilenet_v1": mobilenet_v1,
    "mobilenet_v2": mobilenet_v2,
    "resnet18": resnet18,
}


def sparse_int8(model: onnx.ModelProto, sparsity: float = 0.8, samples: int = 8, seed: int = 0) -> bytes:
    """`model` pruned to `sparsity` and quantized to int8 (.pnn bytes), calibrated on
    random normal samples of its input: a whole model on the integer and sparse integer
    kernels, for the cross-target checks, which compare outputs, not accuracy."""
    from pocketnn.conversion import convert

    value_info = model.graph.input[0]
    shape = [d.dim_value for d in value_info.type.tensor_type.shape.dim]
    calib = np.random.default_rng(seed).standard_normal((samples, *shape[1:])).astype(np.float32)
    # A fixed G (not "auto", which times kernels) keeps the file the same on every run.
    return convert(model, sparsity=sparsity, sparsity_pattern=4, quantize="int8", calib={value_info.name: calib},
                   calib_method="minmax")
