"""Helpers shared by the passes: copying a Graph and querying its dataflow."""

from __future__ import annotations

import copy
import dataclasses

from pocketnn.ir import Graph, Node


def copy_graph(graph: Graph) -> Graph:
    """A copy whose nodes, attribute lists and tensor records can be changed freely.
    Constant arrays are shared: passes replace them, never write into them."""
    return Graph(
        tensors={name: dataclasses.replace(t) for name, t in graph.tensors.items()},
        nodes=[Node(n.op, n.name, list(n.inputs), list(n.outputs), copy.deepcopy(n.attrs))
               for n in graph.nodes],
        inputs=list(graph.inputs),
        outputs=list(graph.outputs),
        metadata=dict(graph.metadata),
        rounding_points=graph.rounding_points,
    )


def fresh_tensor_name(graph: Graph, base: str) -> str:
    """``base``, or ``base_2``, ``base_3``, ... : the first name no tensor of the graph has."""
    name, suffix = base, 1
    while name in graph.tensors:
        suffix += 1
        name = f"{base}_{suffix}"
    return name


def consumer_map(graph: Graph) -> dict[str, list[Node]]:
    """tensor name -> nodes reading it (a node reading a tensor twice appears once)."""
    result: dict[str, list[Node]] = {}
    for node in graph.nodes:
        for name in dict.fromkeys(n for n in node.inputs if n):
            result.setdefault(name, []).append(node)
    return result


def producer_map(graph: Graph) -> dict[str, Node]:
    return {out: node for node in graph.nodes for out in node.outputs if out}


def rename_input(graph: Graph, old: str, new: str) -> None:
    """Every node reading `old` reads `new` instead."""
    for node in graph.nodes:
        node.inputs = [new if name == old else name for name in node.inputs]


def drop_unreferenced_tensors(graph: Graph) -> None:
    used = set(graph.inputs) | set(graph.outputs)
    for node in graph.nodes:
        used.update(n for n in node.inputs if n)
        used.update(n for n in node.outputs if n)
    graph.tensors = {name: t for name, t in graph.tensors.items() if name in used}


def is_single_use_intermediate(graph: Graph, name: str, consumers: dict[str, list[Node]]) -> bool:
    """True when `name` is read by exactly one node, once, and is not a graph output."""
    readers = consumers.get(name, [])
    return (len(readers) == 1 and readers[0].inputs.count(name) == 1
            and name not in graph.outputs)
