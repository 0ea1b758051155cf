"""Per-layer choice of dense or sparse and of G, from measured speed on this machine.

Each candidate layer is packed alone (same input shape, attributes and fused
activation; random weights pruned at the target sparsity) once dense and once per G,
and run with pocketnn.Model: the median of interleaved runs decides. Only the native
run is timed (the input is written once): Model.run's input copy and fresh output
arrays would add the same large constant to every variant of a big-activation layer
and hide the difference. Results are cached per shape in-process. When the runtime
cannot run a sparse weight (refused at load), timing is unavailable and the caller
falls back (pattern "auto" -> G = 4).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.sparsity.layers import Layer, node_by_name
from pocketnn.sparsity.prune import apply_mask, group_mask
from pocketnn.sparsity.recipe import GROUP_SIZES

DENSE = 0
_CACHE: dict[tuple[object, ...], dict[int, float] | None] = {}


def _key(graph: Graph, layer: Layer, sparsity: float) -> tuple[object, ...]:
    node = node_by_name(graph, layer.node)
    attrs = tuple(sorted((k, str(v)) for k, v in node.attrs.items()))
    return (node.op, graph.tensors[node.inputs[0]].shape, graph.tensors[layer.weight].shape, attrs,
            layer.bias is not None, round(sparsity, 3))


def single_layer_graph(graph: Graph, layer: Layer, weights: np.ndarray, group: int) -> Graph:
    """The layer alone: its node reading a graph input of the same shape."""
    node = node_by_name(graph, layer.node)
    x = graph.tensors[node.inputs[0]]
    y = graph.tensors[node.outputs[0]]
    w = graph.tensors[layer.weight]
    tensors = {
        "x": Tensor("x", DType.F32, x.shape),
        "w": Tensor("w", DType.F32, w.shape, weights.reshape(w.shape).astype(np.float32), sparse_group=group),
        "y": Tensor("y", DType.F32, y.shape),
    }
    inputs = ["x", "w"]
    if layer.bias is not None:
        b = graph.tensors[layer.bias]
        tensors["b"] = Tensor("b", DType.F32, b.shape, np.zeros(b.shape, np.float32))
        inputs.append("b")
    copy = Node(node.op, "timed", inputs, ["y"], dict(node.attrs))
    return Graph(tensors, [copy], ["x"], ["y"], {"producer": "pocketnn-timing"})


def _matrix_weights(layer: Layer, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((layer.rows, layer.cols)).astype(np.float32)


def _native_runner(model: object, feed: np.ndarray) -> Callable[[], None]:
    """A call running the session alone, the input written once."""
    from pocketnn.runtime import _raise_on_error, ffi, lib

    session = model._session  # type: ignore[attr-defined]
    value = np.ascontiguousarray(feed, dtype=np.float32)
    ffi.memmove(lib.pnn_session_input(session, 0), value, value.nbytes)
    error = ffi.new("pnn_error *")

    def run() -> None:
        _raise_on_error(lib.pnn_session_run(session, error), error)
    return run


def interleaved_medians(runs: Sequence[Callable[[], None]], rounds: int, budget_s: float, sample_s: float,
                        min_rounds: int = 3, clock: Callable[[], float] = time.perf_counter) -> list[float]:
    """Median seconds per call of each of `runs`, by `clock`. Every call is warmed up
    (weights paged in, caches sized); a sample repeats a call so it lasts about
    `sample_s` (sized on the first call); the calls alternate round by round so noise
    hits every one alike; at least `min_rounds` rounds, at most `rounds`, else as many
    as fit in `budget_s`."""
    for run in runs:
        run()
    start = clock()
    runs[0]()
    once = max(clock() - start, 1e-6)
    inner = max(1, int(sample_s / once))
    rounds = max(min_rounds, min(rounds, int(budget_s / (once * inner * len(runs)))))
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(rounds):
        for run, times in zip(runs, samples):
            t0 = clock()
            for _ in range(inner):
                run()
            times.append((clock() - t0) / inner)
    return [statistics.median(times) for times in samples]


def measure(graph: Graph, layer: Layer, sparsity: float, groups: Iterable[int] = GROUP_SIZES,
            rounds: int = 15, budget_s: float = 0.4) -> dict[int, float] | None:
    """Median seconds per run: {0: dense, G: sparse with G}; None when the runtime
    refuses sparse weights for this layer. Gemm-with-trans_b=0 layers are timed in their
    canonical form by the caller (layers.canonicalize_for_sparse)."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model, NativeError

    key = _key(graph, layer, sparsity) + (tuple(groups),)
    if key in _CACHE:
        return _CACHE[key]
    rng = np.random.default_rng(0)
    dense_w = _matrix_weights(layer, rng)
    scores = np.abs(dense_w).reshape(layer.rows, layer.channels, layer.kernel).sum(axis=2)
    models: dict[int, Model] = {}
    try:
        models[DENSE] = Model(write_pnn(single_layer_graph(graph, layer, dense_w, 0)))
        for g in groups:
            pruned = apply_mask(dense_w, group_mask(scores, g, sparsity), g, layer.kernel)
            models[g] = Model(write_pnn(single_layer_graph(graph, layer, pruned, g)))
    except NativeError as exc:
        if "unsupported" not in exc.status.lower():
            raise
        _CACHE[key] = None
        return None
    x = rng.standard_normal(models[DENSE].inputs[0].shape).astype(np.float32)
    runs = [_native_runner(m, x) for m in models.values()]  # the dense one first
    result = dict(zip(models, interleaved_medians(runs, rounds, budget_s, sample_s=1e-3)))
    _CACHE[key] = result
    return result


def choose(timings: dict[int, float], margin: float = 0.03, tolerance: float = 0.05) -> int:
    """The variant to use (0 = dense). Sparse must beat dense by `margin`, since it costs
    accuracy; among the sparse variants that do, the smallest G within `tolerance` of the
    fastest wins: a coarser group keeps less weight energy, and differences of a few
    percent between G are mostly timing noise."""
    dense = timings[DENSE]
    sparse = {g: t for g, t in timings.items() if g != DENSE}
    if not sparse:
        return DENSE
    fastest = min(sparse.values())
    limit = min(fastest * (1 + tolerance), dense * (1 - margin))
    fit = [g for g, t in sparse.items() if t <= limit]
    return min(fit) if fit else DENSE


# A pruned layer below half density is stored sparse (it shrinks the file) unless its
# sparse kernel is more than this much slower than the dense one.
SPARSE_SLOWDOWN_LIMIT = 1.25


def choose_pruned(timings: dict[int, float], sparsity: float, slowdown: float = SPARSE_SLOWDOWN_LIMIT,
                  tolerance: float = 0.05) -> int:
    """Storage of a layer that is pruned anyway (scope "all"): the faster G as in
    `choose` when sparse wins; at sparsity >= 0.5, also when sparse is at most
    `slowdown` times dense (the smallest G within `tolerance` of the fastest); else
    dense (0)."""
    choice = choose(timings, tolerance=tolerance)
    sparse = {g: t for g, t in timings.items() if g != DENSE}
    if choice != DENSE or sparsity < 0.5 or not sparse:
        return choice
    fastest = min(sparse.values())
    if fastest > timings[DENSE] * slowdown:
        return DENSE
    return min(g for g, t in sparse.items() if t <= fastest * (1 + tolerance))


def clear_cache() -> None:
    _CACHE.clear()
