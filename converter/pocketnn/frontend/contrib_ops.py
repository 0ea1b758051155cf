"""onnxruntime's com.microsoft transformer operators written as standard ONNX ops.

onnxruntime's transformer optimizer (onnxruntime.transformers.optimizer) fuses BERT/GPT
style graphs into contrib operators. Each is rewritten here, before folding, as what it
computes (the formulas of onnxruntime's contrib operator documentation), so the ordinary
lowering runs it:

- Gelu(X) = X * 0.5 * (1 + erf(X / sqrt(2))); BiasGelu(A, B) = Gelu(A + B);
- FastGelu(X, bias?) = the tanh approximation of Gelu(X + bias);
- QuickGelu(X) = X * sigmoid(alpha * X);
- FusedMatMul(A, B) = alpha * A' B' (transA / transB swap the last two axes; the
  batch-transposing attributes are refused);
- SkipLayerNormalization(input, skip, gamma, beta?, bias?) = LayerNormalization of
  input + skip (+ bias) over the last axis; its fourth output (the sum) is given too,
  the mean / inverse-std outputs are refused when used;
- SkipSimplifiedLayerNormalization and SimplifiedLayerNormalization (RMS norm; the latter
  in the default domain, where onnxruntime registers it):
  x / sqrt(mean(x^2) + epsilon) * gamma;
- Attention(input, weights, bias?, mask_index?) with num_heads, scale, unidirectional
  and qkv_hidden_sizes: the fused Q/K/V projection, per-head scaled dot products,
  Softmax and the weighted sum. mask_index must be absent or a constant [batch, seq]
  of 0/1 (masked keys get mask_filter_value); past state, attention bias and rotary
  embeddings are refused.

A contrib op outside this list stays, and is reported as unsupported with the others.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import onnx

from pocketnn.errors import ModelError, UnsupportedOpError
from pocketnn.frontend.control_flow import node_reads
from pocketnn.frontend.node_writer import NodeWriter, onnx_attrs

if TYPE_CHECKING:  # folding imports this module
    from pocketnn.frontend.folding import OnnxState

_MS = "com.microsoft"


def _input(node: onnx.NodeProto, index: int) -> str:
    return node.input[index] if len(node.input) > index else ""


@dataclass
class _Writer(NodeWriter):
    state: "OnnxState | None" = None

    @property
    def st(self) -> "OnnxState":
        assert self.state is not None
        return self.state

    def opset(self) -> int:
        return self.st.opset


def _refuse_outputs(w: _Writer, indices: tuple[int, ...], what: str) -> None:
    used = {name for n in w.st.nodes for name in node_reads(n)} | set(w.st.outputs)
    for index in indices:
        out = w.output(index)
        if out and out in used:
            raise UnsupportedOpError(f"node '{w.node.name}' ({w.node.op_type}): output {index} ({what}) is "
                                     f"used; pocketnn computes only the normalized output and the sum")


def _gelu_erf(w: _Writer, x: str, out: str) -> None:
    erf = w.emit("Erf", [w.emit("Mul", [x, w.scalar(1.0 / math.sqrt(2.0))], "x_s")], "erf")
    half_x = w.emit("Mul", [x, w.scalar(0.5)], "half_x")
    w.emit("Mul", [half_x, w.emit("Add", [erf, w.scalar(1.0)], "erf_1")], out=out)


def _gelu_tanh(w: _Writer, x: str, out: str) -> None:
    cube = w.emit("Mul", [w.emit("Mul", [x, x], "x2"), x], "x3")
    inner = w.emit("Add", [x, w.emit("Mul", [cube, w.scalar(0.044715)], "c_x3")], "inner")
    tanh = w.emit("Tanh", [w.emit("Mul", [inner, w.scalar(math.sqrt(2.0 / math.pi))], "scaled")], "tanh")
    half_x = w.emit("Mul", [x, w.scalar(0.5)], "half_x")
    w.emit("Mul", [half_x, w.emit("Add", [tanh, w.scalar(1.0)], "tanh_1")], out=out)


def _plus(w: _Writer, a: str, b: str) -> str:
    return a if not b else w.emit("Add", [a, b], "sum")


def _layer_norm(w: _Writer, x: str, gamma: str, beta: str, epsilon: float, simplified: bool, out: str) -> None:
    if simplified:
        mean_sq = _mean_last(w, w.emit("Mul", [x, x], "sq"))
        root = w.emit("Sqrt", [w.emit("Add", [mean_sq, w.scalar(epsilon)], "var_eps")], "rms")
        normed = w.emit("Div", [x, root], "normed")
        w.emit("Mul", [normed, gamma], out=out)
        return
    if w.opset() >= 17:
        inputs = [x, gamma] + ([beta] if beta else [])
        w.emit("LayerNormalization", inputs, out=out, axis=-1, epsilon=epsilon)
        return
    # Before opset 17 there is no LayerNormalization: its formula, op by op.
    centered = w.emit("Sub", [x, _mean_last(w, x)], "centered")
    variance = _mean_last(w, w.emit("Mul", [centered, centered], "sq"))
    root = w.emit("Sqrt", [w.emit("Add", [variance, w.scalar(epsilon)], "var_eps")], "std")
    scaled = w.emit("Mul", [w.emit("Div", [centered, root], "normed"), gamma], "scaled")
    w.emit("Add" if beta else "Identity", [scaled, beta] if beta else [scaled], out=out)


def _mean_last(w: _Writer, x: str) -> str:
    """ReduceMean over the last axis, keeping it (axes an attribute before opset 18)."""
    if w.opset() < 18:
        return w.emit("ReduceMean", [x], "mean", axes=[-1], keepdims=1)
    return w.emit("ReduceMean", [x, w.constant("axes", np.array([-1], np.int64))], "mean", keepdims=1)


def _skip_layer_norm(w: _Writer, simplified: bool) -> None:
    node = w.node
    _refuse_outputs(w, (1, 2), "mean / inverse standard deviation")
    attrs = onnx_attrs(node)
    epsilon = float(attrs.get("epsilon", 1e-12))  # type: ignore[arg-type]
    total = _plus(w, w.emit("Add", [node.input[0], node.input[1]], "skip_sum"),
                  _input(node, 3 if simplified else 4))
    if w.output(3):
        w.emit("Identity", [total], out=w.output(3))
    out = w.output(0)
    if out:
        _layer_norm(w, total, node.input[2], "" if simplified else _input(node, 3), epsilon, simplified, out)


def _simplified_layer_norm(w: _Writer) -> None:
    _refuse_outputs(w, (1,), "inverse standard deviation")
    attrs = onnx_attrs(w.node)
    if int(attrs.get("axis", -1)) != -1:  # type: ignore[arg-type]
        raise UnsupportedOpError(f"node '{w.node.name}' (SimplifiedLayerNormalization): axis must be -1")
    out = w.output(0)
    if out:
        _layer_norm(w, w.node.input[0], w.node.input[1], "", float(attrs.get("epsilon", 1e-5)),  # type: ignore[arg-type]
                    True, out)


def _attention(w: _Writer) -> None:
    node, constants = w.node, w.st.constants
    attrs = onnx_attrs(node)
    for name in ("past_present_share_buffer", "do_rotary"):
        if int(attrs.get(name, 0)):  # type: ignore[arg-type]
            raise UnsupportedOpError(f"node '{node.name}' (Attention): {name} is not supported")
    for index, what in ((4, "past"), (5, "attention_bias"), (6, "past_sequence_length")):
        if _input(node, index):
            raise UnsupportedOpError(f"node '{node.name}' (Attention): input {what} is not supported")
    _refuse_outputs(w, (1,), "present state")
    heads = int(attrs["num_heads"])  # type: ignore[arg-type]
    weights = constants.get(node.input[1])
    if weights is None or weights.ndim != 2:
        raise UnsupportedOpError(f"node '{node.name}' (Attention): weights must be a 2-D constant")
    sizes = [int(s) for s in attrs.get("qkv_hidden_sizes", [])] or [weights.shape[1] // 3] * 3  # type: ignore[union-attr]
    if len(sizes) != 3 or sum(sizes) != weights.shape[1] or sizes[0] != sizes[1] or sizes[0] % heads or sizes[2] % heads:
        raise ModelError(f"node '{node.name}' (Attention): Q/K/V sizes {sizes} do not fit weights "
                         f"{list(weights.shape)} and {heads} heads")
    qk_head, v_head = sizes[0] // heads, sizes[2] // heads
    scale = float(attrs.get("scale", 0.0)) or 1.0 / math.sqrt(qk_head)  # type: ignore[arg-type]
    projected = _plus(w, w.emit("MatMul", [node.input[0], node.input[1]], "qkv"), _input(node, 2))
    q, k, v = w.split(projected, sizes, -1, "part", w.opset())

    def heads_first(x: str, head: int, perm: list[int]) -> str:
        shaped = w.emit("Reshape", [x, w.constant("shape", np.array([0, 0, heads, head], np.int64))], "heads")
        return w.emit("Transpose", [shaped], "heads_t", perm=perm)

    scores = w.emit("MatMul", [heads_first(q, qk_head, [0, 2, 1, 3]), heads_first(k, qk_head, [0, 2, 3, 1])],
                    "scores")
    scores = w.emit("Mul", [scores, w.scalar(scale)], "scaled")
    scores = _mask(w, scores, attrs)
    probs = w.emit("Softmax", [scores], "probs", axis=-1 if w.opset() >= 13 else 3)
    context = w.emit("Transpose", [w.emit("MatMul", [probs, heads_first(v, v_head, [0, 2, 1, 3])], "ctx")],
                     "ctx_t", perm=[0, 2, 1, 3])
    w.emit("Reshape", [context, w.constant("shape", np.array([0, 0, sizes[2]], np.int64))], out=w.output(0))


def _mask(w: _Writer, scores: str, attrs: dict[str, object]) -> str:
    """Scores [batch, heads, seq, keys] with the key padding mask and causal mask added."""
    node = w.node
    fill = float(attrs.get("mask_filter_value", -10000.0))  # type: ignore[arg-type]
    mask_name = _input(node, 3)
    if mask_name:
        mask = w.st.constants.get(mask_name)
        if mask is None or mask.ndim != 2 or not np.isin(mask, (0, 1)).all():
            raise UnsupportedOpError(f"node '{node.name}' (Attention): mask_index must be absent or a constant "
                                     f"[batch, sequence] of 0/1 (got {'a runtime value' if mask is None else list(mask.shape)})")
        additive = ((1.0 - mask.astype(np.float32)) * fill)[:, None, None, :]
        scores = w.emit("Add", [scores, w.constant("mask", additive.astype(np.float32))], "masked")
    if int(attrs.get("unidirectional", 0)):  # type: ignore[arg-type]
        seq = _static_sequence(w)
        assert seq is not None  # _expand waits until it is known
        causal = np.triu(np.full((seq, seq), fill, np.float32), k=1)
        scores = w.emit("Add", [scores, w.constant("causal", causal)], "causal")
    return scores


def _fused_matmul(w: _Writer) -> bool:
    """False while the rank of a transposed operand is still unknown."""
    node = w.node
    attrs = onnx_attrs(node)
    if int(attrs.get("transBatchA", 0)) or int(attrs.get("transBatchB", 0)):  # type: ignore[arg-type]
        raise UnsupportedOpError(f"node '{node.name}' (FusedMatMul): transBatchA/transBatchB are not supported")
    operands = []
    for name, flag in ((node.input[0], "transA"), (node.input[1], "transB")):
        if not int(attrs.get(flag, 0)):  # type: ignore[arg-type]
            operands.append(name)
            continue
        info = w.st.infos.get(name)
        if name in w.st.constants:
            rank = w.st.constants[name].ndim
        elif info is not None and info.shape is not None:
            rank = len(info.shape)
        else:
            return False
        if rank < 2:
            raise ModelError(f"node '{node.name}' (FusedMatMul): {flag} on a rank-{rank} operand")
        perm = list(range(rank - 2)) + [rank - 1, rank - 2]
        operands.append(w.emit("Transpose", [name], "t", perm=perm))
    alpha = float(attrs.get("alpha", 1.0))  # type: ignore[arg-type]
    if alpha == 1.0:
        w.emit("MatMul", operands, out=node.output[0])
    else:
        w.emit("Mul", [w.emit("MatMul", operands, "mm"), w.scalar(alpha)], out=node.output[0])
    return True


def _static_sequence(w: _Writer) -> int | None:
    info = w.st.infos.get(w.node.input[0])
    if info is None or not info.is_static or len(info.shape or ()) != 3:
        return None
    return int(info.shape[1])  # type: ignore[index]


def _expand(w: _Writer) -> bool:
    op, node = w.node.op_type, w.node
    if op == "Gelu":
        _gelu_erf(w, node.input[0], node.output[0])
    elif op == "BiasGelu":
        _gelu_erf(w, _plus(w, node.input[0], node.input[1]), node.output[0])
    elif op == "FastGelu":
        _gelu_tanh(w, _plus(w, node.input[0], _input(node, 1)), node.output[0])
    elif op == "QuickGelu":
        alpha = float(onnx_attrs(node).get("alpha", 1.702))  # type: ignore[arg-type]
        gate = w.emit("Sigmoid", [w.emit("Mul", [node.input[0], w.scalar(alpha)], "ax")], "gate")
        w.emit("Mul", [node.input[0], gate], out=node.output[0])
    elif op == "FusedMatMul":
        return _fused_matmul(w)
    elif op in ("SkipLayerNormalization", "SkipSimplifiedLayerNormalization"):
        _skip_layer_norm(w, simplified=op == "SkipSimplifiedLayerNormalization")
    elif op == "SimplifiedLayerNormalization":
        _simplified_layer_norm(w)
    elif op == "Attention":
        if int(onnx_attrs(node).get("unidirectional", 0)) and _static_sequence(w) is None:  # type: ignore[arg-type]
            return False  # the causal mask needs the sequence length: after shape inference
        _attention(w)
    else:
        return False
    return True


def expand_contrib_ops(state: "OnnxState") -> bool:
    """Rewrites the com.microsoft ops listed in the module doc in place; whether any was."""
    result: list[onnx.NodeProto] = []
    changed = False
    for node in state.nodes:
        # onnxruntime registers SimplifiedLayerNormalization in the default domain.
        if node.domain == _MS or (node.op_type == "SimplifiedLayerNormalization" and node.domain in ("", "ai.onnx")):
            writer = _Writer(node, state.constants, state=state)
            if _expand(writer):
                result.extend(writer.nodes)
                changed = True
                continue
        result.append(node)
    if changed:
        state.nodes = result
    return changed
