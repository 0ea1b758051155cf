"""Drops nodes and constants that do not reach a graph output."""

from __future__ import annotations

from pocketnn.ir import Graph
from pocketnn.passes.graph_utils import copy_graph, drop_unreferenced_tensors


def remove_dead_nodes(graph: Graph) -> Graph:
    g = copy_graph(graph)
    live = set(g.outputs)
    kept = []
    for node in reversed(g.nodes):
        if any(out in live for out in node.outputs if out):
            kept.append(node)
            live.update(n for n in node.inputs if n)
    g.nodes = list(reversed(kept))
    drop_unreferenced_tensors(g)
    return g
