"""Activation ranges for static quantization: the float graph runs in pocketnn's own
runtime on the calibration samples (one batch of the model's size at a time) with
every activation tensor as an extra output, and one observer per tensor picks its
u8 (scale, zero point).

Running the very graph that is quantized, in the engine that will run it, means every
op the runtime supports can be calibrated and no second float engine is involved.
"""

from __future__ import annotations

from pocketnn.errors import PocketnnError
from pocketnn.ir import Graph
from pocketnn.progress import step
from pocketnn.quantization.calibrate import make_observer
from pocketnn.quantization.rounding import StatisticsCollector
from pocketnn.sparsity.blas import single_thread_blas
from pocketnn.sparsity.calibration import CalibSource, capture, load_calibration

# Percentile clipping (99.99th) by default: it ignores the few outliers that would
# stretch a min/max range, and on the digits CNN it is as accurate as the MSE search
# while costing a fraction of its time (docs/QUANTIZATION.md, "Using it").
DEFAULT_CALIB_METHOD = "percentile"
RECOMMENDED_SAMPLES = "100-500"


class QuantizationError(PocketnnError, ValueError):
    """A model or calibration set that static quantization cannot handle."""


def calibration_needed(graph: Graph) -> QuantizationError:
    """The error for a quantization request without calibration data."""
    wanted = ", ".join(f"{name!r}: N x {' x '.join(map(str, graph.tensors[name].shape[1:]))}"
                       for name in graph.inputs)
    return QuantizationError(
        f"static quantization needs calibration data to choose the activation ranges: pass "
        f"calib= (Python: an .npz path or a dict) / --calib CALIB.npz (CLI) holding, per model "
        f"input, N samples concatenated along the batch axis ({wanted}); "
        f"{RECOMMENDED_SAMPLES} representative samples are typical")


def activation_tensors(graph: Graph) -> list[str]:
    """Every float value the graph computes or takes as input, in graph order."""
    names = list(graph.inputs) + [out for node in graph.nodes for out in node.outputs if out]
    return [name for name in dict.fromkeys(names) if not graph.tensors[name].is_constant]


def activation_qparams(graph: Graph, calib: CalibSource | None, method: str = DEFAULT_CALIB_METHOD,
                       collector: StatisticsCollector | None = None) -> dict[str, tuple[float, int]]:
    """(scale, zero point) of every activation tensor, observed on the calibration set;
    `collector` also takes the values in the same runs (GPTQ's input statistics)."""
    if calib is None:
        raise calibration_needed(graph)
    feeds = load_calibration(calib, graph)
    names = activation_tensors(graph)
    observers = {name: make_observer(method) for name in names}
    computed = [name for name in names if name not in graph.inputs]
    # GPTQ's mid-sized Gram products run far faster on one BLAS thread on a busy machine.
    with step("calibration", total=len(feeds)) as advance, single_thread_blas():
        for feed, values in zip(feeds, capture(graph, computed, feeds)):
            values = {**feed, **values}
            for name, value in values.items():
                observers[name].observe(value)
            if collector is not None:
                collector.observe(values)
            advance()
    return {name: observer.qparams() for name, observer in observers.items()}
