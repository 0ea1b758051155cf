"""Whole-network channel rearrangement (SparseByteNN): permute layers' output channels
so that channels with similar pruning masks share a group, and fold each permutation
into every tensor that sees those channels, so the network computes the same function.

Tensors whose channel axis must share one order form a *component* (union-find over
channel-preserving ops: activations, element-wise ops, pools, depthwise convs,
BatchNormalization, residual Adds). A component's channels are produced by *sources*
(Conv with group 1, Gemm, 2-D MatMul: permute their weight rows and bias) and read by
*sinks* (the same ops: permute their weight's input columns). Concat along channels and
Flatten->Gemm make *derived* components whose order is built from their inputs' orders
(offset blocks, channel blocks of H*W). A component touching a graph input or output or
an op that mixes channels in another way keeps its order (the layer is not permuted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pocketnn.ir import Graph, Node
from pocketnn.passes.graph_utils import consumer_map, copy_graph, producer_map

UNARY = {"Relu", "Clip", "LeakyRelu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Erf", "Gelu",
         "Exp", "Sqrt", "Abs", "Neg", "Log", "Reciprocal", "Softplus", "Elu", "Floor", "Ceil", "Sign", "Identity",
         "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"}
BINARY = {"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "PRelu"}


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


@dataclass
class _Derived:
    """A tensor whose channel order is built from other tensors' orders."""
    parts: list[tuple[str, int]]  # (input tensor, channels) in channel order (Concat)
    expand: int = 1               # Flatten: each channel is `expand` consecutive features


@dataclass
class Components:
    uf: _UnionFind
    channels: dict[str, int]                 # root -> channel count
    members: dict[str, list[str]]            # root -> tensors
    blocked: set[str]                        # roots whose order must stay
    sources: dict[str, list[Node]] = field(default_factory=dict)
    derived: dict[str, _Derived] = field(default_factory=dict)  # tensor -> recipe

    def root(self, tensor: str) -> str:
        return self.uf.find(tensor)


def _is_source(graph: Graph, node: Node) -> bool:
    """Output channels = rows of a constant weight we may permute."""
    w = graph.constant(node.inputs[1]) if len(node.inputs) > 1 else None
    if w is None or node.inputs[0] in graph.tensors and graph.tensors[node.inputs[0]].is_constant:
        return False
    out = graph.tensors[node.outputs[0]]
    if node.op == "Conv":
        return int(node.attrs.get("group", 1)) == 1 and w.ndim == 4  # type: ignore[arg-type]
    if node.op == "Gemm":
        return int(node.attrs.get("trans_a", 0)) == 0 and w.ndim == 2 and len(out.shape) == 2  # type: ignore[arg-type]
    if node.op == "MatMul":
        return w.ndim == 2 and len(out.shape) == 2 and len(graph.tensors[node.inputs[0]].shape) == 2
    return False


def is_depthwise(graph: Graph, node: Node) -> bool:
    if node.op != "Conv" or graph.constant(node.inputs[1]) is None:
        return False
    c = graph.tensors[node.inputs[0]].shape[1]
    w = graph.constant(node.inputs[1])
    return int(node.attrs.get("group", 1)) == c and w is not None and w.shape[0] == c and w.shape[1] == 1  # type: ignore[arg-type]


