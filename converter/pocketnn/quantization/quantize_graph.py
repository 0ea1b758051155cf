"""The static quantization pass: a lowered, passed float Graph (BatchNorm folded,
activations fused) -> the integer operators of docs/OPS.md (format 1.2).

Every op with an integer form becomes it: Conv -> QConv (a 1-D Conv over [N, C, 1, L]
between two u8 Reshapes) and Gemm / MatMul with constant
weights -> QGemm (when their fused activation is none, ReLU or Clip, a clamp of the u8
output), Add -> QAdd, GlobalAveragePool -> QGlobalAveragePool, MaxPool -> QMaxPool,
AveragePool -> QAveragePool (format 1.3),
Sigmoid / Tanh / HardSwish / HardSigmoid / Gelu -> QLookup. Reshape moves u8 when its input is
u8. Every other op stays float: DequantizeLinear before it, QuantizeLinear after where an
integer op reads its output. Graph inputs and outputs stay float.

Weights: symmetric per output channel, int8; with scheme "int4", 4-bit except the first
and the last weighted layers (the most sensitive ones), dtype S4 (int8 values in the
IR; the .pnn writer packs them two per byte). `layer_bits` sets the bits of each
weighted layer instead (quantization.mixed chooses them). An 8-bit layer whose float
weights are marked group-sparse (the sparsity stage) keeps the mark on its s8 weights,
which the writer then stores group-sparse (quantization.sparse_storage decides which
marks stay); 4-bit weights are always stored dense.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.quantization.split_activations import split_lookup_activations
from pocketnn.passes.graph_utils import drop_unreferenced_tensors
from pocketnn.passes.numpy_ops import evaluate
from pocketnn.quantization.activations import (
    DEFAULT_CALIB_METHOD,
    QuantizationError,
    activation_qparams,
)
from pocketnn.quantization.arith import (
    COMPACT_MANTISSA_BITS,
    add_params,
    avgpool_multiplier,
    clamp_bounds,
    conv_requant,
    fold_zero_point,
    quantize_bias,
    quantize_weights,
)
from pocketnn.quantization.rounding import DEFAULT_ROUNDING, StatisticsCollector, WeightRounding, resolve_rounding
from pocketnn.quantization.simulate import build_lut
from pocketnn.sparsity.calibration import CalibSource

QParams = tuple[float, int]
SCHEMES = ("int8", "int4")
# Accumulators of K taps must fit in int32 (docs/QUANTIZATION.md).
MAX_REDUCTION = 66000
# The same for QMatMul's u8 x u8 products (K * 255 * 255 < 2^31).
MAX_U8_REDUCTION = 33025
# Largest |int32 bias| the weight scales allow, leaving room for the zero-point fold.
BIAS_HEADROOM = float(2**30)
LOOKUP_OPS = ("Sigmoid", "Tanh", "HardSwish", "HardSigmoid", "Gelu")
# Largest AveragePool window made integer: one multiplier per divisor goes in an
# attribute list (at most 65536 entries in the format); larger windows stay float.
MAX_WINDOW = 4096
_CLAMP_ACTS = (ACTIVATIONS["none"], ACTIVATIONS["relu"], ACTIVATIONS["clip"])


@dataclass(frozen=True)
class _Weighted:
    """A Conv or Gemm/MatMul that has an integer form: weights [M, ...] (output channels
    first, Gemm weights as [M, K]) and bias [M] or None, in float."""

    weights: np.ndarray
    bias: np.ndarray | None


def _as_weighted(graph: Graph, node: Node) -> _Weighted | None:
    """The node's integer-ready weights, or None when it must stay float."""
    if int(node.attrs.get("act", 0)) not in _CLAMP_ACTS:  # type: ignore[arg-type]
        return None
    x = graph.tensors[node.inputs[0]]
    w = graph.constant(node.inputs[1])
    bias_name = node.inputs[2] if len(node.inputs) > 2 else ""
    bias = graph.constant(bias_name)
    if w is None or (bias_name and bias is None):
        return None
    w = w.astype(np.float64)
    if node.op == "Conv":
        if len(x.shape) == 3 and w.ndim == 3:  # 1-D: QConv over [N, C, 1, L] (its attrs are 2-D)
            w = w[:, :, None, :]
        elif len(x.shape) != 4 or w.ndim != 4:
            return None
        return _Weighted(w, None if bias is None else bias.astype(np.float64).reshape(-1))
    if node.op == "Gemm":
        if int(node.attrs.get("trans_a", 0)) or len(x.shape) != 2 or w.ndim != 2:  # type: ignore[arg-type]
            return None
        alpha = float(node.attrs.get("alpha", 1.0))  # type: ignore[arg-type]
        beta = float(node.attrs.get("beta", 1.0))  # type: ignore[arg-type]
        w = alpha * (w if int(node.attrs.get("trans_b", 0)) else w.T)  # type: ignore[arg-type]
    elif node.op == "MatMul":
        # Any rank >= 2: QGemm reads X as rows of K (format 1.5).
        if len(x.shape) < 2 or w.ndim != 2:
            return None
        w, beta = w.T, 1.0
    else:
        return None
    if bias is not None:
        if bias.size not in (1, w.shape[0]) or (bias.ndim and bias.shape[-1] not in (1, w.shape[0])):
            return None
        bias = beta * np.broadcast_to(bias.astype(np.float64).reshape(-1), (w.shape[0],))
    return _Weighted(w, bias)


