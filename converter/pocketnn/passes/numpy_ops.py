"""numpy evaluation of the simple pocketnn ops, for folding constant subgraphs after
lowering (docs/OPS.md semantics). Heavy ops (Conv, pools, Resize...) are not folded."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from pocketnn.ir import Node

_erf = np.vectorize(math.erf, otypes=[np.float64])

_UNARY: dict[str, Callable[[np.ndarray, Node], np.ndarray]] = {
    "Relu": lambda x, n: np.maximum(x, 0),
    "Sigmoid": lambda x, n: 1.0 / (1.0 + np.exp(-x)),
    "Tanh": lambda x, n: np.tanh(x),
    "Erf": lambda x, n: _erf(x),
    "Exp": lambda x, n: np.exp(x),
    "Sqrt": lambda x, n: np.sqrt(x),
    "Abs": lambda x, n: np.abs(x),
    "Neg": lambda x, n: -x,
    "Log": lambda x, n: np.log(x),
    "Reciprocal": lambda x, n: 1.0 / x,
    "Softplus": lambda x, n: np.logaddexp(0.0, x),
    "Floor": lambda x, n: np.floor(x),
    "Ceil": lambda x, n: np.ceil(x),
    "Sign": lambda x, n: np.sign(x),
    "Identity": lambda x, n: x,
    "Clip": lambda x, n: np.minimum(np.maximum(x, n.attrs.get("min", -np.inf)), n.attrs.get("max", np.inf)),
    "LeakyRelu": lambda x, n: np.where(x >= 0, x, float(n.attrs.get("alpha", 0.01)) * x),  # type: ignore[arg-type]
    "HardSigmoid": lambda x, n: np.clip(float(n.attrs.get("alpha", 0.2)) * x  # type: ignore[arg-type]
                                        + float(n.attrs.get("beta", 0.5)), 0, 1),  # type: ignore[arg-type]
    "HardSwish": lambda x, n: x * np.clip(x / 6.0 + 0.5, 0, 1),
    "Elu": lambda x, n: np.where(x > 0, x, float(n.attrs.get("alpha", 1.0)) * (np.exp(x) - 1)),  # type: ignore[arg-type]
    "Gelu": lambda x, n: _gelu(x, int(n.attrs.get("approximate", 0))),  # type: ignore[arg-type]
}

_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
    "Pow": np.power, "Max": np.maximum, "Min": np.minimum,
    "PRelu": lambda x, s: np.where(x < 0, x * s, x),
}


def _gelu(x: np.ndarray, approximate: int) -> np.ndarray:
    if approximate:
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def apply_fused_activation(y: np.ndarray, node: Node) -> np.ndarray:
    act = int(node.attrs.get("act", 0))  # type: ignore[arg-type]
    alpha = float(node.attrs.get("act_alpha", 0.0))  # type: ignore[arg-type]
    beta = float(node.attrs.get("act_beta", 0.0))  # type: ignore[arg-type]
    table: dict[int, Callable[[np.ndarray], np.ndarray]] = {
        0: lambda v: v,
        1: lambda v: np.maximum(v, 0),
        2: lambda v: np.minimum(np.maximum(v, alpha), beta),
        3: lambda v: np.where(v >= 0, v, alpha * v),
        4: lambda v: 1.0 / (1.0 + np.exp(-v)),
        5: lambda v: np.clip(alpha * v + beta, 0, 1),
        6: lambda v: v * np.clip(v / 6.0 + 0.5, 0, 1),
        7: np.tanh,
        8: lambda v: v / (1.0 + np.exp(-v)),
    }
    return table[act](y)


def _slice(x: np.ndarray, node: Node, out_shape: tuple[int, ...]) -> np.ndarray:
    starts = [int(s) for s in node.attrs["starts"]]  # type: ignore[union-attr]
    steps = [int(s) for s in node.attrs["steps"]]  # type: ignore[union-attr]
    index = tuple(np.arange(n) * step + start for start, step, n in zip(starts, steps, out_shape))
    return x[np.ix_(*index)] if x.ndim else x


def evaluate(node: Node, inputs: list[np.ndarray], out_shapes: list[tuple[int, ...]]
             ) -> list[np.ndarray] | None:
    """The outputs of `node` (float64/float32 arrays), or None when not supported here."""
    op = node.op
    x = inputs[0].astype(np.float64) if inputs[0].dtype != np.int32 else inputs[0]
    if op in _UNARY:
        return [_UNARY[op](x, node)]
    if op in _BINARY:
        y = _BINARY[op](x, inputs[1].astype(np.float64))
        return [apply_fused_activation(y, node) if op in ("Add", "Mul") else y]
    if op == "Reshape":
        return [x.reshape(out_shapes[0])]
    if op == "Transpose":
        return [np.transpose(x, [int(p) for p in node.attrs["perm"]])]  # type: ignore[union-attr]
    if op == "Concat":
        return [np.concatenate([i.astype(np.float64) for i in inputs], axis=int(node.attrs["axis"]))]  # type: ignore[arg-type]
    if op == "Gather":
        return [np.take(x, inputs[1].astype(np.int64), axis=int(node.attrs["axis"]))]  # type: ignore[arg-type]
    if op == "Slice":
        return [_slice(x, node, out_shapes[0])]
    if op == "Split":
        axis = int(node.attrs["axis"])  # type: ignore[arg-type]
        bounds = np.cumsum([s[axis] for s in out_shapes])[:-1]
        return list(np.split(x, bounds, axis=axis))
    return None
