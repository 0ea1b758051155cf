"""Per-layer sparsity and bits chosen together under a file-size budget (issue 14;
docs/QUANTIZATION.md, "Joint sparsity and bits": `--compress-budget F`).

Options of each weighted layer (QConv / QGemm): dense int8, dense int4 and, where the
sparsity stage may prune (group-1 Conv, Gemm/MatMul, not the first conv), int8 at each
of SPARSITIES in groups of GROUP output channels, stored group-sparse. Pruned int4 is
left out: group-sparse storage holds s8 values, so a pruned int4 layer would be stored
dense at dense int4's bytes with more error, never a better choice.

1. Per layer and option, measured on the calibration data: the relative squared error
   of the model's outputs against the float model's with that layer alone taking the
   option and every other layer dense int8 (pruned alone on its dense inputs with the
   sparsity stage's mask and refit, sparsity.allocate.prune_alone; rounded like the rest
   of the conversion); its bytes: its int8 weights as the writer stores them
   (sparse_storage.stored_bytes) plus the change of the packed file (write_pnn) when it
   alone takes the option, which also counts its bias and requantization constants
   (stored narrower or wider with their values); with a latency budget, the layer
   timed alone.
2. A multiple-choice knapsack (scipy milp, one option per layer) minimizes the summed
   errors with the file (the all-int8 file's other bytes + the layers' bytes) within
   the budget and, when given, the summed layer latencies within the latency budget.
3. Summed single-layer errors ignore how errors compound, so the pick is refined on the
   whole model: every assignment is evaluated when there are at most EXHAUSTIVE_LIMIT
   (exact), else an EvoPress-style evolution (Sieberling et al. 2024) starts at the ILP's
   pick, mutates a few layers' options (repairing the size budget with random
   shrinking moves) and keeps an offspring when its measured whole-model error is lower
   and its packed file within the budget.
4. Points 1-3 prune each layer alone on dense inputs and reuse the float model's
   activation ranges: cheap, but not what the sparsity stage writes. The ILP's pick and
   the refinement's best are therefore built as the conversion writes them (the
   sparsity stage with those per-layer sparsities, sequential reconstruction, then
   calibration and quantization) and measured again; the point of least error within
   the budget is written (a refit pick, so far always). (On the digits CNN at 0.15 of the float weights the sequential refit
   takes the output error from 0.42 to 0.12.) When the refit shifts a few constants'
   stored widths past the budget, the ILP is solved again within the overshoot.
"""

from __future__ import annotations

import glob
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from pocketnn.format.writer import write_pnn
from pocketnn.ir import Graph
from pocketnn.passes.graph_utils import copy_graph
from pocketnn.progress import step
from pocketnn.quantization.activations import DEFAULT_CALIB_METHOD, QuantizationError
from pocketnn.quantization.mixed import single_layer, time_layer
from pocketnn.quantization.quantize_graph import (QParams, calibrate, integer_weighted_nodes, quantize_graph,
                                                   weighted_nodes)
from pocketnn.quantization.rounding import DEFAULT_ROUNDING, WeightRounding
from pocketnn.quantization.sparse_storage import stored_bytes
from pocketnn.quantization.split_activations import split_lookup_activations
from pocketnn.sparsity.allocate import flat_outputs, layer_statistics, output_error, prune_alone
from pocketnn.sparsity.blas import single_thread_blas
from pocketnn.sparsity.calibration import CalibSource, capture, load_calibration
from pocketnn.sparsity.layers import Layer, canonicalize_for_sparse, find_layers, set_weight_matrix, weight_matrix
from pocketnn.sparsity.pipeline import compress
from pocketnn.sparsity.recipe import LayerRule, SparsityOptions
from pocketnn.sparsity.reconstruct import bias_refittable, get_bias, set_bias

SPARSITIES = (0.5, 0.7, 0.9)
GROUP = 4  # output channels per mask group (the sparsity stage's fallback G)
# Calibration samples every candidate is evaluated on (one model run each).
EVALUATION_SAMPLES = 64
# At most this many assignments: every one is evaluated (exact); more: evolution.
EXHAUSTIVE_LIMIT = 64
# Whole-model evaluations the evolution may spend, and offspring per generation.
EVOLUTION_EVALUATIONS = 40
OFFSPRING = 4
# Re-solves of the ILP when the written picks overshoot the budget by a few bytes.
RESOLVE_ROUNDS = 3


