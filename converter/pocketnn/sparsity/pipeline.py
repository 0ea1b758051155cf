"""The sparsity stage: Graph -> Graph after the passes (BN folded, activations fused).

Order, all in `compress`:
1. plan: which layers to prune, at what sparsity and pattern (options + recipe);
2. choose sparse/dense and G per layer from measured speed (pattern "auto");
   with calibration data, share the sparsity out between the layers by measured
   sensitivity (allocate.py; recipe "allocation") and choose again at each one's share;
3. rearrange output channels so similar masks share a group (whole network);
4. prune in groups of G: by magnitude without calibration data; with it, the mask by
   the options' method (magnitude, OBS or SparseGPT; reconstruct.py) and the kept
   weights reconstructed by least squares;
5. mark pruned weights (unless stored dense by speed), and pre-pruned ones (>= 50% zeros),
   group-sparse for the writer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from pocketnn.ir import Graph
from pocketnn.passes.graph_utils import copy_graph
from pocketnn.progress import step
from pocketnn.sparsity import timing
from pocketnn.sparsity.allocate import allocate
from pocketnn.sparsity.blas import single_thread_blas
from pocketnn.sparsity.calibration import CalibSource, load_calibration
from pocketnn.sparsity.layers import (
    Layer,
    as_layer,
    canonicalize_for_sparse,
    find_layers,
    set_weight_matrix,
    unit_scores,
    weight_matrix,
)
from pocketnn.sparsity.prune import apply_mask, exact_group, group_mask, sparsity_of
from pocketnn.sparsity.rearrange import Target, is_depthwise, rearrange
from pocketnn.sparsity.recipe import SparsityOptions, check_rules_match, layer_target
from pocketnn.sparsity.reconstruct import (
    Depthwise,
    Pruned,
    activation_scores,
    get_bias,
    input_energy,
    reconstruct,
)

FALLBACK_GROUP = 4


@dataclass
class LayerReport:
    node: str
    kind: str
    rows: int
    cols: int
    sparsity: float        # fraction of zero weights as stored
    group: int             # 0: stored dense
    reason: str            # why this outcome
    error_before: float | None = None  # relative output error on calibration data
    error_after: float | None = None
    timings: dict[int, float] | None = None


@dataclass
class SparsityReport:
    layers: list[LayerReport] = field(default_factory=list)
    permuted: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refitted: list[str] = field(default_factory=list)  # dense layers refitted downstream
    # allocation "sensitivity": {layer: {candidate sparsity: relative output error}}
    allocation_errors: dict[str, dict[float, float]] = field(default_factory=dict)

    @property
    def pruned_fraction(self) -> float:
        """Zero fraction over the weights of every layer pruned here (what --sparsity S
        targets: about S), whether stored sparse or dense."""
        pruned = [r for r in self.layers if r.reason.startswith("pruned")]
        total = sum(r.rows * r.cols for r in pruned)
        return sum(r.sparsity * r.rows * r.cols for r in pruned) / total if total else 0.0


@dataclass
class _Plan:
    layer: Layer
    sparsity: float
    group: int
    timings: dict[int, float] | None = None
    stored_sparse: bool = True  # False: pruned, but the dense kernel is much faster
    fixed: bool = False         # a recipe rule set its sparsity: allocation leaves it


def _readers(graph: Graph, tensor: str) -> int:
    return sum(tensor in n.inputs for n in graph.nodes)


def _skip_reason(layer: Layer, options: SparsityOptions, explicit: bool) -> str | None:
    if explicit:
        return None
    if layer.first_conv and layer.kind in ("conv1x1", "convkxk") and options.skip_first_conv:
        return "first convolution"
    if layer.kind == "convkxk" and options.scope == "pointwise":
        return "kxk convolution (scope pointwise)"
    if min(layer.rows, layer.channels) < options.smallest_layer:
        return f"tiny (< {options.smallest_layer} input or output channels)"
    return None


def _plan(graph: Graph, options: SparsityOptions, report: SparsityReport) -> dict[str, _Plan]:
    layers = find_layers(graph)
    if options.rules:
        check_rules_match(options, [layer.node for layer in layers])
    plans: dict[str, _Plan] = {}
    warned = False
    with step("sparsity plan (kernel timing)", total=len(layers),
              shown=options.sparsity is not None or bool(options.rules)) as advance:
        for layer in layers:
            advance()
            target = layer_target(options, layer.node)
            if target.sparsity is None:
                continue
            reason = _skip_reason(layer, options, target.explicit)
            if reason is None and _readers(graph, layer.weight) > 1:
                reason = "weight shared with another node"
            if reason is not None:
                report.layers.append(LayerReport(layer.node, layer.kind, layer.rows, layer.cols, 0.0, 0, "skipped: " + reason))
                continue
            layer = canonicalize_for_sparse(graph, layer)
            if target.pattern != "auto":
                plans[layer.node] = _Plan(layer, target.sparsity, int(target.pattern), fixed=target.explicit)
                continue
            timings = timing.measure(graph, layer, target.sparsity) if options.timing else None
            if timings is None:
                if not warned:
                    message = ("sparsity pattern auto: the runtime cannot time sparse layers here "
                               f"(sparse weights not runnable yet or timing off); using G={FALLBACK_GROUP}")
                    warnings.warn(message, stacklevel=3)
                    report.warnings.append(message)
                    warned = True
                plans[layer.node] = _Plan(layer, target.sparsity, FALLBACK_GROUP, fixed=target.explicit)
                continue
            if options.scope == "all":
                choice = timing.choose_pruned(timings, target.sparsity)
                plans[layer.node] = _Plan(layer, target.sparsity, choice or 1, timings, choice != timing.DENSE,
                                          target.explicit)
                continue
            choice = timing.choose(timings)
            if choice == timing.DENSE:
                report.layers.append(LayerReport(
                    layer.node, layer.kind, layer.rows, layer.cols, 0.0, 0,
                    f"kept dense: sparse is not faster ({timings[0] * 1e6:.0f} us dense, best sparse "
                    f"{min(v for k, v in timings.items() if k) * 1e6:.0f} us)", timings=timings))
                continue
            plans[layer.node] = _Plan(layer, target.sparsity, choice, timings, fixed=target.explicit)
    return plans


def _allocate(graph: Graph, plans: dict[str, _Plan], options: SparsityOptions,
              feeds: list[dict[str, np.ndarray]], report: SparsityReport) -> None:
    """Shares options.sparsity out between the layers no rule fixed, by measured
    sensitivity (allocate.py); re-decides each one's storage at its new sparsity."""
    free = [p for p in plans.values() if not p.fixed]
    if options.allocation != "sensitivity" or options.sparsity is None or len(free) < 2:
        return
    with single_thread_blas(), step("sparsity allocation (sensitivity per layer)"):
        result = allocate(graph, [p.layer for p in free], {p.layer.node: p.group for p in free}, feeds,
                          options.sparsity, options.ridge, options.prune_steps, options.method)
    report.allocation_errors = result.errors
    for p in free:
        p.sparsity = result.sparsity[p.layer.node]
        if p.sparsity == 0:
            p.stored_sparse = False
        elif p.timings is not None and options.scope == "all":
            p.timings = timing.measure(graph, p.layer, p.sparsity) or p.timings
            choice = timing.choose_pruned(p.timings, p.sparsity)
            p.group, p.stored_sparse = choice or 1, choice != timing.DENSE


