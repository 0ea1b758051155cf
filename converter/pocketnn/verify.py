"""Compare a packed model against the original ONNX model run by onnxruntime."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Union

import numpy as np
import onnx
import onnxruntime as ort

from onnx import helper, numpy_helper, shape_inference

from pocketnn.format.opcodes import BINARY_OPS, INTEGER_COMPUTE_OPS
from pocketnn.frontend.bindings import recorded_bindings
from pocketnn.runtime import Model

ModelSource = Union[str, os.PathLike, bytes, onnx.ModelProto]


@dataclass
class OutputReport:
    """Agreement of one output over all samples."""

    name: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float  # max |a-b| / max(|reference|), per sample, worst sample
    cosine: float         # worst sample's cosine similarity
    top1_agreement: float | None  # fraction of samples whose argmax agrees (classifier-shaped outputs)
    sqnr_db: float = float("inf")  # 10 log10(sum ref^2 / sum (ref - ours)^2) over all samples
    accuracy_reference: float | None = None  # with labels: onnxruntime's accuracy
    accuracy_pocketnn: float | None = None   # with labels: pocketnn's accuracy


@dataclass
class VerifyReport:
    samples: int
    outputs: list[OutputReport] = field(default_factory=list)
    quantized: bool = False  # the .pnn runs integer operators
    # With binary operators in the .pnn: per ONNX Sign node, (exact zeros, values) of its
    # input over all samples. ONNX Sign(0) = 0 where the binary kernels read +1
    # (docs/BINARY.md), so these are the positions where the two may differ.
    sign_zeros: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def sign_zero_positions(self) -> int:
        return sum(zeros for zeros, _ in self.sign_zeros.values())

    # A quantized model is not expected to match within rtol. An output of at least
    # COSINE_MIN_ELEMENTS values per sample passes at cosine similarity >= min_cosine; a
    # smaller one (a score, a probability: its cosine is +-1 whatever the error) at
    # SQNR >= min_sqnr_db over all samples.
    QUANTIZED_MIN_COSINE = 0.99
    QUANTIZED_MIN_SQNR_DB = 15.0
    COSINE_MIN_ELEMENTS = 16

    def failures(self, rtol: float = 1e-3, min_cosine: float = QUANTIZED_MIN_COSINE,
                 min_sqnr_db: float = QUANTIZED_MIN_SQNR_DB) -> list[str]:
        """One line per output that fails, naming the output, the metric and its threshold."""
        lines = []
        for o in self.outputs:
            elements = int(np.prod(o.shape[1:] if len(o.shape) > 1 else o.shape, dtype=np.int64))
            if not self.quantized:
                if not o.max_rel_error <= rtol:
                    lines.append(f"FAIL output '{o.name}': max relative error {o.max_rel_error:.3g} > rtol {rtol:g}")
            elif elements >= self.COSINE_MIN_ELEMENTS:
                if not o.cosine >= min_cosine:
                    lines.append(f"FAIL output '{o.name}': cosine {o.cosine:.6f} < {min_cosine:g} (quantized model)")
            elif not o.sqnr_db >= min_sqnr_db:
                lines.append(f"FAIL output '{o.name}': SQNR {o.sqnr_db:.1f} dB < {min_sqnr_db:g} dB (quantized "
                             f"model; {elements} value(s) per sample, so cosine says nothing)")
        if lines and self.sign_zero_positions:
            lines.append(f"note: {self.sign_zero_positions} value(s) entering a Sign were exactly 0: ONNX "
                         "gives Sign(0) = 0, pocketnn's binary kernels +1 (docs/BINARY.md)")
        return lines

    def passed(self, rtol: float = 1e-3, min_cosine: float = QUANTIZED_MIN_COSINE,
               min_sqnr_db: float = QUANTIZED_MIN_SQNR_DB) -> bool:
        return not self.failures(rtol, min_cosine, min_sqnr_db)


def _onnx_bytes(source: ModelSource) -> bytes:
    if isinstance(source, onnx.ModelProto):
        return source.SerializeToString()
    if isinstance(source, bytes):
        return source
    with open(source, "rb") as f:
        return f.read()


def _is_classifier(shape: tuple[int, ...]) -> bool:
    return len(shape) == 2 and shape[1] > 1


def _sign_inputs(model: onnx.ModelProto) -> dict[str, str]:
    """Node name (or output name) of every Sign -> the tensor it reads."""
    return {node.name or node.output[0]: node.input[0] for node in model.graph.node if node.op_type == "Sign"}


def _with_outputs(model: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A copy of `model` that also outputs the intermediate tensors `names`."""
    inferred = shape_inference.infer_shapes(model)
    elem_type = {v.name: v.type.tensor_type.elem_type for v in
                 list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)}
    extended = onnx.ModelProto()
    extended.CopyFrom(model)
    present = {o.name for o in extended.graph.output}
    extended.graph.output.extend(helper.make_tensor_value_info(name, elem_type.get(name, onnx.TensorProto.FLOAT),
                                                                    None)
                                 for name in names if name not in present)
    return extended


