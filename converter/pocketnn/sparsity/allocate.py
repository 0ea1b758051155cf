"""Per-layer sparsity from measured sensitivity (docs/SPARSITY.md, "Allocation").

`--sparsity S` with calibration data keeps the pruned layers S sparse together (zeros
counted over their weights) but lets each layer take a different share:
1. sensitivity: each layer alone is pruned to every candidate sparsity on its dense
   inputs with the conversion's own mask method and least-squares refit, and the model's
   outputs on the calibration data are compared with the dense model's (relative squared
   error). It sees how a layer's error travels to the outputs, which the layer's own
   output error does not (an early 3x3 conv and the 64x64 conv have about the same
   relative refit error, but very different effects on the logits);
2. a multiple-choice knapsack (scipy's MILP, as the mixed-precision bits): one candidate
   per layer, minimizing the sum of the sensitivities with at least S of the weights zero.
Summing single-layer errors ignores how they compound; the whole model is then pruned
sequentially as before, which corrects part of it. (A local search on the whole model's
output error, every layer pruned to its choice, measured worse on the digits CNN: that
error does not see the sequential refit.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pocketnn.ir import Graph
from pocketnn.passes.graph_utils import copy_graph
from pocketnn.sparsity.calibration import capture
from pocketnn.sparsity.layers import Layer, node_by_name, set_weight_matrix, weight_matrix
from pocketnn.sparsity.prune import expand_mask
from pocketnn.sparsity.reconstruct import (Pruned, Stats, bias_refittable, get_bias, input_columns, prune_layer,
                                           set_bias)

# The sparsities a layer may take. Finer than 0/50/70/90: with few layers the knapsack
# cannot otherwise land near S without moving a big layer a long way.
CANDIDATES = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
# Layers with at least WIDE_COLUMNS weight columns only try these of the candidates: OBS
# masks cost about groups x columns^3 per candidate (MobileNet V1 224x224's 1024-column
# layers: 13 CPU-s each), and such models have enough layers for a coarser grid.
WIDE_COLUMNS = 1024
WIDE_CANDIDATES = (0.0, 0.5, 0.7, 0.8, 0.9)
# Calibration samples the output error is measured on (one model run each per candidate
# and layer): at most SENSITIVITY_SAMPLES, fewer for big models so that the runs stay
# about RUN_BUDGET, never fewer than MIN_SAMPLES.
SENSITIVITY_SAMPLES = 128
MIN_SAMPLES = 8
RUN_BUDGET = 8192


@dataclass(frozen=True)
class Allocation:
    """The chosen sparsity per layer, and the measured output error of each candidate."""

    sparsity: dict[str, float]
    errors: dict[str, dict[float, float]]


def flat_outputs(outputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """A model's outputs as one float64 vector (the error is over all of them)."""
    return np.concatenate([v.reshape(-1) for v in outputs.values()]).astype(np.float64)


def output_error(model: object, feeds: Sequence[dict[str, np.ndarray]], reference: list[np.ndarray]) -> float:
    diff = ref = 0.0
    for feed, dense_out in zip(feeds, reference):
        out = flat_outputs(model.run(feed))  # type: ignore[attr-defined]
        diff += float(np.sum((out - dense_out) ** 2))
        ref += float(np.sum(dense_out ** 2))
    return diff / ref if ref > 0 else 0.0


def layer_statistics(dense: Graph, layer: Layer, feeds: Sequence[dict[str, np.ndarray]]) -> Stats:
    """The refit statistics of one layer's dense inputs over all calibration feeds."""
    stats = Stats.empty(layer.cols, bias_refittable(dense, layer))
    name = node_by_name(dense, layer.node).inputs[0]
    for values in capture(dense, [name], list(feeds)):
        x = input_columns(dense, layer, values[name])
        stats.add(x, x)
    stats.flush()
    return stats


