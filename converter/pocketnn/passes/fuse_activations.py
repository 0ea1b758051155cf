"""Fuses an element-wise activation into the Conv/ConvTranspose/Gemm/MatMul/Add/Mul
before it (attributes act, act_alpha, act_beta of docs/OPS.md), and Swish/SiLU written as
Mul(x, Sigmoid(x)) (YOLOv5+, EfficientNet, ddddocr) as the activation "swish"."""

from __future__ import annotations

import math

from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.ir import AttrValue, Graph, Node
from pocketnn.passes.graph_utils import (
    consumer_map,
    copy_graph,
    drop_unreferenced_tensors,
    is_single_use_intermediate,
    producer_map,
)

# Mul (format 1.14): the dequantizing scale Mul before a Swish in onnxruntime's
# quantize_dynamic output (ddddocr), so the Sigmoid and the Mul pass over x go.
_FUSING_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Mul")
# The activations that may fuse across a rounding point (ir.Graph.rounding_points).
_CLAMPS = (ACTIVATIONS["relu"], ACTIVATIONS["clip"])


def activation_attrs(node: Node) -> dict[str, AttrValue] | None:
    """The fused-activation attributes equivalent to `node`, or None."""
    a = node.attrs
    if node.op == "Relu":
        return {"act": ACTIVATIONS["relu"]}
    if node.op == "Clip":
        low = float(a.get("min", -math.inf))  # type: ignore[arg-type]
        high = float(a.get("max", math.inf))  # type: ignore[arg-type]
        if low == 0.0 and high == math.inf:
            return {"act": ACTIVATIONS["relu"]}
        return {"act": ACTIVATIONS["clip"], "act_alpha": low, "act_beta": high}
    if node.op == "LeakyRelu":
        return {"act": ACTIVATIONS["leaky_relu"], "act_alpha": float(a.get("alpha", 0.01))}  # type: ignore[arg-type]
    if node.op == "Sigmoid":
        return {"act": ACTIVATIONS["sigmoid"]}
    if node.op == "HardSigmoid":
        return {"act": ACTIVATIONS["hard_sigmoid"], "act_alpha": float(a.get("alpha", 0.2)),  # type: ignore[arg-type]
                "act_beta": float(a.get("beta", 0.5))}  # type: ignore[arg-type]
    if node.op == "HardSwish":
        return {"act": ACTIVATIONS["hard_swish"]}
    if node.op == "Tanh":
        return {"act": ACTIVATIONS["tanh"]}
    return None


def swish_mul(graph: Graph, sigmoid: Node, consumers: dict[str, list[Node]]) -> Node | None:
    """The Mul that, with `sigmoid`, computes x * sigmoid(x) when the two are the only
    readers of x and the Mul the only reader of sigmoid(x); else None."""
    x, s = sigmoid.inputs[0], sigmoid.outputs[0]
    readers = consumers.get(x, [])
    if len(readers) != 2 or x in graph.outputs or not is_single_use_intermediate(graph, s, consumers):
        return None
    mul = consumers[s][0]
    if mul.op != "Mul" or sorted(mul.inputs) != sorted([x, s]) or mul not in readers:
        return None
    return mul


def fuse_activations(graph: Graph) -> Graph:
    g = copy_graph(graph)
    producers = producer_map(g)
    consumers = consumer_map(g)
    removed: set[int] = set()
    for node in g.nodes:
        if id(node) in removed:
            continue
        mul = swish_mul(g, node, consumers) if node.op == "Sigmoid" else None
        if mul is not None:
            producer = producers.get(node.inputs[0])
            if (producer is not None and producer.op in _FUSING_OPS and not producer.attrs.get("act", 0)
                    and node.inputs[0] not in g.rounding_points):
                producer.attrs["act"] = ACTIVATIONS["swish"]
                producer.outputs = [mul.outputs[0]]
                producers[mul.outputs[0]] = producer
                removed.update((id(node), id(mul)))
                continue
        attrs = activation_attrs(node)
        if attrs is None:
            continue
        x = node.inputs[0]
        producer = producers.get(x)
        if producer is None or producer.op not in _FUSING_OPS or producer.attrs.get("act", 0):
            continue
        if not is_single_use_intermediate(g, x, consumers):
            continue
        if x in g.rounding_points and attrs["act"] not in _CLAMPS:
            continue
        # The fused op writes the activation's output with the activation's shape; an
        # elementwise op keeps the shape, so nothing else changes.
        producer.attrs.update(attrs)
        producer.outputs = [node.outputs[0]]
        producers[node.outputs[0]] = producer
        removed.add(id(node))
    g.nodes = [n for n in g.nodes if id(n) not in removed]
    drop_unreferenced_tensors(g)
    return g
