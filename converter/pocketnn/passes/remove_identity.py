"""Drops Identity nodes, keeping one only where a graph output would otherwise alias a
graph input, a constant or another graph output."""

from __future__ import annotations

from pocketnn.ir import Graph
from pocketnn.passes.graph_utils import copy_graph, drop_unreferenced_tensors, producer_map


def remove_identity(graph: Graph) -> Graph:
    g = copy_graph(graph)
    kept = []
    for node in g.nodes:
        if node.op != "Identity":
            kept.append(node)
            continue
        src, dst = node.inputs[0], node.outputs[0]
        if dst not in g.outputs:
            for other in g.nodes:
                other.inputs = [src if n == dst else n for n in other.inputs]
            continue
        producer = producer_map(g).get(src)
        src_is_plain = (producer is not None and src not in g.outputs and src not in g.inputs)
        if not src_is_plain:
            kept.append(node)
            continue
        # The producer writes the graph output directly.
        producer.outputs = [dst if n == src else n for n in producer.outputs]
        for other in g.nodes:
            other.inputs = [dst if n == src else n for n in other.inputs]
    g.nodes = kept
    drop_unreferenced_tensors(g)
    return g
