"""Post-training bit flipping toward the MST (`--mst-budget POINTS`, docs/BINARY.md).

For a model whose binary weights come from latent float weights in the ONNX graph
(`Sign(W)` or QONNX `BipolarQuant(W)` of an initializer W, folded at import), the
tree-delta kernel pays per 64-bit word in which a child channel differs from its parent.
A word of a child becomes equal to its parent's by flipping the child's bits that differ
there; flipping the sign of a latent weight w costs about |w| (keeping |w| keeps the
layer's a_c = mean |W| unchanged), so a word's cost is the sum of |w| over those bits,
over the layer's mean |w| (comparable across layers). Candidates are every differing word
of every edge of each layer's minimum spanning tree, cheapest first; the largest prefix
whose accuracy on the calibration data (top-1 against `labels` when given, else top-1
agreement with the unflipped model) stays within `points` percentage points of the
unflipped model's is kept (binary search over the prefix length; each probe runs the
converted model in the runtime). A chosen child word copies its parent's word in the
tree's order, so after a parent's own flips the pair is still equal.
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses
from dataclasses import dataclass

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import helper, numpy_helper

from pocketnn.binary import mst
from pocketnn.binary.mst_choice import interleaved_ms, packed_rows, row_bits
from pocketnn.binary.simulate import WORD_BITS
from pocketnn.frontend.control_flow import depends_on
from pocketnn.ir import DType, Graph, Tensor
from pocketnn.passes.graph_utils import copy_graph

LABELS_KEY = "labels"  # the optional key of the calibration data holding integer labels
_BINARIZERS = ("Sign", "BipolarQuant")
_BINARY_OPS = ("BConv2d", "BGemm")


@dataclass(frozen=True)
class BudgetLayer:
    node: str
    words_touched_before: float   # the runtime's forest, fraction of M * kw
    words_touched_after: float
    bits_flipped: int


@dataclass(frozen=True)
class BudgetReport:
    points: float
    metric: str                   # "accuracy" (labels) or "top-1 agreement"
    samples: int
    score_before: float           # on the calibration data, percent
    score_after: float
    words_flipped: int            # child words made equal to their parent's
    candidates: int
    layers: list[BudgetLayer]
    ms_before: float | None = None  # whole model on one calibration sample, unflipped, load rule
    ms_after: float | None = None   # flipped, with the converter's MST choice


def with_speed(report: BudgetReport, before: Graph, after: Graph, feed: Mapping[str, np.ndarray]) -> BudgetReport:
    """The report with the whole model's measured ms before and after (1 thread, thread
    CPU time, interleaved medians; the float layers run alike in both)."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model

    models = [Model(write_pnn(g), threads=1) for g in (before, after)]
    ms_before, ms_after = interleaved_ms([lambda m=m: m.run(feed) for m in models], rounds=41, budget_s=2.0)
    return dataclasses.replace(report, ms_before=ms_before, ms_after=ms_after)


@dataclass
class _Layer:
    node: str
    weight: str                   # the b1 weight tensor of the lowered node
    bits: NDArray[np.bool_]       # [M, R] as lowered, True = -1
    shape: tuple[int, ...]
    plan: mst.MstPlan             # the whole tree of the unflipped rows
    row_bits: int


@dataclass(frozen=True)
class _Candidate:
    cost: float
    layer: int
    child: int
    word: int


def _latent_initializers(model: onnx.ModelProto) -> dict[str, list[str]]:
    """Per node name: the initializers binarized by a Sign / BipolarQuant on the way to
    its weight input (the latent weights of a binary layer)."""
    inits = {t.name for t in model.graph.initializer}
    nodes = list(model.graph.node)
    binarized = {n.input[0] for n in nodes if n.op_type in _BINARIZERS and n.input[0] in inits}
    found: dict[str, list[str]] = {}
    for node in nodes:
        if len(node.input) > 1:
            # depends_on follows a node's first input back through its producers.
            latent = depends_on(helper.make_node("Identity", [node.input[1]], []), nodes, binarized)
            if latent:
                found[node.name] = latent
    return found


