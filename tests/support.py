"""Shared test helpers: build one-node ONNX models, run them in both engines."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import pocketnn
from onnx import TensorProto, helper, numpy_helper


def single_node_model(op: str, inputs: Sequence[tuple[str, np.ndarray | tuple[int, ...]]],
                      n_outputs: int = 1, opset: int = 17, domain: str = "",
                      **attrs: object) -> onnx.ModelProto:
    """A model of one node. An input given as an array is a constant (initializer),
    given as a shape it is a float32 graph input. An empty name means an absent input."""
    graph_inputs, initializers, names = [], [], []
    for name, value in inputs:
        names.append(name)
        if not name:
            continue
        if isinstance(value, np.ndarray):
            initializers.append(numpy_helper.from_array(value, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value)))
    outputs = [f"y{i}" for i in range(n_outputs)]
    node = helper.make_node(op, names, outputs, name=f"{op.lower()}_node", domain=domain, **attrs)
    graph = helper.make_graph([node], f"single_{op}", graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
                              initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(domain, opset)])
    model.ir_version = 8
    return model


def make_model(nodes: Sequence[onnx.NodeProto], inputs: dict[str, Sequence[int]],
               outputs: Sequence[str], inits: dict[str, np.ndarray] | None = None,
               opset: int = 17) -> onnx.ModelProto:
    """A float32 model of ``nodes``: graph inputs by shape, constants in ``inits``."""
    graph = helper.make_graph(
        list(nodes), "t",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (inits or {}).items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8  # onnxruntime 1.31 reads IR <= 13
    return model


def qdq_pair(name: str, scale: float, zero_point: int, nodes: list, initializers: list) -> str:
    """Appends QuantizeLinear -> DequantizeLinear (u8) on `name`; returns the dequantized name."""
    initializers += [numpy_helper.from_array(np.array(scale, np.float32), f"{name}_scale"),
                     numpy_helper.from_array(np.array(zero_point, np.uint8), f"{name}_zp")]
    nodes += [helper.make_node("QuantizeLinear", [name, f"{name}_scale", f"{name}_zp"], [f"{name}_q"]),
              helper.make_node("DequantizeLinear", [f"{name}_q", f"{name}_scale", f"{name}_zp"], [f"{name}_dq"])]
    return f"{name}_dq"


def unoptimized_session_options() -> ort.SessionOptions:
    """onnxruntime as a host-independent reference for integer models: with graph
    optimizations on, it fuses QDQ into int8 kernels whose results depend on the CPU
    (u8 x s8 on AVX2 without VNNI saturates in vpmaddubsw, many steps off); unfused, a
    DequantizeLinear -> op -> QuantizeLinear chain computes the same values anywhere."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    return options


# (weight input, its zero point) of the ops whose int8 weights onnxruntime multiplies with
# u8 activations in its integer GEMM.
_INT8_WEIGHT_INPUTS = {"MatMulInteger": [(1, 3)], "ConvInteger": [(1, 3)], "DynamicQuantizeMatMul": [(1, 3)],
                       "DynamicQuantizeLSTM": [(1, 9), (2, 11)]}


def with_unsigned_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same model with its constant int8 integer-GEMM weights stored as uint8: w + 128 with
    zero point zp + 128 (0 + 128 when absent), so w - zp and every result are unchanged.

    Why: onnxruntime multiplies u8 x s8 on AVX2 without VNNI with vpmaddubsw, which saturates
    (results thousands off), whatever the graph optimization level; its u8 x u8 kernels are
    exact on every CPU. The rewritten model is the host-independent reference."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}

    def unsigned(name: str) -> str:  # "": an absent zero point, 0
        values = numpy_helper.to_array(inits[name]) if name else np.zeros((), np.int8)
        shifted = numpy_helper.from_array((values.astype(np.int16) + 128).astype(np.uint8),
                                          f"{name or 'zero_point'}_as_u8_{len(graph.initializer)}")
        graph.initializer.append(shifted)
        return shifted.name

    for node in graph.node:
        for weight, zero in _INT8_WEIGHT_INPUTS.get(node.op_type, []):
            name = node.input[weight] if weight < len(node.input) else ""
            if name not in inits or inits[name].data_type != TensorProto.INT8:
                continue
            while len(node.input) <= zero:
                node.input.append("")
            zero_name = node.input[zero]
            node.input[weight] = unsigned(name)
            node.input[zero] = unsigned(zero_name if zero_name in inits else "")
    return model