@dataclass(frozen=True)
class Option:
    sparsity: float
    bits: int

    @property
    def label(self) -> str:
        return f"int{self.bits}" + (f" {self.sparsity:.0%}" if self.sparsity else "")


DENSE8 = Option(0.0, 8)


@dataclass(frozen=True)
class LayerOptions:
    """One weighted layer's options and what each measured (same order)."""

    name: str
    options: tuple[Option, ...]
    errors: tuple[float, ...]
    nbytes: tuple[int, ...]
    seconds: tuple[float, ...]


@dataclass(frozen=True)
class Point:
    """One evaluated assignment (an option index per layer) and what it measured."""

    choice: tuple[int, ...]
    error: float       # relative squared error of the outputs vs the float model
    file_bytes: int    # the packed .pnn
    origin: str        # "int8", "single layer", "ilp", "evolution", "exhaustive" (+ ", refit")
    refit: bool = False  # pruned sequentially and recalibrated (the written form) rather than alone


@dataclass
class JointResult:
    layers: list[LayerOptions]
    points: list[Point]
    ilp: Point                     # the knapsack's pick, layers pruned alone
    found: Point                   # the refinement's best, layers pruned alone
    chosen: Point                  # the least error within the budgets (a refit pick as a rule): written
    budget: float                  # fraction of fp32_bytes
    fp32_bytes: int                # the float weights of every weighted layer
    method: str                    # "exhaustive" or "evolution"
    float_graph: Graph = field(repr=False)  # the graph the points were made from
    # rebuilds a point's quantized graph (for the front report's measurements)
    build: Callable[[Point], Graph] = field(repr=False)

    def options_of(self, point: Point) -> list[Option]:
        return [layer.options[i] for layer, i in zip(self.layers, point.choice)]