def prune_alone(dense: Graph, layer: Layer, group: int, stats: Stats, sparsity: float, ridge: float, steps: int,
                method: str) -> Graph:
    """A copy of `dense` with only `layer` pruned to `sparsity` in groups of `group`
    (mask by `method`, kept weights refit on its dense inputs' `stats`; a SparseGPT
    mask keeps its own weights: prune_layer's exact=False, the sensitivity's proxy)."""
    item = Pruned(layer, weight_matrix(dense, layer).copy(), get_bias(dense, layer), sparsity, group)
    w, _, _ = prune_layer(item, stats, ridge, steps, method, exact=False)
    assert item.mask is not None
    keep = expand_mask(item.mask, layer.rows, item.group, layer.kernel)
    g = copy_graph(dense)
    set_weight_matrix(g, layer, np.where(keep, w[:, :layer.cols], 0.0))
    if stats.augmented:
        set_bias(g, layer, w[:, layer.cols])
    return g


def layer_candidates(layer: Layer, candidates: Sequence[float]) -> list[float]:
    """The candidates one layer tries: WIDE_CANDIDATES among them on wide layers (when
    that leaves at least three)."""
    few = [s for s in candidates if s in WIDE_CANDIDATES]
    return few if layer.cols >= WIDE_COLUMNS and len(few) >= 3 else list(candidates)


def measure_errors(dense: Graph, layers: Sequence[Layer], groups: Mapping[str, int],
                   feeds: Sequence[dict[str, np.ndarray]], evaluated: list[dict[str, np.ndarray]],
                   reference: list[np.ndarray], candidates: Sequence[float], ridge: float, steps: int,
                   method: str) -> dict[str, dict[float, float]]:
    """{layer: {sparsity: relative squared error of the model's outputs on `evaluated`
    (the dense outputs: `reference`) with that layer alone pruned}}: mask and refit on its
    dense inputs, all calibration feeds; one layer's statistics in memory at a time."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model

    errors: dict[str, dict[float, float]] = {}
    for layer in layers:
        stats = layer_statistics(dense, layer, feeds)
        errors[layer.node] = {0.0: 0.0}
        for sparsity in layer_candidates(layer, candidates):
            if sparsity <= 0:
                continue
            g = prune_alone(dense, layer, groups[layer.node], stats, sparsity, ridge, steps, method)
            errors[layer.node][sparsity] = output_error(Model(write_pnn(g)), evaluated, reference)
    return errors


def solve_allocation(errors: Mapping[str, Mapping[float, float]], sizes: Mapping[str, int],
                     sparsity: float) -> dict[str, float]:
    """One candidate sparsity per layer: the least summed error with at least `sparsity`
    of the weights (sizes) zero. Exact (MILP over one-hot choices)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    choices = [(name, s, e) for name, options in errors.items() for s, e in sorted(options.items())]
    n = len(choices)
    names = list(errors)
    pick = np.zeros((len(names), n))
    zeros = np.zeros(n)
    for j, (name, s, _) in enumerate(choices):
        pick[names.index(name), j] = 1.0
        zeros[j] = s * sizes[name]
    total = sum(sizes[name] for name in names)
    constraints = [LinearConstraint(pick, 1.0, 1.0), LinearConstraint(zeros[None, :], sparsity * total, np.inf)]
    result = milp(np.array([e for _, _, e in choices]), constraints=constraints, integrality=np.ones(n),
                  bounds=Bounds(0, 1))
    if result.x is None:  # S above every candidate: take the sparsest
        return {name: max(errors[name]) for name in names}
    return {name: s for (name, s, _), x in zip(choices, result.x) if x > 0.5}


def allocate(dense: Graph, layers: Sequence[Layer], groups: Mapping[str, int],
             feeds: Sequence[dict[str, np.ndarray]], sparsity: float, ridge: float = 0.001, steps: int = 8,
             method: str = "obs", candidates: Sequence[float] = CANDIDATES) -> Allocation:
    """Measures every layer at every candidate, then solves the knapsack."""
    runs = sum(len(layer_candidates(layer, candidates)) for layer in layers)
    evaluated = list(feeds[:max(MIN_SAMPLES, min(SENSITIVITY_SAMPLES, RUN_BUDGET // max(1, runs)))])
    reference = [flat_outputs(out) for out in capture(dense, list(dense.outputs), evaluated)]
    errors = measure_errors(dense, layers, groups, feeds, evaluated, reference, candidates, ridge, steps, method)
    return Allocation(solve_allocation(errors, {layer.node: layer.size for layer in layers}, sparsity), errors)