def run_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def run_pocketnn(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    shapes = {k: tuple(v.shape) for k, v in feeds.items()}
    packed = pocketnn.convert(model, input_shapes=shapes)
    runtime = pocketnn.Model(packed)
    result = runtime.run(feeds)
    return [result[o.name] for o in model.graph.output]


def random_feeds(model: onnx.ModelProto, seed: int = 0, low: float = -2.0,
                 high: float = 2.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    initializer_names = {i.name for i in model.graph.initializer}
    for value in model.graph.input:
        if value.name in initializer_names:
            continue
        shape = [d.dim_value for d in value.type.tensor_type.shape.dim]
        feeds[value.name] = rng.uniform(low, high, shape).astype(np.float32)
    return feeds


def assert_matches_onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray] | None = None,
                               rtol: float = 1e-4, atol: float = 1e-5) -> None:
    feeds = feeds if feeds is not None else random_feeds(model)
    expected = run_onnxruntime(model, feeds)
    actual = run_pocketnn(model, feeds)
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        assert e.shape == a.shape, f"shape {a.shape}, onnxruntime {e.shape}"
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol)


def digits_float_setup(fixtures: os.PathLike[str]) -> dict:
    """The digits fixture for quantization tests: test images/labels, calibration images,
    the model path, its passed float graph and the float runtime's test accuracy."""
    import pocketnn
    from pocketnn.datasets import digits_model_path, load_digits_fixture
    from pocketnn.frontend.onnx_import import import_onnx
    from pocketnn.passes import run_passes

    images, labels = load_digits_fixture("test", fixtures)
    calib, _ = load_digits_fixture("calib", fixtures)
    model_path = digits_model_path(fixtures)
    float_model = pocketnn.Model(pocketnn.convert(str(model_path)))
    logits = np.concatenate([float_model.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))])
    return {"images": images, "labels": labels, "calib": calib, "path": model_path,
            "graph": run_passes(import_onnx(str(model_path))),
            "float_accuracy": float(np.mean(logits.argmax(1) == labels))}


def quantize_with_onnxruntime(model: onnx.ModelProto | os.PathLike[str], samples: np.ndarray, workdir: os.PathLike[str],
                              quant_format: str = "QDQ") -> onnx.ModelProto:
    """`model` (input "input") quantized by onnxruntime's quantize_static on `samples` in
    QDQ or QOperator form: per-channel s8 weights, u8 activations (bench/bench_int8.py's call)."""
    from pathlib import Path

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter([{"input": sample[None]} for sample in samples.astype(np.float32)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    workdir = Path(workdir)
    float_path = workdir / "float.onnx"
    if isinstance(model, onnx.ModelProto):
        onnx.save(model, str(float_path))
    else:
        float_path = Path(model)
    out = workdir / f"{quant_format.lower()}.onnx"
    quantize_static(str(float_path), str(out), Reader(), quant_format=QuantFormat[quant_format], per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return onnx.load(str(out))


def run_per_sample(model: onnx.ModelProto, x: np.ndarray, engine: str) -> np.ndarray:
    """The first output of `model` on each sample of x (one batch-1 run each, input
    "input") in "onnxruntime" or "pocketnn", concatenated."""
    if engine == "onnxruntime":
        session = ort.InferenceSession(model.SerializeToString(), unoptimized_session_options(),
                                       providers=["CPUExecutionProvider"])
        return np.concatenate([session.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
    runner = pocketnn.Model(pocketnn.convert(model))
    output = runner.outputs[0].name
    return np.concatenate([runner.run({"input": x[i:i + 1]})[output] for i in range(len(x))])


@contextmanager
def sparse_int8_kernels_pay() -> Iterator[None]:
    """Inside, converting to int8 sees every sparse-marked layer's sparse kernel as faster
    than its dense one (as it is on AVX-512 hosts), so it stores them group-sparse. The
    choice is otherwise timed on the host (quantization/sparse_storage.py); this makes a
    test of sparse int8 storage, size and accuracy host-independent. The choice rule
    itself is tested on given timings (tests/test_sparse_int8.py)."""
    from pocketnn.quantization import sparse_storage

    def measured(all8, qnode) -> sparse_storage.SparseStorage:
        weight = all8.tensors[qnode.inputs[1]]
        dense = replace(weight, sparse_group=0)
        return sparse_storage.SparseStorage(qnode.name, weight.sparse_group, sparse_storage.stored_bytes(dense),
                                            sparse_storage.stored_bytes(weight), dense_seconds=1.0,
                                            sparse_seconds=0.5)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sparse_storage, "_measure_storage", measured)
        yield