def solve_options(layers: Sequence[LayerOptions], byte_limit: float, second_limit: float | None = None
                  ) -> tuple[int, ...] | None:
    """One option per layer with the least summed error within `byte_limit` weight bytes
    (and `second_limit` summed seconds); None when nothing fits. Exact (MILP)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    flat = [(index, j) for index, layer in enumerate(layers) for j in range(len(layer.options))]
    pick = np.zeros((len(layers), len(flat)))
    for column, (index, _) in enumerate(flat):
        pick[index, column] = 1.0
    constraints = [LinearConstraint(pick, 1.0, 1.0),
                   LinearConstraint(np.array([[layers[i].nbytes[j] for i, j in flat]], dtype=np.float64),
                                    -np.inf, byte_limit)]
    if second_limit is not None:
        constraints.append(LinearConstraint(np.array([[layers[i].seconds[j] for i, j in flat]]), -np.inf,
                                            second_limit))
    result = milp(np.array([layers[i].errors[j] for i, j in flat]), constraints=constraints,
                  integrality=np.ones(len(flat)), bounds=Bounds(0, 1))
    if result.status != 0 or result.x is None:
        return None
    choice = [0] * len(layers)
    for (index, j), x in zip(flat, result.x):
        if x > 0.5:
            choice[index] = j
    return tuple(choice)


class JointSearch:
    """The float graph, its calibration and pruned variants; builds and evaluates points."""

    def __init__(self, graph: Graph, qparams: Mapping[str, QParams], rounding: WeightRounding,
                 feeds: list[dict[str, np.ndarray]], options: SparsityOptions) -> None:
        self.graph = copy_graph(graph)
        self.qparams = qparams
        self.rounding = rounding
        self.names = [node.name for node in weighted_nodes(self.graph)]
        prunable = [layer for layer in find_layers(self.graph)
                    if layer.node in self.names
                    and not (layer.first_conv and layer.kind in ("conv1x1", "convkxk") and options.skip_first_conv)
                    and sum(layer.weight in n.inputs for n in self.graph.nodes) == 1]
        self.layers: dict[str, Layer] = {layer.node: canonicalize_for_sparse(self.graph, layer)
                                         for layer in prunable}
        self.options = {name: (DENSE8, Option(0.0, 4)) + (tuple(Option(s, 8) for s in SPARSITIES)
                                                          if name in self.layers else ())
                        for name in self.names}
        batch = self.graph.tensors[self.graph.inputs[0]].shape
        self.evaluated = feeds[:max(1, EVALUATION_SAMPLES // max(1, batch[0] if batch else 1))]
        self.reference = [flat_outputs(out) for out in capture(self.graph, list(self.graph.outputs), self.evaluated)]
        self.pruned: dict[tuple[str, float], tuple[np.ndarray, np.ndarray]] = {}  # weights, bias
        self.seen: dict[tuple[object, ...], Point] = {}  # by choice; refit points by (choice, "refit")
        self.refitted: dict[tuple[int, ...], Graph] = {}
        self._prune_all(feeds, options)

    def _prune_all(self, feeds: list[dict[str, np.ndarray]], options: SparsityOptions) -> None:
        with single_thread_blas(), step("joint search: pruning each layer alone", total=len(self.layers)) as advance:
            for name, layer in self.layers.items():
                stats = layer_statistics(self.graph, layer, feeds)
                for sparsity in SPARSITIES:
                    g = prune_alone(self.graph, layer, GROUP, stats, sparsity, options.ridge, options.prune_steps,
                                    options.method)
                    self.pruned[name, sparsity] = weight_matrix(g, layer).copy(), get_bias(g, layer)
                advance()

    def assignment(self, choice: Sequence[int]) -> list[Option]:
        return [self.options[name][i] for name, i in zip(self.names, choice)]

    def build(self, choice: Sequence[int]) -> Graph:
        """The quantized graph of an assignment (pruned int8 weights marked group-sparse)."""
        g = copy_graph(self.graph)
        for name, option in zip(self.names, self.assignment(choice)):
            if option.sparsity == 0:
                continue
            layer = self.layers[name]
            weights, bias = self.pruned[name, option.sparsity]
            set_weight_matrix(g, layer, weights)
            if bias_refittable(g, layer):
                set_bias(g, layer, bias)
            g.tensors[layer.weight].sparse_group = GROUP
        return quantize_graph(g, self.qparams, rounding=self.rounding,
                              layer_bits=[o.bits for o in self.assignment(choice)])

    def refit(self, point: Point, calib: CalibSource, options: SparsityOptions, method: str, rounding: str
              ) -> Point:
        """The point's assignment as the conversion writes it: its layers pruned by the
        sparsity stage (sequential reconstruction), recalibrated, quantized; evaluated."""
        from pocketnn.runtime import Model

        rules = tuple(LayerRule(glob.escape(name), sparsity=option.sparsity, pattern=GROUP)
                      for name, option in zip(self.names, self.assignment(point.choice)) if option.sparsity > 0)
        pruned = compress(self.graph, replace(options, sparsity=None, rules=rules), calib)[0] if rules else self.graph
        qparams, weight_rounding = calibrate(pruned, calib, method, rounding, may_be_int4=True)
        graph = quantize_graph(pruned, qparams, rounding=weight_rounding,
                               layer_bits=[o.bits for o in self.assignment(point.choice)])
        data = write_pnn(graph, short_names=True)  # as convert writes it by default
        self.refitted[point.choice] = graph
        result = Point(point.choice, output_error(Model(data), self.evaluated, self.reference), len(data),
                       point.origin + ", refit", refit=True)
        self.seen[point.choice, "refit"] = result
        return result

    def graph_of(self, point: Point) -> Graph:
        return self.refitted[point.choice] if point.refit else self.build(point.choice)

    def evaluate(self, choice: tuple[int, ...], origin: str) -> Point:
        from pocketnn.runtime import Model

        if choice not in self.seen:
            data = write_pnn(self.build(choice), short_names=True)  # as convert writes it by default
            self.seen[choice] = Point(choice, output_error(Model(data), self.evaluated, self.reference), len(data),
                                      origin)
        return self.seen[choice]


def _alone(layers: int, index: int, option: int) -> tuple[int, ...]:
    """The assignment where layer `index` alone takes `option`, every other dense int8."""
    return tuple(option if i == index else 0 for i in range(layers))


def _one_layer_choices(search: JointSearch) -> list[tuple[int, tuple[int, ...]]]:
    """(layer index, assignment) for every layer and non-default option (_alone)."""
    return [(index, _alone(len(search.names), index, j))
            for index, name in enumerate(search.names) for j in range(1, len(search.options[name]))]


def measure_layers(search: JointSearch, measure_latency: bool) -> tuple[list[LayerOptions], Point]:
    """Every layer's options measured alone (module doc, 1), and the all-int8 point."""
    int8 = search.evaluate(tuple([0] * len(search.names)), "int8")
    singles = _one_layer_choices(search)
    errors: dict[int, list[float]] = {index: [int8.error] for index in range(len(search.names))}
    seconds: dict[int, list[float]] = {}
    with step("joint search: sensitivity per layer and option", total=len(singles)) as advance:
        for index, choice in singles:
            errors[index].append(search.evaluate(choice, "single layer").error)
            advance()
    with step("joint search: kernel timing", total=len(search.names), shown=measure_latency) as advance:
        for index, name in enumerate(search.names):
            seconds[index] = [0.0] * len(search.options[name])
            if measure_latency:
                graphs = [search.build(_alone(len(search.names), index, j))
                          for j in range(len(search.options[name]))]
                qnodes = [integer_weighted_nodes(g)[index] for g in graphs]
                seconds[index] = time_layer([single_layer(g, q) for g, q in zip(graphs, qnodes)])
            advance()
    # A layer's bytes: its int8 weights as the writer stores them, plus what the packed
    # file gains or loses when it alone takes an option (its weights, and its bias and
    # requantization constants, whose stored width follows their values).
    int8_graph = search.build(int8.choice)
    qnodes = integer_weighted_nodes(int8_graph)
    base = [stored_bytes(int8_graph.tensors[q.inputs[1]]) for q in qnodes]
    nbytes = {index: [base[index]] for index in range(len(search.names))}
    for index, choice in singles:
        nbytes[index].append(base[index] + search.seen[choice].file_bytes - int8.file_bytes)
    layers = [LayerOptions(name, search.options[name], tuple(errors[i]), tuple(nbytes[i]), tuple(seconds[i]))
              for i, name in enumerate(search.names)]
    return layers, int8


