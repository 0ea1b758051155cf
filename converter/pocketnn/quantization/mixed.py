"""Mixed int4 / int8 weights: the bits of each weighted layer chosen by an integer
linear program under a size budget and an optional latency budget (issue 5).

Per QConv / QGemm candidate layer:
- sensitivity: the mean squared change of the model's float outputs (float64) on up to
  SENSITIVITY_SAMPLES calibration samples when that layer alone is int4 and every other
  one int8, against the all-int8 model. Measured perturbation needs no gradients (a
  Hessian trace would need a training framework) and sees exactly the integer arithmetic
  the runtime will run. The perturbed models run in pocketnn's runtime, which is
  bit-exact with quantization.simulate_graph and about 20x faster than it at 224x224:
  one whole-model run per layer and sample takes well under a minute on MobileNets and
  ResNet-18 where the simulator took over ten (docs/QUANTIZATION.md).
- size: the weight tensor's bytes at 8 bits and packed at 4 bits.
- latency: the layer alone (between a QuantizeLinear and a DequantizeLinear, the same
  for both variants) timed in pocketnn's runtime at int8 and at int4 on the current
  target; the two differ only as much as the s4 and s8 kernels do.

The program: binary x_l (1 = int4) minimizing sum sensitivity_l * x_l subject to
size(x) <= size_budget * size(all int8) and latency(x) <= latency_budget *
latency(all int8). By default the first and last weighted layers stay int8 (x_l = 0),
as in int4; with first_last_int8=False the program may make them int4 too. Layers that keep
group-sparse storage (quantization.sparse_storage) are fixed at int8 too, their sparse
bytes counted in the size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.progress import step
from pocketnn.quantization.activations import DEFAULT_CALIB_METHOD, QuantizationError
from pocketnn.quantization.quantize_graph import (QParams, calibrate, integer_weighted_nodes, quantize_graph,
                                                   weighted_nodes)
from pocketnn.quantization.rounding import DEFAULT_ROUNDING, WeightRounding
from pocketnn.quantization.sparse_storage import marked_layers, settle_sparse_storage, stored_bytes
from pocketnn.quantization.split_activations import split_lookup_activations
from pocketnn.sparsity.calibration import CalibSource, load_calibration

# Calibration samples the sensitivity runs on: enough to average out per-sample noise,
# few enough that one runtime pass per layer and sample stays cheap at 224x224.
SENSITIVITY_SAMPLES = 64


@dataclass(frozen=True)
class LayerCost:
    """What making one weighted layer int4 instead of int8 costs and saves."""

    name: str
    sensitivity: float
    bytes8: int
    bytes4: int
    seconds8: float
    seconds4: float


@dataclass(frozen=True)
class MixedChoice:
    bits: list[int]
    costs: list[LayerCost]

    @property
    def size_fraction(self) -> float:
        used = sum(c.bytes4 if b == 4 else c.bytes8 for c, b in zip(self.costs, self.bits))
        return used / sum(c.bytes8 for c in self.costs)


def _fraction(costs: Sequence[LayerCost], int4: Sequence[bool], field8: str, field4: str) -> float:
    total = sum(float(getattr(c, field8)) for c in costs)
    used = sum(float(getattr(c, field4 if x else field8)) for c, x in zip(costs, int4))
    return used / max(total, 1e-30)


def solve_bits(costs: Sequence[LayerCost], size_budget: float, latency_budget: float | None = None,
               fixed_int8: Sequence[int] = ()) -> list[int]:
    """Bits (4 or 8) per layer: the least total sensitivity within the budgets
    (fractions of the all-int8 weight bytes / latency); `fixed_int8` layers stay int8."""
    # scipy is needed by mixed quantization only, so it is imported here.
    from scipy.optimize import Bounds, LinearConstraint, milp

    if not 0 < size_budget:
        raise QuantizationError(f"size budget must be > 0 (a fraction of the int8 weight bytes), got {size_budget}")
    if latency_budget is not None and not 0 < latency_budget:
        raise QuantizationError(f"latency budget must be > 0 (a fraction of the int8 latency), got {latency_budget}")
    n = len(costs)
    free = [i not in fixed_int8 for i in range(n)]
    rows = [np.array([c.bytes4 - c.bytes8 for c in costs], dtype=np.float64)]
    limits = [size_budget * sum(c.bytes8 for c in costs) - sum(c.bytes8 for c in costs)]
    if latency_budget is not None:
        rows.append(np.array([c.seconds4 - c.seconds8 for c in costs], dtype=np.float64))
        limits.append(latency_budget * sum(c.seconds8 for c in costs) - sum(c.seconds8 for c in costs))
    result = milp(np.array([c.sensitivity for c in costs], dtype=np.float64),
                  constraints=LinearConstraint(np.vstack(rows), -np.inf, np.array(limits)),
                  integrality=np.ones(n), bounds=Bounds(np.zeros(n), np.array(free, dtype=np.float64)))
    if result.status != 0 or result.x is None:
        smallest = _fraction(costs, free, "bytes8", "bytes4")
        kept = " and ".join(costs[i].name for i in sorted(fixed_int8))
        message = (f"no int4/int8 choice meets size budget {size_budget:g}"
                   + ("" if latency_budget is None else f" and latency budget {latency_budget:g}")
                   + (f": with {kept} kept int8" if fixed_int8 else ":")
                   + f" the smallest reachable size is {smallest:.3f} of the int8 weight bytes")
        if latency_budget is not None:
            fastest = _fraction(costs, [f and c.seconds4 < c.seconds8 for c, f in zip(costs, free)],
                                "seconds8", "seconds4")
            message += f" and the smallest reachable latency {fastest:.3f} of int8's (measured)"
        if fixed_int8:
            message += " (first_last_int8=False / --int4-first-last lets the first and last weighted layers be int4)"
        raise QuantizationError(message)
    return [4 if x > 0.5 else 8 for x in result.x]


def _outputs(graph: Graph, samples: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """[sample, every output value] in float64, run by pocketnn's runtime."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model

    model = Model(write_pnn(graph))
    rows = []
    for feed in samples:
        outputs = model.run(feed)
        rows.append(np.concatenate([outputs[name].astype(np.float64).ravel() for name in graph.outputs]))
    return np.stack(rows)