def latent_in_bit_layout(latent: NDArray[np.floating], bits: NDArray[np.bool_]) -> NDArray[np.float64] | None:
    """|latent| arranged as the lowered rows ([M, R], 0 on padding bits), when one of the
    layouts the lowering uses (OIHW -> O,H,W,I; [M, K]; [K, M]) gives the rows' signs up
    to a per-row negation (a negative folded BN scale)."""
    count, width = bits.shape
    candidates = [latent]
    if latent.ndim == 4:
        candidates = [np.transpose(latent, (0, 2, 3, 1))]
    elif latent.ndim == 2:
        candidates = [latent, latent.T]
    for c in candidates:
        if c.shape[0] != count:
            continue
        channels = c.shape[-1]
        padded_channels = -(-channels // WORD_BITS) * WORD_BITS
        pad = [(0, 0)] * (c.ndim - 1) + [(0, padded_channels - channels)]
        rows = np.pad(np.asarray(c, np.float64), pad).reshape(count, -1)
        if rows.shape[1] != width:
            continue
        negative = rows < 0
        real = np.pad(np.ones(c.shape, bool), pad).reshape(count, -1)
        same = np.all((negative == bits) | ~real, axis=1)
        flipped = np.all((negative != bits) | ~real, axis=1)
        if np.all(same | flipped) and not np.any(rows[real] == 0):
            return np.abs(rows)
    return None


def _layers(graph: Graph, model: onnx.ModelProto) -> tuple[list[_Layer], list[NDArray[np.float64]]]:
    latent_of = _latent_initializers(model)
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers, magnitudes = [], []
    for node in graph.nodes:
        if node.op not in _BINARY_OPS or node.name not in latent_of:
            continue
        w = graph.tensors[node.inputs[1]]
        bits = np.asarray(w.data, bool).reshape(w.shape[0], -1)
        for name in latent_of[node.name]:
            magnitude = latent_in_bit_layout(weights[name], bits)
            if magnitude is not None:
                break
        else:
            continue
        rows = packed_rows(bits)
        k = row_bits(node, rows.shape[1])
        layers.append(_Layer(node.name, node.inputs[1], bits, tuple(w.shape),
                             mst.build_plan(rows, k, max_touched=None), k))
        magnitudes.append(magnitude / magnitude[magnitude > 0].mean())
    return layers, magnitudes


def _candidates(layers: list[_Layer], magnitudes: list[NDArray[np.float64]]) -> list[_Candidate]:
    out = []
    for index, (layer, magnitude) in enumerate(zip(layers, magnitudes)):
        for child, parent in enumerate(layer.plan.parent):
            if parent == mst.ROOT:
                continue
            for word in layer.plan.delta_words[child]:
                span = slice(word * WORD_BITS, (word + 1) * WORD_BITS)
                differ = layer.bits[child, span] != layer.bits[parent, span]
                out.append(_Candidate(float(magnitude[child, span][differ].sum()), index, child, int(word)))
    out.sort(key=lambda c: c.cost)
    return out


def _flipped_bits(layers: list[_Layer], chosen: list[_Candidate]) -> list[NDArray[np.bool_]]:
    """Each layer's bits with the chosen child words copied from their parents, in the
    tree's order (parents first)."""
    words: list[dict[int, list[int]]] = [{} for _ in layers]
    for c in chosen:
        words[c.layer].setdefault(c.child, []).append(c.word)
    result = []
    for layer, per_child in zip(layers, words):
        bits = layer.bits.copy()
        for child in layer.plan.order:
            parent = layer.plan.parent[child]
            for word in per_child.get(int(child), []):
                span = slice(word * WORD_BITS, (word + 1) * WORD_BITS)
                bits[child, span] = bits[parent, span]
        result.append(bits)
    return result


def _with_bits(graph: Graph, layers: list[_Layer], bits: list[NDArray[np.bool_]]) -> Graph:
    g = copy_graph(graph)
    for layer, b in zip(layers, bits):
        g.tensors[layer.weight] = Tensor(layer.weight, DType.B1, layer.shape, b.reshape(layer.shape))
    return g


def _top1(graph: Graph, feeds: list[dict[str, np.ndarray]]) -> NDArray[np.int64]:
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model

    model = Model(write_pnn(graph), threads=1)
    output = graph.outputs[0]
    return np.concatenate([np.argmax(model.run(f)[output].reshape(len(next(iter(f.values()))), -1), axis=1)
                           for f in feeds])


def _touched(bits: NDArray[np.bool_], k: int) -> float:
    return mst.build_plan(packed_rows(bits), k).words_touched


def flip_within_budget(graph: Graph, model: onnx.ModelProto, calib: Mapping[str, np.ndarray],
                       points: float) -> tuple[Graph, BudgetReport]:
    """The graph with child words flipped to their parents' within `points` percentage
    points of calibration accuracy (or agreement), and the report."""
    from pocketnn.sparsity.calibration import load_calibration

    if not points >= 0:
        raise ValueError(f"mst budget must be >= 0 percentage points, got {points}")
    layers, magnitudes = _layers(graph, model)
    if not layers:
        raise ValueError("--mst-budget needs binary layers computed from latent float weights "
                         "(Sign or BipolarQuant of an initializer in the ONNX graph); this model has none")
    feeds = load_calibration(calib, graph)
    base = _top1(graph, feeds)
    labels = calib.get(LABELS_KEY)
    target = base if labels is None else np.asarray(labels).reshape(-1)
    if len(target) != len(base):
        raise ValueError(f"{len(target)} labels for {len(base)} calibration samples")

    def score(bits: list[NDArray[np.bool_]]) -> float:
        return 100.0 * float(np.mean(_top1(_with_bits(graph, layers, bits), feeds) == target))

    candidates = _candidates(layers, magnitudes)
    before = 100.0 * float(np.mean(base == target))
    # The largest prefix that keeps the score: binary search (flipping more rarely helps).
    low, high, best_score = 0, len(candidates), before
    while low < high:
        middle = (low + high + 1) // 2
        s = score(_flipped_bits(layers, candidates[:middle]))
        if s >= before - points:
            low, best_score = middle, s
        else:
            high = middle - 1
    chosen = candidates[:low]
    bits = _flipped_bits(layers, chosen)
    report_layers = [BudgetLayer(layer.node, _touched(layer.bits, layer.row_bits), _touched(b, layer.row_bits),
                                 int(np.count_nonzero(b != layer.bits)))
                     for layer, b in zip(layers, bits)]
    report = BudgetReport(points, "accuracy" if labels is not None else "top-1 agreement", len(base), before,
                          best_score, low, len(candidates), report_layers)
    return _with_bits(graph, layers, bits), report