def _mark_prepruned(graph: Graph, planned: set[str], options: SparsityOptions, report: SparsityReport) -> None:
    """Weights already mostly zero are stored sparse, G = the largest exact fit."""
    for layer in find_layers(graph):
        if layer.node in planned or _readers(graph, layer.weight) > 1:
            continue
        if min(layer.rows, layer.channels) < options.smallest_layer:
            continue
        target = layer_target(options, layer.node)
        if target.explicit and target.sparsity is None:
            continue  # the recipe said skip
        w = weight_matrix(graph, layer)
        if sparsity_of(w) < options.prepruned_threshold:
            continue
        layer = canonicalize_for_sparse(graph, layer)
        w = weight_matrix(graph, layer)
        group = exact_group(w)
        graph.tensors[layer.weight].sparse_group = group
        report.layers.append(LayerReport(layer.node, layer.kind, layer.rows, layer.cols, sparsity_of(w), group,
                                         "pre-pruned weights"))


def _downstream_dense(graph: Graph, plans: dict[str, _Plan]) -> list[Pruned | Depthwise]:
    """Dense layers after the first pruned one: their inputs changed, so a dense least
    squares refit (depthwise convs per channel) absorbs part of the pruning error."""
    items: list[Pruned | Depthwise] = []
    seen = False
    for node in graph.nodes:
        if node.name in plans:
            seen = True
            continue
        if not seen:
            continue
        layer = as_layer(graph, node)
        if layer is not None and _readers(graph, layer.weight) == 1:
            w = weight_matrix(graph, layer)
            items.append(Pruned.dense_refit(layer, w.copy(), get_bias(graph, layer)))
        elif is_depthwise(graph, node) and _readers(graph, node.inputs[1]) == 1:
            items.append(Depthwise(node.name))
    return items