def _shrink(layers: Sequence[LayerOptions], choice: list[int], byte_limit: float, rng: np.random.Generator) -> bool:
    """Random moves to smaller options until the weights fit `byte_limit`; False if stuck."""
    while sum(layer.nbytes[j] for layer, j in zip(layers, choice)) > byte_limit:
        movable = [i for i, layer in enumerate(layers) if min(layer.nbytes) < layer.nbytes[choice[i]]]
        if not movable:
            return False
        i = int(rng.choice(movable))
        smaller = [j for j, b in enumerate(layers[i].nbytes) if b < layers[i].nbytes[choice[i]]]
        choice[i] = int(rng.choice(smaller))
    return True


def _within(layers: Sequence[LayerOptions], choice: Sequence[int], second_limit: float | None) -> bool:
    return second_limit is None or sum(layer.seconds[j] for layer, j in zip(layers, choice)) <= second_limit


def evolve(search: JointSearch, layers: Sequence[LayerOptions], start: Point, byte_limit: float, file_limit: float,
           second_limit: float | None, evaluations: int = EVOLUTION_EVALUATIONS, seed: int = 0) -> Point:
    """(1 + OFFSPRING) evolution from `start` (module doc, 3): the best point found."""
    rng = np.random.default_rng(seed)
    best, spent, stalled = start, 0, 0
    with step("joint search: evolutionary refinement", total=evaluations) as advance:
        while spent < evaluations and stalled < 4 * evaluations:
            parent = best
            for _ in range(OFFSPRING):
                child = list(parent.choice)
                for i in rng.choice(len(layers), size=min(len(layers), int(rng.integers(1, 3))), replace=False):
                    child[i] = int(rng.integers(len(layers[i].options)))
                if not _shrink(layers, child, byte_limit, rng) or not _within(layers, child, second_limit):
                    stalled += 1
                    continue
                key = tuple(child)
                if key in search.seen:
                    point = search.seen[key]
                    stalled += 1
                else:
                    point = search.evaluate(key, "evolution")
                    spent += 1
                    advance()
                if point.file_bytes <= file_limit and point.error < best.error:
                    best = point
                if spent >= evaluations:
                    break
    return best


def exhaustive(search: JointSearch, layers: Sequence[LayerOptions], byte_limit: float, file_limit: float,
               second_limit: float | None) -> Point | None:
    """The least-error assignment within the budgets, every assignment whose weights fit
    `byte_limit` evaluated."""
    best: Point | None = None
    every = list(itertools.product(*(range(len(layer.options)) for layer in layers)))
    with step("joint search: every assignment", total=len(every)) as advance:
        for choice in every:
            advance()
            if (sum(layer.nbytes[j] for layer, j in zip(layers, choice)) > byte_limit
                    or not _within(layers, choice, second_limit)):
                continue
            point = search.evaluate(choice, "exhaustive")
            if point.file_bytes <= file_limit and (best is None or point.error < best.error):
                best = point
    return best