def _add_operands(graph: Graph, node: Node) -> tuple[str, str] | None:
    """(a, b) of an Add with an integer form (b may have one element), or None."""
    if int(node.attrs.get("act", 0)) not in _CLAMP_ACTS or len(node.inputs) != 2:  # type: ignore[arg-type]
        return None
    a, b = (graph.tensors[name] for name in node.inputs)
    if a.is_constant or b.is_constant:
        return None
    if a.shape == b.shape or int(np.prod(b.shape)) == 1:
        return a.name, b.name
    if int(np.prod(a.shape)) == 1:
        return b.name, a.name
    return None


def _activation_matmul(graph: Graph, node: Node) -> bool:
    """Whether a MatMul multiplies two activations (no bias, rank >= 2, a ReLU/Clip at
    most fused): QMatMul's form, when both operands and the result have qparams."""
    if node.op != "MatMul" or len(node.inputs) != 2 or int(node.attrs.get("act", 0)) not in _CLAMP_ACTS:  # type: ignore[arg-type]
        return False
    a, b = (graph.tensors[name] for name in node.inputs)
    return (not a.is_constant and not b.is_constant and len(a.shape) >= 2 and len(b.shape) >= 2
            and a.shape[-1] <= MAX_U8_REDUCTION)


def _lookup_function(node: Node) -> Callable[[np.ndarray], np.ndarray]:
    """The float function of an element-wise node, on float64 arrays."""
    return lambda x: evaluate(node, [x], [x.shape])[0]  # type: ignore[index]


def sparse_weight_group(graph: Graph, node: Node) -> int:
    """G of the node's float weights when they are marked group-sparse with rows = output
    channels (Conv; Gemm with trans_b = 1, the form the sparsity stage gives), else 0."""
    weight = graph.tensors.get(node.inputs[1]) if len(node.inputs) > 1 else None
    if weight is None or not weight.sparse_group:
        return 0
    if node.op == "Conv" or (node.op == "Gemm" and int(node.attrs.get("trans_b", 0))):  # type: ignore[arg-type]
        return int(weight.sparse_group)
    return 0


def _output_channel_axis(node: Node) -> int:
    """Axis of the node's weight constant (as stored) that indexes output channels."""
    if node.op == "Conv" or (node.op == "Gemm" and int(node.attrs.get("trans_b", 0))):  # type: ignore[arg-type]
        return 0
    return 1


def _given_int8_weights(weights: np.ndarray, scales: np.ndarray, axis: int | None
                        ) -> tuple[np.ndarray, np.ndarray] | None:
    """(int8 weights, per-channel scales) when `weights` [M, ...] are exact multiples of
    the given scales (per tensor, or per output channel when axis is the output axis)
    within [-127, 127]; None otherwise (-128 is outside the contract)."""
    channels = weights.shape[0]
    if scales.size == 1:
        scales = np.full(channels, float(scales.reshape(-1)[0]), dtype=np.float32)
    elif axis is None or scales.size != channels:
        return None
    ratio = weights / scales.astype(np.float64).reshape((-1,) + (1,) * (weights.ndim - 1))
    w_q = np.rint(ratio)
    if np.abs(ratio - w_q).max(initial=0.0) > 1e-3 or np.abs(w_q).max(initial=0.0) > 127:
        return None
    return w_q.astype(np.int8), scales.astype(np.float32)


