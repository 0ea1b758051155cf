"""Moves Transposes down the graph until they meet their inverse and cancel.

Models exported from TensorFlow (tf2onnx, Keras) compute in NHWC: every convolution
sits between a Transpose to NCHW and one back, and the element-wise ops, Concats and
reductions between convolutions run in NHWC. A Transpose is pushed below an op that
does not care about the order of axes (the op then runs on the untransposed tensor,
its constant operands permuted to match); two Transposes in a row become one, and one
whose permutation is the identity disappears (one that moves only axes of size 1
becomes a Reshape). What remains of a tf2onnx CNN is the
Transpose of the NHWC input and, where the model ends in NHWC, one at the end.

A Transpose moves only when it is its tensor's one reader's sole path (the tensor is
read once and is no graph output), so no value is computed twice.
"""

from __future__ import annotations

import numpy as np

from pocketnn.ir import Graph, Node, Tensor
from pocketnn.passes.graph_utils import (consumer_map, copy_graph, drop_unreferenced_tensors, fresh_tensor_name,
                                         producer_map)

# Element-wise ops of one input whose output has the input's shape.
_UNARY = frozenset({"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu",
                    "Exp", "Sqrt", "Abs", "Neg", "Log", "Reciprocal", "Softplus", "Elu", "Floor", "Ceil", "Sign"})
# Element-wise ops of two (Where: three) broadcasting inputs.
_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu",
                     "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Where"})
_REDUCE = frozenset({"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin"})


def _perm(node: Node) -> list[int]:
    return [int(p) for p in node.attrs["perm"]]  # type: ignore[union-attr]


def _inverse(perm: list[int]) -> list[int]:
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return inverse