def random_inputs(model: Model, samples: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Standard-normal inputs, ``samples`` of them concatenated along the batch axis."""
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    for info in model.inputs:
        shape = (info.shape[0] * samples,) + info.shape[1:] if info.shape else info.shape
        feeds[info.name] = rng.standard_normal(shape).astype(info.dtype)
    return feeds


def verify(onnx_model: ModelSource, packed: Union[str, os.PathLike, bytes, Model],
           inputs: Mapping[str, np.ndarray] | None = None, samples: int = 4,
           labels: np.ndarray | None = None, seed: int = 0) -> VerifyReport:
    """Runs both engines on the same inputs and measures how far apart they are.

    ``inputs`` holds N samples per input concatenated along the batch axis (as the
    model's batch size, usually 1, times N); random ones are drawn otherwise.
    ``labels`` (N integers) adds accuracy for classifier outputs.
    """
    model = packed if isinstance(packed, Model) else Model(packed)
    reference = onnx.load_from_string(_onnx_bytes(onnx_model))
    binary = any(node.op in BINARY_OPS for node in model.nodes)
    initializers = {t.name: t for t in reference.graph.initializer}
    signs = _sign_inputs(reference) if binary else {}
    sign_zeros = {node: (0, 0) for node in signs}
    for node, tensor in signs.items():  # a Sign of a constant (latent weights) is counted once
        if tensor in initializers:
            values = numpy_helper.to_array(initializers[tensor])
            sign_zeros[node] = (int(np.count_nonzero(values == 0)), int(values.size))
    watched = {node: tensor for node, tensor in signs.items() if tensor not in initializers}
    if watched:
        reference = _with_outputs(reference, sorted(set(watched.values())))
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(reference.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = dict(inputs) if inputs is not None else random_inputs(model, samples, seed)
    # Inputs frozen at convert time (--bind) are fed to onnxruntime with the same values.
    bound = recorded_bindings(model.metadata("bound_inputs"))
    batch = {i.name: (i.shape[0] if i.shape else 1) for i in model.inputs}
    counts = {feeds[name].shape[0] // max(batch[name], 1) for name in batch}
    if len(counts) != 1:
        raise ValueError("every input must hold the same number of samples")
    n = counts.pop()
    ort_names = [o.name for o in session.get_outputs()]
    per_output: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {o.name: [] for o in model.outputs}
    for s in range(n):
        sample = {k: feeds[k][s * batch[k]:(s + 1) * batch[k]] for k in batch}
        ours = model.run(sample)
        theirs = dict(zip(ort_names, session.run(None, {**sample, **bound})))
        for node, tensor in watched.items():
            zeros, values = sign_zeros[node]
            sign_zeros[node] = (zeros + int(np.count_nonzero(theirs[tensor] == 0)), values + int(theirs[tensor].size))
        for info in model.outputs:
            if info.name not in theirs:
                raise ValueError(f"output {info.name!r} is not an output of the ONNX model")
            per_output[info.name].append((np.asarray(theirs[info.name], dtype=np.float32), ours[info.name]))
    report = VerifyReport(samples=n, quantized=any(node.op in INTEGER_COMPUTE_OPS for node in model.nodes),
                          sign_zeros=sign_zeros)
    for info in model.outputs:
        pairs = per_output[info.name]
        abs_err = max(float(np.max(np.abs(r - p))) if r.size else 0.0 for r, p in pairs)
        rel_err = max((float(np.max(np.abs(r - p))) / max(float(np.max(np.abs(r))), 1e-12)) if r.size else 0.0
                      for r, p in pairs)
        cosines = []
        for r, p in pairs:
            denom = float(np.linalg.norm(r) * np.linalg.norm(p))
            cosines.append(float(np.dot(r.ravel(), p.ravel())) / denom if denom > 0 else 1.0)
        top1 = None
        acc_ref = acc_ours = None
        if _is_classifier(info.shape):
            ref_top = np.concatenate([np.argmax(r, axis=1) for r, _ in pairs])
            our_top = np.concatenate([np.argmax(p, axis=1) for _, p in pairs])
            top1 = float(np.mean(ref_top == our_top))
            if labels is not None:
                truth = np.asarray(labels).reshape(-1)[: ref_top.size]
                acc_ref = float(np.mean(ref_top == truth))
                acc_ours = float(np.mean(our_top == truth))
        signal = sum(float(np.sum(np.square(r, dtype=np.float64))) for r, _ in pairs)
        noise = sum(float(np.sum(np.square(r.astype(np.float64) - p))) for r, p in pairs)
        sqnr = float("inf") if noise == 0.0 else 10.0 * float(np.log10(max(signal, 1e-300) / noise))
        report.outputs.append(OutputReport(info.name, info.shape, abs_err, rel_err, min(cosines),
                                           top1, sqnr, acc_ref, acc_ours))
    return report
