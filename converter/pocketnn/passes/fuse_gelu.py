"""Fuses the exact GELU written out element by element, x * 0.5 * (1 + erf(x / sqrt(2))),
into one Gelu node (approximate 0): exporters (PyTorch's F.gelu before opset 20,
Whisper-style encoders such as pipecat-ai's smart-turn) emit it as Div (or Mul by
1/sqrt(2)), Erf, Add 1 and two Muls, five passes over the activation where the Gelu
kernel makes one. Recognized orders of the two Muls (c = erf(x / sqrt(2)) + 1):
  x * (0.5 * c),  (x * c) * 0.5,  (x * 0.5) * c.
Every value between x and the result must be read once, be no graph output and no
rounding point of a QDQ model; x itself may have other readers."""

from __future__ import annotations

import math

import numpy as np

from pocketnn.ir import Graph, Node
from pocketnn.passes.graph_utils import (
    consumer_map,
    copy_graph,
    drop_unreferenced_tensors,
    is_single_use_intermediate,
    producer_map,
)

_SQRT2 = math.sqrt(2.0)


def _scalar(graph: Graph, name: str) -> float | None:
    value = graph.constant(name)
    if value is None or value.size != 1:
        return None
    return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])


def _is(value: float | None, target: float) -> bool:
    return value is not None and math.isclose(value, target, rel_tol=1e-6)


def _other_input(node: Node, name: str) -> str | None:
    """The input of the binary `node` that is not `name` (None if it reads `name` twice)."""
    if len(node.inputs) != 2 or node.inputs.count(name) != 1:
        return None
    return node.inputs[1] if node.inputs[0] == name else node.inputs[0]


def _erf_argument(graph: Graph, erf: Node, producers: dict[str, Node]) -> tuple[str, Node] | None:
    """(x, the Div or Mul node) when the Erf reads x / sqrt(2) or x * (1/sqrt(2))."""
    scaled = producers.get(erf.inputs[0])
    if scaled is None or len(scaled.inputs) != 2:
        return None
    x, divisor = scaled.inputs
    if scaled.op == "Div" and _is(_scalar(graph, divisor), _SQRT2):
        return x, scaled
    if scaled.op == "Mul":
        for x, factor in (scaled.inputs, scaled.inputs[::-1]):
            if _is(_scalar(graph, factor), 1.0 / _SQRT2) and graph.constant(x) is None:
                return x, scaled
    return None


def _single_reader(graph: Graph, name: str, consumers: dict[str, list[Node]], op: str) -> Node | None:
    if name in graph.rounding_points or not is_single_use_intermediate(graph, name, consumers):
        return None
    reader = consumers[name][0]
    return reader if reader.op == op else None


def _gelu_tail(graph: Graph, x: str, c: str, consumers: dict[str, list[Node]],
               producers: dict[str, Node]) -> list[Node] | None:
    """The Muls that turn c = 1 + erf(..) into the result, in graph order, or None."""
    first = _single_reader(graph, c, consumers, "Mul")
    other = None if first is None else _other_input(first, c)
    if first is None or other is None:
        return None
    if other == x or _is(_scalar(graph, other), 0.5):  # (x * c) * 0.5, x * (0.5 * c)
        second = _single_reader(graph, first.outputs[0], consumers, "Mul")
        rest = None if second is None else _other_input(second, first.outputs[0])
        if second is None or rest is None:
            return None
        complete = _is(_scalar(graph, rest), 0.5) if other == x else rest == x
        return [first, second] if complete else None
    half = producers.get(other)  # (x * 0.5) * c
    if (half is None or half.op != "Mul" or other in graph.rounding_points
            or not is_single_use_intermediate(graph, other, consumers)):
        return None
    factor = _other_input(half, x)
    return [half, first] if factor is not None and _is(_scalar(graph, factor), 0.5) else None


def fuse_gelu(graph: Graph) -> Graph:
    g = copy_graph(graph)
    producers = producer_map(g)
    consumers = consumer_map(g)
    removed: set[int] = set()
    replaced: dict[int, Node] = {}
    for erf in g.nodes:
        if erf.op != "Erf" or id(erf) in removed:
            continue
        argument = _erf_argument(g, erf, producers)
        if argument is None:
            continue
        x, scaled = argument
        if (erf.inputs[0] in g.rounding_points
                or not is_single_use_intermediate(g, erf.inputs[0], consumers)):
            continue
        add = _single_reader(g, erf.outputs[0], consumers, "Add")
        one = None if add is None else _other_input(add, erf.outputs[0])
        if add is None or one is None or not _is(_scalar(g, one), 1.0):
            continue
        tail = _gelu_tail(g, x, add.outputs[0], consumers, producers)
        if tail is None:
            continue
        last = tail[-1]
        fused = Node("Gelu", erf.name, [x], [last.outputs[0]], {"approximate": 0})
        removed.update(id(n) for n in (scaled, erf, add, *tail))
        replaced[id(last)] = fused
    g.nodes = [replaced.get(id(n), n) for n in g.nodes if id(n) not in removed or id(n) in replaced]
    drop_unreferenced_tensors(g)
    return g
