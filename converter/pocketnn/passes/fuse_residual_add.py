"""Folds a residual connection, Add(Conv(...), R) with its fused activation, into the f32
Conv: the Conv reads R as input 3 and writes act(conv + R) (format 1.13, docs/OPS.md).
ResNets and MobileNet V2 end every block so. The runtime's Winograd path adds R in its
output transform, sparing a pass over Y; elsewhere it runs the Add's pass itself.

Runs after compression and quantization (conversion.py), which know Conv with three
inputs only; a Conv that became QConv is not matched."""

from __future__ import annotations

from pocketnn.format.opcodes import ACTIVATIONS
from pocketnn.ir import DType, Graph, Node
from pocketnn.passes.graph_utils import consumer_map, copy_graph, drop_unreferenced_tensors, is_single_use_intermediate, producer_map

_ACT_ATTRS = ("act", "act_alpha", "act_beta")


def _fusable_conv(graph: Graph, add: Node, operand: str, producers: dict[str, Node],
                  consumers: dict[str, list[Node]]) -> Node | None:
    """The Conv writing `operand` when it can take the Add's other operand as its residual."""
    conv = producers.get(operand)
    if conv is None or conv.op != "Conv" or len(conv.inputs) > 3 or conv.attrs.get("act", ACTIVATIONS["none"]):
        return None
    if operand in graph.rounding_points or not is_single_use_intermediate(graph, operand, consumers):
        return None
    return conv


def _winograd_shaped(graph: Graph, conv: Node) -> bool:
    """A 3x3, stride 1, undilated, ungrouped Conv: the shape the runtime runs Winograd
    on (given enough channels and tiles), whose output transform adds R for free."""
    a = conv.attrs
    return (graph.tensors[conv.inputs[1]].shape[2:] == (3, 3) and int(a.get("group", 1)) == 1  # type: ignore[arg-type]
            and all(int(v) == 1 for v in a.get("strides", [1, 1]))  # type: ignore[union-attr]
            and all(int(v) == 1 for v in a.get("dilations", [1, 1])))  # type: ignore[union-attr]


def _residual_add(graph: Graph, add: Node) -> bool:
    """An f32 Add of two activations of the output's shape (no broadcasting)."""
    if add.op != "Add" or len(add.inputs) != 2 or len(add.outputs) != 1:
        return False
    out = graph.tensors[add.outputs[0]]
    operands = [graph.tensors[name] for name in add.inputs if name]
    return len(operands) == 2 and all(
        t.dtype == DType.F32 and not t.is_constant and t.shape == out.shape for t in operands) \
        and out.dtype == DType.F32


def fuse_residual_add(graph: Graph) -> Graph:
    g = copy_graph(graph)
    producers = producer_map(g)
    consumers = consumer_map(g)
    position = {id(node): i for i, node in enumerate(g.nodes)}
    replaced: dict[int, Node] = {}  # id(Add) -> the Conv that now stands in its place
    moved: set[int] = set()
    for add in g.nodes:
        if not _residual_add(g, add):
            continue
        candidates = [(conv, other) for operand, other in (add.inputs, add.inputs[::-1])
                      if (conv := _fusable_conv(g, add, operand, producers, consumers)) is not None
                      and id(conv) not in moved]
        if not candidates:
            continue
        # Of two Convs (a projection shortcut), the Winograd-shaped one (ResNet-18's 3x3
        # rather than its strided 1x1); else the latest, as the Conv moves to the Add's
        # place (R may be computed after it) and the latest keeps its inputs alive the
        # shortest.
        conv, residual = max(candidates, key=lambda pair: (_winograd_shaped(g, pair[0]), position[id(pair[0])]))
        inputs = conv.inputs + [""] * (3 - len(conv.inputs))
        conv.inputs = inputs + [residual]
        conv.outputs = list(add.outputs)
        for name in _ACT_ATTRS:
            if name in add.attrs:
                conv.attrs[name] = add.attrs[name]
        producers[add.outputs[0]] = conv
        replaced[id(add)] = conv
        moved.add(id(conv))
    g.nodes = [replaced.get(id(node), node) for node in g.nodes if id(node) not in moved]
    drop_unreferenced_tensors(g)
    return g
