"""ONNX control flow resolved at convert time.

An `If` whose condition is a constant (often after an input is bound: `--bind sr=16000`)
is replaced by the nodes of the branch it takes. The runtime has no control flow: an
`If` whose condition depends on a runtime value stays, and is refused with a message that
names the inputs to bind.

Names defined inside a branch are made unique by prefixing the If node's name; names the
branch reads from the enclosing graph are kept (ONNX forbids a subgraph to redefine an
outer name, so renaming every occurrence inside the branch, nested subgraphs included,
is exact).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from pocketnn.errors import ModelError

SUBGRAPH_OPS = frozenset({"If", "Loop", "Scan", "SequenceMap"})


def _subgraphs(node: onnx.NodeProto) -> Iterable[onnx.GraphProto]:
    for attr in node.attribute:
        if attr.type == onnx.AttributeProto.GRAPH:
            yield attr.g
        elif attr.type == onnx.AttributeProto.GRAPHS:
            yield from attr.graphs


def _defined_in(graph: onnx.GraphProto) -> set[str]:
    names = {vi.name for vi in graph.input} | {t.name for t in graph.initializer}
    for node in graph.node:
        names.update(o for o in node.output if o)
        for sub in _subgraphs(node):
            names |= _defined_in(sub)
    return names


def outer_references(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs read from the enclosing scopes (its implicit inputs)."""
    refs: set[str] = set()
    for sub in _subgraphs(node):
        inner = _defined_in(sub)
        for inner_node in sub.node:
            refs.update(n for n in inner_node.input if n and n not in inner)
            refs.update(r for r in outer_references(inner_node) if r not in inner)
        refs.update(o.name for o in sub.output if o.name not in inner)
    return refs


def node_reads(node: onnx.NodeProto) -> list[str]:
    """Every name a node reads: its inputs, then what its subgraphs take from outside."""
    reads = [n for n in node.input if n]
    if node.op_type in SUBGRAPH_OPS:
        reads.extend(sorted(outer_references(node) - set(reads)))
    return reads


def _rename_graph(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    for node in graph.node:
        node.input[:] = [renames.get(n, n) for n in node.input]
        node.output[:] = [renames.get(n, n) for n in node.output]
        for sub in _subgraphs(node):
            _rename_graph(sub, renames)
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        vi.name = renames.get(vi.name, vi.name)
    for tensor in graph.initializer:
        tensor.name = renames.get(tensor.name, tensor.name)


def _branch(node: onnx.NodeProto, taken: bool) -> onnx.GraphProto:
    wanted = "then_branch" if taken else "else_branch"
    for attr in node.attribute:
        if attr.name == wanted and attr.type == onnx.AttributeProto.GRAPH:
            return attr.g
    raise ModelError(f"node '{node.name}' (If) has no {wanted} graph")


def _condition(node: onnx.NodeProto, value: np.ndarray) -> bool:
    if value.size != 1:
        raise ModelError(f"node '{node.name}' (If): condition '{node.input[0]}' has {value.size} "
                         f"elements; ONNX wants one")
    return bool(value.reshape(()).item())


def instantiate(graph: onnx.GraphProto, prefix: str, taken_names: set[str]
                ) -> tuple[onnx.GraphProto, list[onnx.NodeProto], dict[str, np.ndarray]]:
    """A copy of the subgraph `graph` with every name it defines renamed apart from
    `taken_names` under `prefix` (names it reads from outside kept), its nodes named
    under `prefix`, and its initializers as constants. The copy's inputs and outputs
    carry the new names, so a caller binds the inputs and reads the outputs. The new
    names are added to `taken_names`."""
    copy = onnx.GraphProto()
    copy.CopyFrom(graph)
    renames: dict[str, str] = {}
    for name in sorted(_defined_in(copy)):
        new, k = prefix + name, 1
        while new in taken_names:
            new, k = f"{prefix}{name}_{k}", k + 1
        renames[name] = new
        taken_names.add(new)
    _rename_graph(copy, renames)
    constants = {t.name: numpy_helper.to_array(t) for t in copy.initializer}
    nodes: list[onnx.NodeProto] = []
    for i, inner in enumerate(copy.node):
        inner.name = f"{prefix}{inner.name or f'{inner.op_type}_{i}'}"
        nodes.append(inner)
    return copy, nodes, constants


def inline_branch(node: onnx.NodeProto, cond: np.ndarray, taken_names: set[str]
                  ) -> tuple[list[onnx.NodeProto], dict[str, np.ndarray]]:
    """The nodes that replace `node` (an If with condition value `cond`) and the branch's
    initializers, renamed apart from `taken_names` (every name in use outside)."""
    branch = _branch(node, _condition(node, cond))
    if len(branch.output) != len(node.output):
        raise ModelError(f"node '{node.name}' (If): the branch has {len(branch.output)} outputs, "
                         f"the node {len(node.output)}")
    prefix = f"{node.name}/"
    renamed, nodes, constants = instantiate(branch, prefix, taken_names)
    # The If's outputs become copies of the branch's (a branch may return an outer name).
    for branch_out, out in zip(renamed.output, node.output):
        if out:
            nodes.append(helper.make_node("Identity", [branch_out.name], [out], name=f"{prefix}{out}/out"))
    return nodes, constants


def inline_constant_ifs(nodes: list[onnx.NodeProto], constants: dict[str, np.ndarray],
                        taken_names: set[str]) -> tuple[list[onnx.NodeProto], bool]:
    """Replaces every top-level If whose condition is in `constants` by its branch
    (adding the branch's initializers to `constants`); returns the nodes and whether any
    If was inlined."""
    result: list[onnx.NodeProto] = []
    changed = False
    for node in nodes:
        if node.op_type == "If" and node.domain in ("", "ai.onnx") and node.input \
                and node.input[0] in constants:
            inlined, branch_constants = inline_branch(node, constants[node.input[0]], taken_names)
            taken_names.update(branch_constants)
            taken_names.update(o for n in inlined for o in n.output)
            constants.update(branch_constants)
            result.extend(inlined)
            changed = True
        else:
            result.append(node)
    return result, changed


def depends_on(node: onnx.NodeProto, nodes: list[onnx.NodeProto], inputs: Iterable[str]) -> list[str]:
    """The graph inputs among `inputs` that `node`'s first input (an If's condition) is computed from."""
    producers = {o: n for n in nodes for o in n.output if o}
    targets = set(inputs)
    found: set[str] = set()
    stack, seen = [node.input[0]] if node.input else [], set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in targets:
            found.add(name)
        producer = producers.get(name)
        if producer is not None:
            stack.extend(node_reads(producer))
    return sorted(found)