def weight_bits(scheme: str, layer: int, layers: int) -> int:
    """Weight bits of the layer-th of `layers` weighted layers (graph order)."""
    if scheme not in SCHEMES:
        raise QuantizationError(f"unknown quantization {scheme!r}; expected one of {', '.join(SCHEMES)}")
    return 4 if scheme == "int4" and 0 < layer < layers - 1 else 8


class _Rewriter:
    """Builds the quantized graph node by node, tracking where each value is available:
    as float (its original name) and/or as u8 (a new tensor with its own qparams)."""

    def __init__(self, graph: Graph, qparams: Mapping[str, QParams],
                 weight_scales: Mapping[str, tuple[np.ndarray, int]], keep_qdq_rounding: bool,
                 rounding: WeightRounding) -> None:
        self.graph = graph
        self.rounding = rounding
        # Only float32 activations are quantized: an int tensor with a QDQ pair (ONNX
        # allows QuantizeLinear on int32) stays what it is.
        self.qparams = {name: q for name, q in qparams.items()
                        if name in graph.tensors and graph.tensors[name].dtype == DType.F32}
        self.weight_scales = weight_scales
        self.keep_qdq_rounding = keep_qdq_rounding
        self.rounded: dict[str, str] = {}  # float value -> its QuantizeLinear/DequantizeLinear copy
        self.tensors = dict(graph.tensors)
        self.nodes: list[Node] = []
        self.floats: set[str] = set(graph.inputs)
        self.u8: dict[str, str] = {}  # float name -> its u8 tensor
        self.u8_qparams: dict[str, QParams] = {}  # u8 tensor -> (scale, zero point)
        self.dequantized: set[str] = set()  # values an integer op computed, also made float

    def unique(self, base: str) -> str:
        name, count = base, 1
        while name in self.tensors:
            name, count = f"{base}_{count}", count + 1
        return name

    def constant(self, base: str, dtype: DType, shape: tuple[int, ...], data: np.ndarray,
                 sparse_group: int = 0) -> str:
        name = self.unique(base)
        self.tensors[name] = Tensor(name, dtype, shape, data, sparse_group)
        return name

    def new_u8(self, float_name: str, qparams: QParams) -> str:
        """A u8 tensor standing for `float_name` with these qparams."""
        name = self.unique(f"{float_name}_u8")
        self.tensors[name] = Tensor(name, DType.U8, self.graph.tensors[float_name].shape)
        self.u8[float_name] = name
        self.u8_qparams[name] = qparams
        return name

    def as_u8(self, float_name: str) -> str:
        if float_name not in self.u8:
            scale, zero_point = self.qparams[float_name]
            q = self.new_u8(float_name, (scale, zero_point))
            self.nodes.append(Node("QuantizeLinear", f"{float_name}_quantize", [float_name], [q],
                                   {"scale": scale, "zero_point": zero_point}))
        return self.u8[float_name]

    def as_float(self, name: str) -> str:
        if name not in self.floats and name in self.u8:
            q = self.u8[name]
            scale, zero_point = self.u8_qparams[q]
            self.nodes.append(Node("DequantizeLinear", f"{name}_dequantize", [q], [name],
                                   {"scale": scale, "zero_point": zero_point}))
            self.floats.add(name)
            self.dequantized.add(name)
        return name

    def computed_in_u8(self, name: str) -> bool:
        return name in self.u8 and (name not in self.floats or name in self.dequantized)

    def float_input(self, name: str) -> str:
        """The float value a float op reads. With keep_qdq_rounding, a value that carried
        a QDQ pair but was computed in float is read through Quantize/DequantizeLinear."""
        if not (self.keep_qdq_rounding and name in self.qparams and not self.computed_in_u8(name)):
            return self.as_float(name)
        if name not in self.rounded:
            q = self.as_u8(name)
            rounded = self.unique(f"{name}_qdq")
            self.tensors[rounded] = Tensor(rounded, DType.F32, self.graph.tensors[name].shape)
            scale, zero_point = self.u8_qparams[q]
            self.nodes.append(Node("DequantizeLinear", f"{name}_qdq", [q], [rounded],
                                   {"scale": scale, "zero_point": zero_point}))
            self.rounded[name] = rounded
        return self.rounded[name]

    def has_qparams(self, *names: str) -> bool:
        return all(name in self.qparams for name in names)

    def integer_ready(self, node: Node) -> bool:
        """Whether the activations an integer form of the node needs have qparams (all
        do after calibration; an imported QDQ model gives only some)."""
        if not node.inputs or not self.has_qparams(node.inputs[0]):
            return False
        return node.op in ("MaxPool", "Reshape") or self.has_qparams(node.outputs[0])

    def keep_float(self, node: Node) -> None:
        inputs = [self.float_input(name) if name and not self.tensors[name].is_constant else name
                  for name in node.inputs]
        self.nodes.append(Node(node.op, node.name, inputs, list(node.outputs), dict(node.attrs)))
        self.floats.update(node.outputs)

    def output_clamp(self, node: Node, y: QParams) -> tuple[int, int]:
        """u8 bounds of the node's fused ReLU / Clip on an output with qparams y."""
        act = int(node.attrs.get("act", 0))  # type: ignore[arg-type]
        if act == ACTIVATIONS["relu"]:
            return clamp_bounds(y[0], y[1], 0.0)
        if act == ACTIVATIONS["clip"]:
            return clamp_bounds(y[0], y[1], float(node.attrs["act_alpha"]),  # type: ignore[arg-type]
                                float(node.attrs["act_beta"]))  # type: ignore[arg-type]
        return clamp_bounds(y[0], y[1])

    def weighted(self, node: Node, layer: _Weighted, bits: int) -> None:
        reduction = int(np.prod(layer.weights.shape[1:]))
        if reduction > MAX_REDUCTION:
            raise QuantizationError(f"{node.op} {node.name!r} sums {reduction} products per output; "
                                    f"integer accumulators allow at most {MAX_REDUCTION}")
        x = self.as_u8(node.inputs[0])
        x_scale, x_zero_point = self.u8_qparams[x]
        y_float = node.outputs[0]
        y_qparams = self.qparams[y_float]
        given = self.weight_scales.get(node.inputs[1])
        exact = None if given is None or bits != 8 else _given_int8_weights(
            layer.weights, given[0], 0 if given[0].size == 1 or given[1] == _output_channel_axis(node) else None)
        # A channel of (near) zero weights beside a large bias (pruned and refitted, say)
        # would get a scale so small that its bias leaves int32: its scale is raised so
        # the bias stays within 2^30 (its weights then round to 0 or stay tiny).
        min_scales = None if layer.bias is None else np.abs(layer.bias) / (x_scale * BIAS_HEADROOM)
        bias = layer.bias
        if exact is not None:
            w_q, w_scales = exact
        else:
            w_q, w_scales = quantize_weights(layer.weights, bits, axis=0, min_scales=min_scales)
            w_q, shift = self.rounding.round(node.name, layer.weights, w_q, w_scales, bits)
            if np.any(shift):
                bias = shift if bias is None else bias + shift
        bias_q = None if bias is None else quantize_bias(bias, x_scale, w_scales)
        folded = fold_zero_point(w_q, x_zero_point, bias_q)
        lo, hi = self.output_clamp(node, y_qparams)
        # An imported QDQ model's scales are kept as exactly as they can be; the
        # converter's own get 15-bit mantissas, whose tables the writer stores in s16.
        mantissa_bits = 31 if self.keep_qdq_rounding else COMPACT_MANTISSA_BITS
        requant = conv_requant(x_scale, w_scales, y_qparams[0], y_qparams[1], lo, hi, mantissa_bits)
        shape = tuple(int(d) for d in w_q.shape)
        # S4 constants hold their int8 values here; the writer packs them two per byte.
        sparse_group = sparse_weight_group(self.graph, node) if bits == 8 else 0
        w_name = self.constant(f"{node.inputs[1]}_s{bits}", DType.S8 if bits == 8 else DType.S4, shape, w_q,
                               sparse_group)
        channels = (len(folded),)
        inputs = [x, w_name,
                  self.constant(f"{node.inputs[1]}_bias_s32", DType.S32, channels, folded),
                  self.constant(f"{node.inputs[1]}_multiplier", DType.S32, channels, requant.multiplier),
                  self.constant(f"{node.inputs[1]}_shift", DType.S32, channels, requant.shift)]
        attrs: dict = {"x_zero_point": x_zero_point, "y_zero_point": y_qparams[1], "lo": lo, "hi": hi}
        y = self.new_u8(y_float, y_qparams)
        if node.op == "Conv":
            op = "QConv"
            attrs = {key: node.attrs[key] for key in ("group", "strides", "dilations", "pads")} | attrs
            if len(self.tensors[x].shape) == 3:  # 1-D: reshaped to [N, C, 1, L] and back
                inputs[0] = self.u8_reshape(x, self.tensors[x].shape[:2] + (1,) + self.tensors[x].shape[2:])
                y_4d = self.unique(f"{y}_4d")
                self.tensors[y_4d] = Tensor(y_4d, DType.U8, self.tensors[y].shape[:2] + (1,) + self.tensors[y].shape[2:])
                self.u8_qparams[y_4d] = y_qparams
                self.nodes.append(Node(op, node.name, inputs, [y_4d], attrs))
                self.nodes.append(Node("Reshape", f"{node.name}_to_1d", [y_4d], [y], {}))
                return
        else:
            op = "QGemm"
        self.nodes.append(Node(op, node.name, inputs, [y], attrs))

    def activation_matmul(self, node: Node) -> None:
        """QMatMul: both operands u8, one requantization s_a * s_b / s_y."""
        a, b = self.as_u8(node.inputs[0]), self.as_u8(node.inputs[1])
        (a_scale, a_zero_point), (b_scale, b_zero_point) = self.u8_qparams[a], self.u8_qparams[b]
        y_qparams = self.qparams[node.outputs[0]]
        lo, hi = self.output_clamp(node, y_qparams)
        requant = conv_requant(a_scale, [b_scale], y_qparams[0], y_qparams[1], lo, hi)
        attrs = {"a_zero_point": a_zero_point, "b_zero_point": b_zero_point,
                 "multiplier": int(requant.multiplier[0]), "shift": int(requant.shift[0]),
                 "y_zero_point": y_qparams[1], "lo": lo, "hi": hi}
        self.nodes.append(Node("QMatMul", node.name, [a, b], [self.new_u8(node.outputs[0], y_qparams)], attrs))

    def u8_reshape(self, name: str, shape: tuple[int, ...]) -> str:
        """u8 tensor `name` reshaped (same qparams)."""
        out = self.unique(f"{name}_4d")
        self.tensors[out] = Tensor(out, DType.U8, shape)
        self.u8_qparams[out] = self.u8_qparams[name]
        self.nodes.append(Node("Reshape", f"{out}_reshape", [name], [out], {}))
        return out

    def add(self, node: Node, a_name: str, b_name: str) -> None:
        a, b = self.as_u8(a_name), self.as_u8(b_name)
        (a_scale, a_zero_point), (b_scale, b_zero_point) = self.u8_qparams[a], self.u8_qparams[b]
        y_qparams = self.qparams[node.outputs[0]]
        params = add_params(a_scale, b_scale, y_qparams[0])
        lo, hi = self.output_clamp(node, y_qparams)
        attrs = {"a_zero_point": a_zero_point, "b_zero_point": b_zero_point,
                 "a_multiplier": params.a_multiplier, "b_multiplier": params.b_multiplier,
                 "shift": params.shift, "y_zero_point": y_qparams[1], "lo": lo, "hi": hi}
        self.nodes.append(Node("QAdd", node.name, [a, b], [self.new_u8(node.outputs[0], y_qparams)], attrs))

    def global_avgpool(self, node: Node) -> None:
        x = self.as_u8(node.inputs[0])
        x_scale, x_zero_point = self.u8_qparams[x]
        y_qparams = self.qparams[node.outputs[0]]
        count = int(np.prod(self.graph.tensors[node.inputs[0]].shape[2:]))
        multiplier, shift = avgpool_multiplier(x_scale, y_qparams[0], count)
        attrs = {"x_zero_point": x_zero_point, "multiplier": multiplier, "shift": shift,
                 "y_zero_point": y_qparams[1]}
        self.nodes.append(Node("QGlobalAveragePool", node.name, [x],
                               [self.new_u8(node.outputs[0], y_qparams)], attrs))

    def avgpool(self, node: Node) -> None:
        """Window averages: one dyadic multiplier per possible divisor (1 .. kh * kw)."""
        x = self.as_u8(node.inputs[0])
        x_scale, x_zero_point = self.u8_qparams[x]
        y_qparams = self.qparams[node.outputs[0]]
        kernel = [int(k) for k in node.attrs["kernel"]]  # type: ignore[union-attr]
        params = [avgpool_multiplier(x_scale, y_qparams[0], d) for d in range(1, kernel[0] * kernel[1] + 1)]
        attrs = dict(node.attrs) | {"x_zero_point": x_zero_point, "y_zero_point": y_qparams[1],
                                    "multipliers": [m for m, _ in params], "shifts": [sh for _, sh in params]}
        self.nodes.append(Node("QAveragePool", node.name, [x], [self.new_u8(node.outputs[0], y_qparams)], attrs))

    def same_qparams(self, node: Node, op: str) -> None:
        """An op exact on u8 (MaxPool, Reshape): the output keeps the input's qparams."""
        x = self.as_u8(node.inputs[0])
        y = self.new_u8(node.outputs[0], self.u8_qparams[x])
        self.nodes.append(Node(op, node.name, [x], [y], dict(node.attrs)))

    def lookup(self, node: Node) -> None:
        x = self.as_u8(node.inputs[0])
        y_qparams = self.qparams[node.outputs[0]]
        table = build_lut(_lookup_function(node), self.u8_qparams[x], y_qparams)
        table_name = self.constant(f"{node.outputs[0]}_table", DType.U8, (256,), table)
        self.nodes.append(Node("QLookup", node.name, [x, table_name],
                               [self.new_u8(node.outputs[0], y_qparams)], {}))