def _channel_ok_constant(const_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> bool:
    """A constant operand broadcast against a channel-carrying output: its aligned
    channel axis is 1 (broadcast) or the full channel count (we permute it)."""
    axis = 1 - (len(out_shape) - len(const_shape))
    if axis < 0:
        return True
    return const_shape[axis] in (1, out_shape[1])


def _is_flatten(graph: Graph, node: Node, consumers: dict[str, list[Node]]) -> bool:
    if node.op != "Reshape":
        return False
    src, dst = graph.tensors[node.inputs[0]].shape, graph.tensors[node.outputs[0]].shape
    return len(src) >= 3 and len(dst) == 2 and dst[0] == src[0] and dst[1] == int(np.prod(src[1:]))


def build_components(graph: Graph) -> Components:
    uf = _UnionFind()
    consumers = consumer_map(graph)
    blocked_tensors: set[str] = set(graph.inputs) | set(graph.outputs)
    sources: list[Node] = []
    derived: dict[str, _Derived] = {}
    activations = [n for n, t in graph.tensors.items() if not t.is_constant]
    for name in activations:
        uf.find(name)
    for node in graph.nodes:
        acts = [i for i in node.inputs if i and not graph.tensors[i].is_constant]
        outs = [o for o in node.outputs if o]
        if node.op in ("Conv", "Gemm", "MatMul") and _is_source(graph, node):
            sources.append(node)  # input is a sink, output a source: no union
            continue
        if ((is_depthwise(graph, node) or node.op in UNARY or node.op == "BatchNormalization")
                and len(acts) == 1 and len(outs) == 1 and len(graph.tensors[outs[0]].shape) >= 2):
            uf.union(acts[0], outs[0])
            continue
        if node.op in BINARY and len(outs) == 1:
            out_shape = graph.tensors[outs[0]].shape
            consts = [i for i in node.inputs if i and graph.tensors[i].is_constant]
            if (len(out_shape) >= 2 and all(graph.tensors[a].shape == out_shape for a in acts)
                    and all(_channel_ok_constant(graph.tensors[c].shape, out_shape) for c in consts)):
                for a in acts:
                    uf.union(a, outs[0])
                continue
        if node.op == "Concat" and int(node.attrs.get("axis", -1)) == 1 and not any(  # type: ignore[arg-type]
                graph.tensors[i].is_constant for i in node.inputs if i):
            derived[outs[0]] = _Derived([(i, graph.tensors[i].shape[1]) for i in node.inputs if i])
            continue
        if _is_flatten(graph, node, consumers):
            src = graph.tensors[node.inputs[0]].shape
            derived[outs[0]] = _Derived([(node.inputs[0], src[1])], expand=int(np.prod(src[2:])))
            continue
        # Anything else (including a Conv/Gemm/MatMul that is not a source) mixes or
        # moves channels in a way we do not follow: its tensors keep their order.
        blocked_tensors.update(acts)
        blocked_tensors.update(outs)
    members: dict[str, list[str]] = {}
    for name in activations:
        members.setdefault(uf.find(name), []).append(name)
    channels = {r: graph.tensors[m[0]].shape[1] if len(graph.tensors[m[0]].shape) >= 2 else 0
                for r, m in members.items()}
    blocked = {uf.find(t) for t in blocked_tensors if t in uf.parent}
    blocked |= {r for r, c in channels.items() if c <= 1}
    comps = Components(uf, channels, members, blocked, derived=derived)
    for node in sources:
        comps.sources.setdefault(uf.find(node.outputs[0]), []).append(node)
    # A derived tensor must be the only one of its component, with no sources there.
    per_root: dict[str, int] = {}
    for t in derived:
        per_root[uf.find(t)] = per_root.get(uf.find(t), 0) + 1
    for t in derived:
        r = uf.find(t)
        if per_root[r] > 1 or r in comps.sources:
            comps.blocked.add(r)
    # A blocked derived component cannot absorb a permutation of its inputs.
    changed = True
    while changed:
        changed = False
        for t, d in derived.items():
            if comps.root(t) in comps.blocked:
                for part, _ in d.parts:
                    if comps.root(part) not in comps.blocked:
                        comps.blocked.add(comps.root(part))
                        changed = True
    # Sinks must be able to take a permuted input: a Conv/Gemm/MatMul reading a
    # component tensor as its data input is a source node (checked) or blocks it.
    return comps


def group_by_masks(masks: np.ndarray, group: int) -> np.ndarray:
    """A permutation of the rows of `masks` [rows, cols] (bool) that puts rows with
    similar masks into the same run of `group` rows: greedy, each group seeded by the
    remaining row with the most kept entries, then grown by the row at the smallest
    Hamming distance from the group's union mask."""
    rows = masks.shape[0]
    m = masks.astype(np.float32)
    counts = m.sum(axis=1)
    free = np.ones(rows, dtype=bool)
    order: list[int] = []
    while free.any():
        candidates = np.flatnonzero(free)
        seed = int(candidates[np.argmax(counts[candidates])])
        free[seed] = False
        members = [seed]
        union = m[seed].copy()
        while len(members) < group and free.any():
            candidates = np.flatnonzero(free)
            # |M_j xor U| = |M_j| + |U| - 2 M_j.U
            ham = counts[candidates] + union.sum() - 2.0 * (m[candidates] @ union)
            pick = int(candidates[np.argmin(ham)])
            free[pick] = False
            members.append(pick)
            union = np.maximum(union, m[pick])
        order.extend(members)
    return np.asarray(order, dtype=np.int64)


def _take(array: np.ndarray, perm: np.ndarray, axis: int) -> np.ndarray:
    return np.ascontiguousarray(np.take(array, perm, axis=axis))


@dataclass
class _Edits:
    """Constant edits of one permutation: (tensor, axis) -> index array."""
    items: dict[tuple[str, int], np.ndarray] = field(default_factory=dict)
    ok: bool = True

    def add(self, graph: Graph, tensor: str, axis: int, perm: np.ndarray) -> None:
        t = graph.tensors.get(tensor) if tensor else None
        if t is None or t.data is None:
            return
        if t.data.ndim == 0 or axis >= t.data.ndim or t.data.shape[axis] == 1:
            return
        if t.data.shape[axis] != len(perm) or (tensor, axis) in self.items:
            self.ok = False
            return
        self.items[(tensor, axis)] = perm


def _source_edits(graph: Graph, node: Node, perm: np.ndarray, edits: _Edits) -> None:
    if node.op == "Conv":
        edits.add(graph, node.inputs[1], 0, perm)
        if len(node.inputs) > 2:
            edits.add(graph, node.inputs[2], 0, perm)
        return
    w = graph.constant(node.inputs[1])
    assert w is not None
    if node.op == "Gemm":
        edits.add(graph, node.inputs[1], 0 if int(node.attrs.get("trans_b", 0)) else 1, perm)  # type: ignore[arg-type]
    else:
        edits.add(graph, node.inputs[1], 1, perm)
    if len(node.inputs) > 2 and node.inputs[2]:
        bias = graph.constant(node.inputs[2])
        if bias is not None and bias.ndim >= 1:
            edits.add(graph, node.inputs[2], bias.ndim - 1, perm)


def _consumer_edits(graph: Graph, node: Node, tensor: str, perm: np.ndarray, comps: Components,
                    edits: _Edits) -> None:
    """Fold `perm` of `tensor`'s channels into `node`, which reads it."""
    if node.op in ("Conv", "Gemm", "MatMul") and _is_source(graph, node):
        if node.inputs[0] != tensor:
            edits.ok = False
        elif node.op == "Conv":
            edits.add(graph, node.inputs[1], 1, perm)
        elif node.op == "Gemm":
            edits.add(graph, node.inputs[1], 1 if int(node.attrs.get("trans_b", 0)) else 0, perm)  # type: ignore[arg-type]
        else:
            edits.add(graph, node.inputs[1], 0, perm)
        return
    if tensor in node.inputs and node.outputs[0] in comps.derived:
        return  # Concat / Flatten: the derived component carries it on
    out_shape = graph.tensors[node.outputs[0]].shape
    if is_depthwise(graph, node):
        edits.add(graph, node.inputs[1], 0, perm)
        if len(node.inputs) > 2:
            edits.add(graph, node.inputs[2], 0, perm)
        return
    if node.op == "BatchNormalization":
        for name in node.inputs[1:]:
            edits.add(graph, name, 0, perm)
        return
    for name in node.inputs:
        if name and graph.tensors[name].is_constant:
            const = graph.tensors[name]
            axis = 1 - (len(out_shape) - len(const.shape))
            if axis >= 0:
                edits.add(graph, name, axis, perm)


def _derived_perms(graph: Graph, perms: dict[str, np.ndarray], comps: Components
                   ) -> tuple[dict[str, np.ndarray], dict[str, set[str]]]:
    """The chosen permutations plus those of derived components (in graph order, so
    nested Concats see their inputs'), and for each derived root the chosen roots it
    depends on."""
    all_perms: dict[str, np.ndarray] = dict(perms)
    depends: dict[str, set[str]] = {r: {r} for r in perms}
    for node in graph.nodes:
        for out in node.outputs:
            d = comps.derived.get(out)
            root = comps.root(out) if out else ""
            if d is None or root in comps.blocked:
                continue
            pieces, offset, deps = [], 0, set()
            for part, channels in d.parts:
                p = all_perms.get(comps.root(part))
                pieces.append(offset + (p if p is not None else np.arange(channels)))
                deps |= depends.get(comps.root(part), set())
                offset += channels
            base = np.concatenate(pieces)
            if np.array_equal(base, np.arange(len(base))):
                continue
            all_perms[root] = (base[:, None] * d.expand + np.arange(d.expand)[None, :]).reshape(-1)
            depends[root] = deps
    return all_perms, depends


def _component_edits(graph: Graph, root: str, perm: np.ndarray, comps: Components,
                     consumers: dict[str, list[Node]], producers: dict[str, Node]) -> _Edits:
    edits = _Edits()
    for tensor in comps.members[root]:
        producer = producers.get(tensor)
        if producer is not None and producer in comps.sources.get(root, []):
            _source_edits(graph, producer, perm, edits)
        for node in consumers.get(tensor, []):
            _consumer_edits(graph, node, tensor, perm, comps, edits)
    return edits


def permute_components(graph: Graph, perms: dict[str, np.ndarray], comps: Components
                       ) -> tuple[Graph, set[str]]:
    """Applies {component root: permutation} (new channel i = old channel perm[i]) and
    the derived permutations they imply. Returns the graph and the roots permuted. A
    component whose edits conflict (a constant shared by two nodes, for example) is
    left in its order, and so is every component that depends on it."""
    g = copy_graph(graph)
    consumers = consumer_map(g)
    producers = producer_map(g)
    chosen = dict(perms)
    while True:
        all_perms, depends = _derived_perms(g, chosen, comps)
        used: set[tuple[str, int]] = set()
        planned: list[_Edits] = []
        failed: set[str] = set()
        for root, perm in all_perms.items():
            edits = _component_edits(g, root, perm, comps, consumers, producers)
            if not edits.ok or used & set(edits.items):
                failed |= depends[root]
            used |= set(edits.items)
            planned.append(edits)
        if not failed:
            break
        chosen = {r: p for r, p in chosen.items() if r not in failed}
    for edits in planned:
        for (name, axis), index in edits.items.items():
            t = g.tensors[name]
            assert t.data is not None
            t.data = _take(t.data, index, axis)
    return g, set(chosen)


def permutable_roots(comps: Components) -> set[str]:
    return {r for r in comps.sources if r not in comps.blocked}


@dataclass(frozen=True)
class Target:
    """What the pruning will do to one layer: rows pruned per (group, channel) unit."""
    scores: np.ndarray   # [rows, channels] unit norms (prune.unit_scores)
    sparsity: float
    group: int


def rearrange(graph: Graph, targets: dict[str, Target]) -> tuple[Graph, list[str]]:
    """Permutes the output channels of the components produced by layers in `targets`
    (node name -> Target) with G > 1 so similar masks share groups; returns the new
    graph (same function) and the names of the layers whose rows were permuted.

    A component with several pruned sources (a residual Add's branches) gets one
    permutation from their masks side by side. A permutation is kept only when it
    raises the energy the group masks keep (prune.retained_energy)."""
    from pocketnn.sparsity.prune import group_mask, retained_energy

    comps = build_components(graph)
    perms: dict[str, np.ndarray] = {}
    for root in permutable_roots(comps):
        pruned = [(n.name, targets[n.name]) for n in comps.sources[root]
                  if n.name in targets and targets[n.name].group > 1]
        if not pruned:
            continue
        group = max(pruned, key=lambda item: item[1].scores.size)[1].group
        masks = np.hstack([group_mask(t.scores, 1, t.sparsity) for _, t in pruned])
        perm = group_by_masks(masks, group)

        def energy(order: np.ndarray, pruned: list[tuple[str, Target]] = pruned) -> float:
            return sum(retained_energy(t.scores[order], t.group, t.sparsity) * float(np.sum(t.scores ** 2))
                       for _, t in pruned)
        if energy(perm) > energy(np.arange(len(perm))) * (1 + 1e-9):
            perms[root] = perm
    result, done = permute_components(graph, perms, comps)
    names = sorted(n.name for r in done for n in comps.sources.get(r, []))
    return result, names
