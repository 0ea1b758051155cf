"""Splits a fused activation that has no u8 clamp form back out of its layer, so the
layer can become QConv/QGemm and the activation a QLookup (a 256-entry table).

The float passes fuse HardSwish, HardSigmoid, Sigmoid and Tanh into the Conv or Gemm
before them (one pass over memory in float). An integer layer can only clamp its u8
output (ReLU, Clip), so without this split such a layer, and its weights, stays float.
Runs before calibration, which then observes the pre-activation tensor as well.
"""

from __future__ import annotations

from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.ir import AttrValue, Graph, Node, Tensor
from pocketnn.passes.graph_utils import copy_graph, fresh_tensor_name

# fused act code -> the standalone op (quantize_graph.LOOKUP_OPS) and its attributes
_LOOKUP_ACTS = {
    ACTIVATIONS["sigmoid"]: "Sigmoid",
    ACTIVATIONS["hard_sigmoid"]: "HardSigmoid",
    ACTIVATIONS["hard_swish"]: "HardSwish",
    ACTIVATIONS["tanh"]: "Tanh",
}
_LAYER_OPS = ("Conv", "Gemm", "MatMul")


def _has_constant_weights(graph: Graph, node: Node) -> bool:
    return len(node.inputs) > 1 and graph.constant(node.inputs[1]) is not None


def split_lookup_activations(graph: Graph) -> Graph:
    """A copy of `graph` where every Conv/Gemm/MatMul with constant weights and a fused
    Sigmoid/HardSigmoid/HardSwish/Tanh writes its pre-activation tensor, read by the
    activation as its own node."""
    g = copy_graph(graph)
    nodes: list[Node] = []
    for node in g.nodes:
        nodes.append(node)
        act = int(node.attrs.get("act", 0))  # type: ignore[arg-type]
        if node.op not in _LAYER_OPS or act not in _LOOKUP_ACTS or not _has_constant_weights(g, node):
            continue
        out = g.tensors[node.outputs[0]]
        pre = fresh_tensor_name(g, f"{out.name}_preact")
        g.tensors[pre] = Tensor(pre, out.dtype, out.shape)
        attrs: dict[str, AttrValue] = {}
        if act == ACTIVATIONS["hard_sigmoid"]:
            attrs = {"alpha": node.attrs["act_alpha"], "beta": node.attrs["act_beta"]}
        node.attrs = {k: v for k, v in node.attrs.items() if k not in ("act", "act_alpha", "act_beta")}
        node.outputs = [pre]
        nodes.append(Node(_LOOKUP_ACTS[act], f"{node.name}_act", [pre], [out.name], attrs))
    g.nodes = nodes
    return g