def _window(node: Node) -> int:
    kernel = node.attrs["kernel"]
    return int(kernel[0]) * int(kernel[1])  # type: ignore[index]


def weighted_nodes(graph: Graph) -> list[Node]:
    """The nodes that become QConv / QGemm, in graph order (the order of `layer_bits`)."""
    return [node for node in graph.nodes
            if node.op in ("Conv", "Gemm", "MatMul") and _as_weighted(graph, node) is not None]


def integer_weighted_nodes(quantized: Graph) -> list[Node]:
    """The QConv / QGemm nodes of a quantize_graph result, in graph order (weighted_nodes'
    nodes as they became integer operators)."""
    return [node for node in quantized.nodes if node.op in ("QConv", "QGemm")]


def quantize_graph(graph: Graph, qparams: Mapping[str, QParams], scheme: str = "int8",
                   layer_bits: Sequence[int] | None = None,
                   weight_scales: Mapping[str, tuple[np.ndarray, int]] | None = None,
                   keep_qdq_rounding: bool = False, rounding: WeightRounding | None = None) -> Graph:
    """The integer form of `graph` (see the module doc); `qparams` gives the (scale,
    zero point) of every activation tensor (activations.activation_qparams);
    `layer_bits` (4 or 8 per weighted_nodes entry) overrides the scheme's weight bits.
    For an imported QDQ model (frontend.qdq_import): `weight_scales` (weight constant ->
    (scales, axis)) marks weights that are already int8 multiples of those scales, used
    as they are; `keep_qdq_rounding` keeps float any op whose activations lack qparams
    and makes float ops read values that have qparams through Quantize/DequantizeLinear.
    `rounding` picks the integer weights (default: round to nearest)."""
    weighted = {id(node): layer for node in graph.nodes
                if node.op in ("Conv", "Gemm", "MatMul") and (layer := _as_weighted(graph, node)) is not None}
    order = [id(node) for node in graph.nodes if id(node) in weighted]
    if layer_bits is None:
        layer_bits = [weight_bits(scheme, index, len(order)) for index in range(len(order))]
    if len(layer_bits) != len(order) or set(layer_bits) - {4, 8}:
        raise QuantizationError(f"layer_bits wants 4 or 8 for each of the {len(order)} weighted layers, "
                                f"got {list(layer_bits)}")
    rewriter = _Rewriter(graph, qparams, weight_scales or {}, keep_qdq_rounding, rounding or WeightRounding())
    for node in graph.nodes:
        operands = _add_operands(graph, node) if node.op == "Add" else None
        if keep_qdq_rounding and operands is not None and not rewriter.has_qparams(*operands):
            operands = None
        if keep_qdq_rounding and not rewriter.integer_ready(node):
            rewriter.keep_float(node)
        elif id(node) in weighted:
            rewriter.weighted(node, weighted[id(node)], int(layer_bits[order.index(id(node))]))
        elif operands is not None:
            rewriter.add(node, *operands)
        elif _activation_matmul(graph, node) and rewriter.has_qparams(*node.inputs):
            rewriter.activation_matmul(node)
        elif node.op == "GlobalAveragePool" and len(graph.tensors[node.inputs[0]].shape) == 4:
            rewriter.global_avgpool(node)
        elif (node.op == "AveragePool" and len(graph.tensors[node.inputs[0]].shape) == 4
              and _window(node) <= MAX_WINDOW):
            rewriter.avgpool(node)
        elif node.op == "MaxPool" and len(graph.tensors[node.inputs[0]].shape) == 4:
            rewriter.same_qparams(node, "QMaxPool")
        elif node.op == "Reshape" and rewriter.computed_in_u8(node.inputs[0]):
            rewriter.same_qparams(node, "Reshape")
        elif node.op in LOOKUP_OPS:
            rewriter.lookup(node)
        else:
            rewriter.keep_float(node)
    outputs = [rewriter.as_float(name) for name in graph.outputs]
    producers = {out: node.op for node in rewriter.nodes for out in node.outputs}
    unrounded = [name for name in outputs if keep_qdq_rounding and name in qparams
                 and not rewriter.computed_in_u8(name) and producers.get(name) != "Identity"]
    if unrounded:
        raise QuantizationError(f"graph outputs {unrounded} are computed in float but the model "
                                f"quantizes them; this form of a QDQ model is not supported")
    result = Graph(rewriter.tensors, rewriter.nodes, list(graph.inputs), outputs, dict(graph.metadata))
    drop_unreferenced_tensors(result)
    return result