class _Sinker:
    def __init__(self, graph: Graph) -> None:
        self.g = graph

    def fresh(self, base: str, shape: tuple[int, ...], like: str) -> str:
        name = fresh_tensor_name(self.g, f"{base}__nhwc")
        self.g.tensors[name] = Tensor(name, self.g.tensors[like].dtype, shape)
        return name

    def single_reader(self, name: str, consumers: dict[str, list[Node]]) -> Node | None:
        readers = consumers.get(name, [])
        if name in self.g.outputs or len(readers) != 1:
            return None
        return readers[0]

    def move_after(self, moved: Node, anchor: Node) -> None:
        self.g.nodes.remove(moved)
        self.g.nodes.insert(self.g.nodes.index(anchor) + 1, moved)

    def swap(self, transpose: Node, op: Node, new_inputs: list[str], perm: list[int]) -> None:
        """op(..., T(x), ...) -> T(op(..., x, ...)): op reads `new_inputs` and writes a new
        untransposed tensor; the Transpose (with `perm`) then writes op's old output."""
        out = op.outputs[0]
        shape = tuple(self.g.tensors[out].shape[i] for i in _inverse(perm))
        middle = self.fresh(out, shape, out)
        op.inputs = new_inputs
        op.outputs = [middle] + op.outputs[1:]
        transpose.inputs = [middle]
        transpose.outputs = [out]
        transpose.attrs = {"perm": list(perm)}
        self.move_after(transpose, op)

    def permuted_constant(self, name: str, perm: list[int], rank: int) -> str | None:
        """The constant `name` broadcast-aligned to `rank` dims and permuted by the
        inverse of `perm` (so T(result) is the original), as a new constant."""
        value = self.g.constant(name)
        if value is None or value.ndim > rank:
            return None
        aligned = value.reshape((1,) * (rank - value.ndim) + value.shape)
        permuted = np.ascontiguousarray(aligned.transpose(_inverse(perm)))
        new = self.fresh(name, tuple(int(d) for d in permuted.shape), name)
        self.g.tensors[new].data = permuted
        return new

    def try_binary(self, transpose: Node, op: Node, consumers: dict[str, list[Node]],
                   producers: dict[str, Node]) -> bool:
        perm, y = _perm(transpose), transpose.outputs[0]
        if op.inputs.count(y) != 1 or self.g.tensors[op.outputs[0]].shape != self.g.tensors[y].shape:
            return False
        inputs = list(op.inputs)
        position = inputs.index(y)
        for index, other in enumerate(inputs):
            if index == position:
                continue
            other_producer = producers.get(other)
            if other_producer is not None and other_producer.op == "Transpose" and _perm(other_producer) == perm \
                    and self.single_reader(other, consumers) is op:
                inputs[index] = other_producer.inputs[0]
            elif self.g.tensors[other].is_constant:
                permuted = self.permuted_constant(other, perm, len(perm))
                if permuted is None:
                    return False
                inputs[index] = permuted
            elif int(np.prod(self.g.tensors[other].shape)) != 1:
                return False
        inputs[position] = transpose.inputs[0]
        self.swap(transpose, op, inputs, perm)
        return True

    def try_pad(self, transpose: Node, op: Node) -> bool:
        """Pad(T(x)) = T(Pad'(x)): each axis's pads move to the axis it came from."""
        perm = _perm(transpose)
        pads = [int(p) for p in op.attrs["pads"]]  # type: ignore[union-attr]
        rank = len(perm)
        if len(pads) != 2 * rank:
            return False
        moved = [0] * (2 * rank)
        for i, source in enumerate(perm):
            moved[source], moved[rank + source] = pads[i], pads[rank + i]
        op.attrs["pads"] = moved
        self.swap(transpose, op, [transpose.inputs[0]], perm)
        return True

    def try_concat(self, transpose: Node, op: Node, consumers: dict[str, list[Node]],
                   producers: dict[str, Node]) -> bool:
        perm = _perm(transpose)
        sources = []
        for name in op.inputs:
            producer = producers.get(name)
            if producer is None or producer.op != "Transpose" or _perm(producer) != perm \
                    or self.single_reader(name, consumers) is not op:
                return False
            sources.append(producer.inputs[0])
        op.attrs["axis"] = perm[int(op.attrs["axis"])]  # type: ignore[arg-type]
        self.swap(transpose, op, sources, perm)
        return True

    def try_reduce(self, transpose: Node, op: Node) -> bool:
        perm = _perm(transpose)
        axes = [int(a) for a in op.attrs["axes"]]  # type: ignore[union-attr]
        source_axes = sorted(perm[a] for a in axes)
        op.attrs["axes"] = source_axes
        if int(op.attrs.get("keepdims", 1)):  # type: ignore[arg-type]
            self.swap(transpose, op, [transpose.inputs[0]], perm)
            return True
        # Without the reduced axes the output's order of the kept axes is perm's.
        kept = [p for p in perm if p not in source_axes]
        rank_of = {axis: i for i, axis in enumerate(sorted(kept))}
        self.swap(transpose, op, [transpose.inputs[0]], [rank_of[a] for a in kept])
        return True

    def keeps_memory_order(self, x: str, perm: list[int]) -> bool:
        shape = self.g.tensors[x].shape
        moved = [axis for axis in perm if shape[axis] != 1]
        return moved == sorted(moved)

    def step(self) -> bool:
        """One change somewhere in the graph; False when there is nothing left to do."""
        consumers, producers = consumer_map(self.g), producer_map(self.g)
        for node in list(self.g.nodes):
            if node.op != "Transpose":
                continue
            perm, x, y = _perm(node), node.inputs[0], node.outputs[0]
            if perm == list(range(len(perm))) and y not in self.g.outputs:
                for reader in consumers.get(y, []):
                    reader.inputs = [x if name == y else name for name in reader.inputs]
                self.g.nodes.remove(node)
                return True
            if self.keeps_memory_order(x, perm):
                node.op, node.attrs = "Reshape", {}  # only axes of size 1 move: no data does
                return True
            before = producers.get(x)
            if before is not None and before.op == "Transpose":
                # T2(T1(z)) = T(z) with T's perm[i] = perm1[perm2[i]].
                node.inputs = [before.inputs[0]]
                node.attrs = {"perm": [_perm(before)[p] for p in perm]}
                return True
            reader = self.single_reader(y, consumers)
            if reader is None:
                continue
            if reader.op in _UNARY and reader.inputs[0] == y:
                self.swap(node, reader, [x] + reader.inputs[1:], perm)
                return True
            if reader.op in _BINARY and (reader.op != "PRelu" or reader.inputs[0] == y) and self.try_binary(node, reader, consumers, producers):
                return True
            if reader.op == "Pad" and reader.inputs[0] == y and len(reader.inputs) == 1 and self.try_pad(node, reader):
                return True
            if reader.op == "Concat" and self.try_concat(node, reader, consumers, producers):
                return True
            if reader.op in _REDUCE and "axes" in reader.attrs and self.try_reduce(node, reader):
                return True
        return False


def sink_transposes(graph: Graph) -> Graph:
    g = copy_graph(graph)
    sinker = _Sinker(g)
    # Each step removes or merges a Transpose or moves one below an op: bounded by nodes^2.
    # Transposes left without readers are removed by remove_dead_nodes after this pass.
    for _ in range(4 * len(g.nodes) ** 2 + 1):
        if not sinker.step():
            break
    drop_unreferenced_tensors(g)
    return g