def packed_weights(data: bytes) -> list[tuple[int, DType]]:
    """(stored bytes, dtype) of each QConv / QGemm weight of a .pnn file, in graph order:
    what the size budget is about, as the file holds it."""
    from pocketnn.format.reader import read_pnn

    parsed = read_pnn(data)
    weights = [parsed.tensors[node.inputs[1]] for node in parsed.nodes if node.op in ("QConv", "QGemm")]
    return [(t.size, DType(t.dtype)) for t in weights]


def single_layer(quantized: Graph, node: Node) -> Graph:
    """The quantized layer alone, fed and read in float through a Quantize/Dequantize."""
    x_u8, y_u8 = quantized.tensors[node.inputs[0]], quantized.tensors[node.outputs[0]]
    tensors = {name: quantized.tensors[name] for name in node.inputs[1:]}
    tensors |= {"x": Tensor("x", DType.F32, x_u8.shape), x_u8.name: x_u8, y_u8.name: y_u8,
                "y": Tensor("y", DType.F32, y_u8.shape)}
    nodes = [Node("QuantizeLinear", "quantize", ["x"], [x_u8.name],
                  {"scale": 1 / 64, "zero_point": int(node.attrs["x_zero_point"])}),  # type: ignore[arg-type]
             node,
             Node("DequantizeLinear", "dequantize", [y_u8.name], ["y"],
                  {"scale": 1 / 64, "zero_point": int(node.attrs["y_zero_point"])})]  # type: ignore[arg-type]
    return Graph(tensors, nodes, ["x"], ["y"], {"producer": "pocketnn-timing"})