def calibrate(graph: Graph, calib: CalibSource | None, method: str, rounding: str, may_be_int4: bool,
              bias_correction: bool | None = None) -> tuple[dict[str, QParams], WeightRounding]:
    """Activation qparams and the weight rounding (rounding.ROUNDINGS; "auto" is GPTQ
    when `may_be_int4`), from one calibration pass. `bias_correction` None: with GPTQ
    only (round to nearest then skips the input statistics)."""
    try:
        rounding = resolve_rounding(rounding, may_be_int4)
    except ValueError as exc:
        raise QuantizationError(str(exc)) from None
    correct = rounding == "gptq" if bias_correction is None else bias_correction
    collector = StatisticsCollector(graph, weighted_nodes(graph)) if rounding == "gptq" or correct else None
    qparams = activation_qparams(graph, calib, method, collector)
    return qparams, WeightRounding(collector.statistics if collector is not None else None, correct,
                                   gptq=rounding == "gptq")


def quantize_static(graph: Graph, calib: CalibSource | None, scheme: str = "int8",
                    method: str = DEFAULT_CALIB_METHOD, rounding: str = DEFAULT_ROUNDING,
                    bias_correction: bool | None = None) -> Graph:
    """Calibrates `graph` on `calib` (activations.activation_qparams) and quantizes it,
    rounding weights by `rounding` ("auto", "gptq" or "nearest", quantization.rounding),
    with `bias_correction` as in calibrate.
    Layers marked group-sparse keep sparse s8 storage where it pays
    (sparse_storage.settle_sparse_storage); those stay 8-bit under "int4"."""
    from pocketnn.quantization.sparse_storage import marked_layers, settle_sparse_storage

    weight_bits(scheme, 0, 1)  # an unknown scheme fails before calibration runs
    graph = split_lookup_activations(graph)
    qparams, weight_rounding = calibrate(graph, calib, method, rounding, scheme == "int4", bias_correction)
    graph = settle_sparse_storage(graph, qparams)[0]
    count = len(weighted_nodes(graph))
    bits = [weight_bits(scheme, index, count) for index in range(count)]
    for index in marked_layers(graph):
        bits[index] = 8
    return quantize_graph(graph, qparams, layer_bits=bits, rounding=weight_rounding)
