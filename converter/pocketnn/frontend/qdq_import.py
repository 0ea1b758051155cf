"""Already-quantized ONNX models (QDQ format, as onnxruntime.quantization.quantize_static
writes them) -> pocketnn's integer operators (docs/OPS.md, format 1.2). Models in
operator form (QLinearConv, ...) reach this module rewritten in QDQ form by
qoperator_import.expand_qoperators.

Before lowering, `strip_qdq` takes the QuantizeLinear -> DequantizeLinear pairs off the
activations (each pair becomes an Identity; the pair's (scale, zero point) is recorded
for both names) and folds the DequantizeLinear of every constant (weights, int32 biases)
into a float constant, recording the weight scales. The float graph then lowers and goes
through the ordinary passes (BatchNorm folding, activation fusion; every value that
carried a pair is a rounding point, ir.Graph.rounding_points, across which no bias folds
and only a ReLU/Clip fuses, as onnxruntime rounds there), and
`quantize_qdq_graph` rebuilds the integer graph with quantize_graph from the recorded
scales instead of calibration:

- a Conv / Gemm / MatMul whose input and output both carried a QDQ pair becomes QConv /
  QGemm (a MatMul's X of any rank >= 2, as rows of K) with the model's own int8 weights when they are still exact multiples of the
  recorded per-output-channel scales within [-127, 127] (a folded BatchNorm, a -128
  weight or scales along another axis re-quantize the float weights symmetrically
  instead); an int32 bias is recovered exactly by quantize_bias (float biases round to
  b / (x_scale * w_scale[c]));
- Add, GlobalAveragePool, MaxPool, Reshape become integer ops in the same way;
- every other op stays float, and reads a tensor that carried a QDQ pair through
  QuantizeLinear -> DequantizeLinear, so its rounding and clamping (a removed ReLU lives
  only there) are kept.

onnxruntime rounds requantization in float (x * scale, round half to even) where
pocketnn uses one dyadic integer multiply (docs/QUANTIZATION.md), so outputs may differ
from onnxruntime's by one u8 step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx

from pocketnn.errors import ModelError, PocketnnError
from pocketnn.frontend.folding import OnnxState
from pocketnn.ir import Graph

# (scale, zero point) of a u8 activation.
QParams = tuple[float, int]


@dataclass
class QdqInfo:
    """What strip_qdq learned from a QDQ model."""

    qparams: dict[str, QParams] = field(default_factory=dict)
    # float constant name -> (scales, axis): the constant is an int8 tensor times scales.
    weight_scales: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.qparams)


def _checked_scale(node: onnx.NodeProto, scale: np.ndarray) -> np.ndarray:
    """A Q/DQ scale: floating point, finite and positive, or a ModelError naming the node."""
    if not np.issubdtype(scale.dtype, np.floating):
        raise ModelError(f"node '{node.name}' ({node.op_type}): scale '{node.input[1]}' has type "
                         f"{scale.dtype}; expected a floating-point scale")
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(scale) & (scale > 0))
    if bad.any():
        raise ModelError(f"node '{node.name}' ({node.op_type}): scale '{node.input[1]}' holds "
                         f"{float(scale[bad].flat[0])!r}; scales must be finite and positive")
    return scale


def _qparams(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> QParams | None:
    """(scale, u8 zero point) of a per-tensor u8/s8 Q or DQ node with constant params."""
    if len(node.input) < 2 or node.input[1] not in constants:
        return None
    if any(attr.name in ("block_size", "output_dtype") and attr.i for attr in node.attribute):
        return None
    scale = _checked_scale(node, constants[node.input[1]])
    zero_point = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else np.uint8(0)
    if zero_point is None or scale.size != 1 or zero_point.size != 1 or not float(scale.reshape(-1)[0]) > 0:
        return None
    offset = {np.dtype(np.uint8): 0, np.dtype(np.int8): 128}.get(zero_point.dtype)
    if offset is None:
        return None
    # An int8 value q with zero point z is the u8 value q + 128 with zero point z + 128.
    return float(np.float32(scale.reshape(-1)[0])), int(zero_point.reshape(-1)[0]) + offset


def _fold_constant_dequantize(node: onnx.NodeProto, state: OnnxState, info: QdqInfo) -> bool:
    """Replaces a DequantizeLinear of a constant int8/int32 tensor by its float value."""
    constants = state.constants
    if not node.input or node.input[0] not in constants or len(node.input) < 2 or node.input[1] not in constants:
        return False
    q = constants[node.input[0]]
    scale = _checked_scale(node, constants[node.input[1]]).astype(np.float64)
    zero_point = constants.get(node.input[2]) if len(node.input) > 2 and node.input[2] else None
    if q.dtype not in (np.int8, np.int32, np.uint8) or (zero_point is None and len(node.input) > 2 and node.input[2]):
        return False
    axis = next((attr.i for attr in node.attribute if attr.name == "axis"), 1)
    if any(attr.name == "block_size" and attr.i for attr in node.attribute):
        return False
    shape = [1] * q.ndim
    if scale.size > 1 or (zero_point is not None and zero_point.size > 1):
        if scale.ndim != 1 or q.ndim == 0 or not -q.ndim <= axis < q.ndim:
            return False
        axis %= q.ndim
        shape[axis] = -1
        for what, value in (("scale", scale), ("zero point", zero_point)):
            if value is not None and value.size not in (1, q.shape[axis]):
                raise ModelError(f"node '{node.name}' (DequantizeLinear): {what} has {value.size} "
                                 f"values; axis {axis} of '{node.input[0]}' {list(q.shape)} has "
                                 f"{q.shape[axis]}")
    zp = np.zeros(1) if zero_point is None else zero_point.astype(np.float64)
    real = (q.astype(np.float64) - zp.reshape(shape if zp.size > 1 else ())) * scale.reshape(shape if scale.size > 1 else ())
    constants[node.output[0]] = real.astype(np.float32)
    if q.dtype == np.int8 and (zero_point is None or not zero_point.any()):
        info.weight_scales[node.output[0]] = (scale.reshape(-1).astype(np.float32), axis)
    return True


def strip_qdq(state: OnnxState) -> QdqInfo:
    """Rewrites `state` in place as described in the module doc; an empty QdqInfo (falsy)
    when the model has no QDQ pair on an activation."""
    info = QdqInfo()
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in state.nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    kept: list[onnx.NodeProto] = []
    for node in state.nodes:
        if node.domain not in ("", "ai.onnx"):
            kept.append(node)
            continue
        if node.op_type == "DequantizeLinear" and _fold_constant_dequantize(node, state, info):
            continue
        if node.op_type == "QuantizeLinear" and node.input[0] not in state.constants:
            params = _qparams(node, state.constants)
            readers = consumers.get(node.output[0], [])
            if (params is not None and readers and node.output[0] not in state.outputs
                    and all(r.op_type == "DequantizeLinear" and _qparams(r, state.constants) == params
                            for r in readers)):
                info.qparams[node.input[0]] = params
                for reader in readers:
                    info.qparams[reader.output[0]] = params
                    identity = onnx.helper.make_node("Identity", [node.input[0]], [reader.output[0]],
                                                     name=reader.name)
                    reader.CopyFrom(identity)
                continue
        kept.append(node)
    state.nodes[:] = kept
    _share_through_identities(kept, info.qparams)
    return info


def _share_through_identities(nodes: list[onnx.NodeProto], qparams: dict[str, QParams]) -> None:
    """An Identity's input and output are one value: both get its qparams, whichever
    name the passes keep."""
    identities = [node for node in nodes if node.op_type == "Identity" and node.domain in ("", "ai.onnx")]
    for node in identities + identities[::-1]:
        source, target = node.input[0], node.output[0]
        if source in qparams or target in qparams:
            params = qparams.get(source) or qparams[target]
            qparams[source] = qparams[target] = params


def quantize_qdq_graph(graph: Graph, info: QdqInfo, max_constant_elements: int) -> Graph:
    """The integer form of a lowered QDQ model (module doc); the passes fold no constant
    over `max_constant_elements` elements, as for a float model."""
    # Imported here: the passes and the quantizer import frontend modules themselves.
    from pocketnn.passes import bounded_pipeline, run_passes
    from pocketnn.passes.fold_dequantize_bias import fold_dequantize_bias
    from pocketnn.quantization.quantize_graph import quantize_graph

    graph = run_passes(graph, bounded_pipeline(max_constant_elements))
    try:
        return fold_dequantize_bias(quantize_graph(graph, info.qparams, weight_scales=info.weight_scales,
                                                   keep_qdq_rounding=True))
    except ValueError as exc:  # quantization.arith refuses multipliers and weights it cannot encode
        if isinstance(exc, PocketnnError):
            raise
        raise ModelError(f"the model's quantization parameters cannot be represented: {exc}") from exc