def compress_joint(graph: Graph, calib: CalibSource | None, budget: float, latency_budget: float | None = None,
                   method: str = DEFAULT_CALIB_METHOD, rounding: str = DEFAULT_ROUNDING,
                   options: SparsityOptions | None = None, evaluations: int = EVOLUTION_EVALUATIONS
                   ) -> tuple[Graph, JointResult]:
    """The quantized graph whose per-layer sparsity and bits the search chose (module
    doc), its .pnn at most `budget` x the float weights' bytes (and, when given, the
    summed layer latencies at most `latency_budget` x all-int8's), and the search's record."""
    if not 0 < budget:
        raise QuantizationError(f"compress budget must be > 0 (file bytes as a fraction of the float32 weights), "
                                f"got {budget}")
    if latency_budget is not None and not 0 < latency_budget:
        raise QuantizationError(f"latency budget must be > 0 (a fraction of the int8 latency), got {latency_budget}")
    options = options or SparsityOptions()
    graph = split_lookup_activations(graph)
    qparams, weight_rounding = calibrate(graph, calib, method, rounding, may_be_int4=True)
    assert calib is not None  # calibrate raised otherwise
    search = JointSearch(graph, qparams, weight_rounding, load_calibration(calib, graph), options)
    layers, int8 = measure_layers(search, latency_budget is not None)
    fp32_bytes = 4 * sum(int(np.prod(search.graph.tensors[n.inputs[1]].shape)) for n in weighted_nodes(search.graph))
    file_limit = budget * fp32_bytes
    overhead = int8.file_bytes - sum(layer.nbytes[0] for layer in layers)
    byte_limit = file_limit - overhead
    second_limit = (None if latency_budget is None
                    else latency_budget * sum(layer.seconds[0] for layer in layers))
    with step("joint search: ILP"):
        pick = solve_options(layers, byte_limit, second_limit)
    if pick is None:
        smallest = (overhead + sum(min(layer.nbytes) for layer in layers)) / fp32_bytes
        raise QuantizationError(f"no per-layer sparsity/bits choice meets compress budget {budget:g}"
                                + ("" if latency_budget is None else f" and latency budget {latency_budget:g}")
                                + f": the smallest reachable file is {smallest:.3f} of the float32 weights "
                                f"({fp32_bytes:,} bytes)")
    ilp = replace(search.evaluate(pick, "ilp"), origin="ilp")
    search.seen[pick] = ilp
    space = math.prod(len(layer.options) for layer in layers)
    if space <= EXHAUSTIVE_LIMIT:
        found, how = exhaustive(search, layers, byte_limit, file_limit, second_limit), "exhaustive"
    else:
        found, how = evolve(search, layers, ilp, byte_limit, file_limit, second_limit, evaluations), "evolution"
    finalists = [ilp] + ([found] if found is not None and found.choice != ilp.choice else [])
    with step("joint search: sequential pruning + calibration of the picks", total=len(finalists)) as advance:
        refits = []
        for point in finalists:
            refits.append(search.refit(point, calib, options, method, rounding))
            advance()
    # The sequential refit and recalibration move the stored widths of a few constants:
    # when no pick fits any more, the ILP solves again within the overshoot.
    for _ in range(RESOLVE_ROUNDS):
        if any(p.file_bytes <= file_limit for p in refits):
            break
        byte_limit -= min(p.file_bytes for p in refits) - file_limit
        again = solve_options(layers, byte_limit, second_limit)
        if again is None:
            break
        refits.append(search.refit(replace(search.evaluate(again, "ilp"), origin="ilp"), calib, options, method,
                                   rounding))
    points = list(search.seen.values())
    # Every evaluated point is a model that can be written as measured; the refit picks
    # are almost always the best, but a pruned-alone point that measured better wins.
    feasible = [p for p in points if p.file_bytes <= file_limit and _within(layers, p.choice, second_limit)]
    if not feasible:
        raise QuantizationError(f"compress budget {budget:g}: the picks pack to "
                                f"{min(p.file_bytes for p in refits):,} bytes or more once pruned sequentially, "
                                f"over {file_limit:,.0f}")
    chosen = min(feasible, key=lambda p: (p.error, p.file_bytes))
    result = JointResult(layers, points, ilp, found or ilp, chosen, budget, fp32_bytes, how, search.graph,
                         search.graph_of)
    return search.graph_of(chosen), result
