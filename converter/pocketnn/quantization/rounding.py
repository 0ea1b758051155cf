"""How weights are rounded to integers: "nearest" (each weight on its own) or "gptq"
(quantization.gptq, against the Hessian of the layer's calibration inputs, plus bias
correction), and the calibration input statistics GPTQ needs.

The statistics of a weighted layer are the Gram matrix and the mean of its input rows:
a Gemm's input vectors, a Conv's im2col patches (per group of a grouped conv, whose
groups see different channels). They accumulate during the calibration pass that also
observes the activation ranges (quantization.activations), so GPTQ costs no extra
runs of the model. A 224x224 conv has thousands of patches per sample: at most
MAX_ROWS of them, chosen at random, enter per sample, which bounds the cost at the
size of the Gram matrix and loses nothing that 100+ samples do not already average.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from pocketnn.ir import Graph, Node
from pocketnn.quantization.arith import weight_qmax
from pocketnn.quantization.gptq import gptq_round_groups, output_mean_shift
from pocketnn.sparsity.blas import single_thread_blas
from pocketnn.sparsity.reconstruct import im2col

ROUNDINGS = ("auto", "gptq", "nearest")
# "auto": GPTQ where a layer may be int4 (int4, mixed), nearest for int8. On the digits
# CNN (docs/QUANTIZATION.md) GPTQ recovers int4's loss; at int8 both are within 0.1 point
# of float, and nearest skips the statistics (the conversion-time budget is int8's).
DEFAULT_ROUNDING = "auto"
MAX_ROWS = 4096


def resolve_rounding(rounding: str, may_be_int4: bool) -> str:
    """"gptq" or "nearest" for a rounding request (ROUNDINGS)."""
    if rounding not in ROUNDINGS:
        raise ValueError(f"unknown rounding {rounding!r}; expected one of {', '.join(ROUNDINGS)}")
    if rounding == "auto":
        return "gptq" if may_be_int4 else "nearest"
    return rounding


@dataclass
class InputStatistics:
    """Sums over a layer's input rows, per group: x x^T [G, K, K] and x [G, K]."""

    gram: np.ndarray
    total: np.ndarray
    count: int = 0


def layer_rows(graph: Graph, node: Node, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The input rows the node's weights multiply, [G, K, rows] in float32: at most
    MAX_ROWS per sample batch, chosen at random."""
    w_shape = graph.tensors[node.inputs[1]].shape
    if node.op == "Conv":
        groups = int(node.attrs.get("group", 1))  # type: ignore[arg-type]
        cols = im2col(x, node, int(w_shape[2]), int(w_shape[3]))
    else:
        groups = 1
        cols = x.reshape(x.shape[0], -1).T
    if cols.shape[1] > MAX_ROWS:
        cols = cols[:, np.sort(rng.choice(cols.shape[1], MAX_ROWS, replace=False))]
    return cols.astype(np.float32).reshape(groups, cols.shape[0] // groups, cols.shape[1])


@dataclass
class StatisticsCollector:
    """Accumulates InputStatistics of the given weighted nodes from activation values."""

    graph: Graph
    nodes: list[Node]
    seed: int = 0
    statistics: dict[str, InputStatistics] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)

    @property
    def inputs(self) -> list[str]:
        return list(dict.fromkeys(node.inputs[0] for node in self.nodes))

    def observe(self, values: dict[str, np.ndarray]) -> None:
        for node in self.nodes:
            rows = layer_rows(self.graph, node, values[node.inputs[0]], self._rng)
            # float32 products (twice as fast), float64 sums across batches
            gram = np.matmul(rows, rows.transpose(0, 2, 1)).astype(np.float64)
            total = rows.sum(axis=2, dtype=np.float64)
            seen = self.statistics.get(node.name)
            if seen is None:
                self.statistics[node.name] = InputStatistics(gram, total, rows.shape[2])
            else:
                seen.gram += gram
                seen.total += total
                seen.count += rows.shape[2]


class WeightRounding:
    """Integer weights for quantize_graph: GPTQ where statistics exist for the node
    (round to nearest with `gptq=False`, bias correction alone), round to nearest
    otherwise; each (node, bits, weights) rounded once and reused (mixed precision
    quantizes the same layer many times; the joint sparsity/bits search the same layer
    pruned to several sparsities, hence the weights' digest in the key)."""

    def __init__(self, statistics: dict[str, InputStatistics] | None = None, bias_correction: bool = True,
                 gptq: bool = True) -> None:
        self.statistics = statistics or {}
        self.bias_correction = bias_correction
        self.gptq = gptq
        self._cache: dict[tuple[str, int, bytes], tuple[np.ndarray, np.ndarray]] = {}

    def round(self, node: str, weights: np.ndarray, integers: np.ndarray, scales: np.ndarray, bits: int
              ) -> tuple[np.ndarray, np.ndarray]:
        """(integer weights, bias shift [M]) for float `weights` [M, ...] with the given
        scales; `integers` is round-to-nearest's answer, kept without statistics."""
        stats = self.statistics.get(node)
        if stats is None:
            return integers, np.zeros(weights.shape[0])
        key = (node, bits, hashlib.blake2b(np.ascontiguousarray(weights), digest_size=16).digest())
        if key not in self._cache:
            with single_thread_blas():
                self._cache[key] = self._round_with(stats, weights, integers, scales, bits)
        return self._cache[key]

    def _round_with(self, stats: InputStatistics, weights: np.ndarray, integers: np.ndarray, scales: np.ndarray,
                    bits: int) -> tuple[np.ndarray, np.ndarray]:
        groups = stats.gram.shape[0]
        matrix = weights.reshape(groups, weights.shape[0] // groups, -1)
        group_scales = np.asarray(scales, dtype=np.float64).reshape(groups, -1)
        count = max(1, stats.count)
        q = (gptq_round_groups(matrix, 2.0 * stats.gram / count, group_scales, weight_qmax(bits)) if self.gptq
             else integers.reshape(matrix.shape))
        shift = (output_mean_shift(matrix, q, group_scales, stats.total / count) if self.bias_correction
                 else np.zeros(group_scales.shape))
        return q.reshape(weights.shape), shift.reshape(-1)