def time_layer(variants: Sequence[Graph], rounds: int = 9, budget_s: float = 0.15) -> list[float]:
    """Median seconds per native run of each one-layer graph, runs interleaved so noise
    hits every variant alike (the approach of sparsity.timing)."""
    from pocketnn.format.writer import write_pnn
    from pocketnn.runtime import Model
    from pocketnn.sparsity.timing import _native_runner, interleaved_medians

    models = [Model(write_pnn(g)) for g in variants]
    x = np.random.default_rng(0).standard_normal(models[0].inputs[0].shape).astype(np.float32)
    return interleaved_medians([_native_runner(m, x) for m in models], rounds, budget_s, sample_s=2e-4)


def layer_costs(graph: Graph, qparams: dict[str, QParams], samples: Sequence[Mapping[str, np.ndarray]],
                measure_latency: bool = True, rounding: WeightRounding | None = None) -> list[LayerCost]:
    """Sensitivity on `samples` (feeds of the graph's input shapes), size and latency of
    int4 vs int8 for every weighted layer."""
    count = len(weighted_nodes(graph))
    all8 = quantize_graph(graph, qparams, rounding=rounding, layer_bits=[8] * count)
    all4 = quantize_graph(graph, qparams, rounding=rounding, layer_bits=[4] * count)
    reference = _outputs(all8, samples)
    q8 = integer_weighted_nodes(all8)
    q4 = integer_weighted_nodes(all4)
    costs = []
    with step("sensitivity" + (" + kernel timing" if measure_latency else ""), total=len(q8)) as advance:
        for index, (node8, node4) in enumerate(zip(q8, q4)):
            bits = [8] * count
            bits[index] = 4
            perturbed = _outputs(quantize_graph(graph, qparams, rounding=rounding, layer_bits=bits), samples)
            sensitivity = float(np.mean((perturbed - reference) ** 2))
            elements = int(np.prod(all8.tensors[node8.inputs[1]].shape))
            bytes8 = stored_bytes(all8.tensors[node8.inputs[1]])  # group-sparse when it stays so
            seconds = (time_layer([single_layer(all8, node8), single_layer(all4, node4)])
                       if measure_latency else [float("nan")] * 2)
            costs.append(LayerCost(node8.name, sensitivity, bytes8, (elements + 1) // 2, *seconds))
            advance()
    return costs


def quantize_mixed(graph: Graph, calib: CalibSource | None, size_budget: float = 0.5,
                   latency_budget: float | None = None, method: str = DEFAULT_CALIB_METHOD,
                   first_last_int8: bool = True, rounding: str = DEFAULT_ROUNDING,
                   bias_correction: bool | None = None) -> tuple[Graph, MixedChoice]:
    """Calibrates `graph`, chooses int4/int8 per weighted layer (module doc) and quantizes.
    `first_last_int8` keeps the first and last weighted layers int8; `rounding` and
    `bias_correction` (quantize_graph.calibrate) round the weights of every candidate,
    so the sensitivities are those of the weights that will be stored."""
    graph = split_lookup_activations(graph)
    qparams, weight_rounding = calibrate(graph, calib, method, rounding, may_be_int4=True,
                                         bias_correction=bias_correction)
    assert calib is not None  # activation_qparams raised otherwise
    graph = settle_sparse_storage(graph, qparams)[0]
    batch = graph.tensors[graph.inputs[0]].shape
    samples = load_calibration(calib, graph)[:max(1, SENSITIVITY_SAMPLES // max(1, batch[0] if batch else 1))]
    costs = layer_costs(graph, qparams, samples, measure_latency=latency_budget is not None,
                        rounding=weight_rounding)
    fixed_int8 = ((0, len(costs) - 1) if first_last_int8 else ()) + tuple(marked_layers(graph))
    with step("bit-width ILP"):
        bits = solve_bits(costs, size_budget, latency_budget, fixed_int8) if costs else []
    return quantize_graph(graph, qparams, rounding=weight_rounding, layer_bits=bits), MixedChoice(bits, costs)