def compress(graph: Graph, options: SparsityOptions, calib: CalibSource | None = None
             ) -> tuple[Graph, SparsityReport]:
    """The sparsity stage (see the module docstring). A pure function of its inputs
    (timings aside); with ``options.sparsity`` None and no recipe rules it only marks
    pre-pruned weights."""
    report = SparsityReport()
    g = copy_graph(graph)
    plans = _plan(g, options, report)
    feeds = load_calibration(calib, g) if calib is not None and plans else None
    if feeds is not None:
        _allocate(g, plans, options, feeds, report)
    layers = {name: p.layer for name, p in plans.items()}
    energy: dict[str, np.ndarray] = {}
    if feeds is not None:
        with single_thread_blas(), step("input statistics for pruning"):
            energy = input_energy(g, list(layers.values()), feeds)

    def scores(graph: Graph, layer: Layer) -> np.ndarray:
        w = weight_matrix(graph, layer)
        return activation_scores(w, layer, energy[layer.node]) if layer.node in energy else unit_scores(w, layer)

    if plans and options.rearrange:
        targets = {name: Target(scores(g, p.layer), p.sparsity, p.group) for name, p in plans.items()}
        g, report.permuted = rearrange(g, targets)
    dense = copy_graph(g)
    pruned: list[Pruned] = []
    for name, p in plans.items():
        layer = as_layer(g, next(n for n in g.nodes if n.name == name)) or p.layer
        w = weight_matrix(g, layer)
        item = Pruned(layer, w.copy(), get_bias(g, layer), p.sparsity, p.group)
        if feeds is None:
            item.mask = group_mask(unit_scores(w, layer), p.group, p.sparsity)
            set_weight_matrix(g, layer, apply_mask(w, item.mask, p.group, layer.kernel))
        pruned.append(item)
    errors: dict[str, tuple[float, float]] = {}
    if feeds is not None and pruned:
        extra = _downstream_dense(g, plans) if options.refit_dense and options.sequential else []
        with single_thread_blas(), step("pruning + reconstruction"):
            g, results = reconstruct(dense, g, [*pruned, *extra], feeds, ridge=options.ridge,
                                     sequential=options.sequential, steps=options.prune_steps,
                                     method=options.method)
        errors = {r.node: (r.error_before, r.error_after) for r in results}
        for r in results:
            if r.node not in plans:
                report.refitted.append(r.node)
    for item in pruned:
        layer, p = item.layer, plans[item.layer.node]
        g.tensors[layer.weight].sparse_group = p.group if p.stored_sparse else 0
        before, after = errors.get(layer.node, (None, None))
        w = weight_matrix(g, layer)
        how = f" + reconstructed ({options.method})" if layer.node in errors else ""
        dense_why = ", allocated 0%: stored dense" if p.sparsity == 0 else ", stored dense: sparse is much slower here"
        report.layers.append(LayerReport(
            layer.node, layer.kind, layer.rows, layer.cols, sparsity_of(w), p.group if p.stored_sparse else 0,
            "pruned" + how + ("" if p.stored_sparse else dense_why), before, after, p.timings))
    _mark_prepruned(g, {p.layer.node for p in pruned}, options, report)
    order = {n.name: i for i, n in enumerate(g.nodes)}
    report.layers.sort(key=lambda r: order.get(r.node, len(order)))
    return g, report


def overall_sparsity(graph: Graph) -> float:
    """Zero fraction over every weight stored group-sparse."""
    zeros = total = 0
    for t in graph.tensors.values():
        if t.sparse_group and t.data is not None:
            zeros += int(np.count_nonzero(t.data == 0))
            total += t.data.size
    return zeros / total if total else 0.0
