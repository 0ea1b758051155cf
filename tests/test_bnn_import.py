"""Binary networks in every export form (tests/fixtures/bnn, scripts/train_bnn_digits.py):
each imports to the canonical form (docs/BINARY.md) and runs in pocketnn's float path as in
onnxruntime on the 1000 test digits. No torch needed: the fixtures are committed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnx.reference import ReferenceEvaluator

from pocketnn.binary.layers import ALPHA_RTOL, find_binary_layers
from pocketnn.conversion import convert_graph, convert_model
from pocketnn.datasets import load_digits_fixture
from pocketnn.runtime import Model
from pocketnn.verify import verify
from support import run_per_sample

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BNN = FIXTURES / "bnn"
# Relative tolerance of the logits, against the sample's largest |logit|.
LOGIT_RTOL = 1e-4

# fixture -> (onnxruntime's reference for it, NHWC input, the binarizer, the padding of
# the three binary convs). QONNX's BipolarQuant does not run in onnxruntime: its
# reference is the same network in standard ONNX, written beside it.
FORMS = {
    "bnn_frozen.onnx": ("bnn_frozen.onnx", False, "sign", "zero"),
    "bnn_pm1_mul.onnx": ("bnn_pm1_mul.onnx", False, "sign", "zero"),
    "bnn_latent.onnx": ("bnn_latent.onnx", False, "sign", "zero"),
    "bnn_dynamo.onnx": ("bnn_dynamo.onnx", False, "sign", "zero"),
    "bnn_qonnx.onnx": ("bnn_qonnx_ref.onnx", False, "zero_positive", "zero"),
    "bnn_qonnx_ref.onnx": ("bnn_qonnx_ref.onnx", False, "zero_positive", "zero"),
    "bnn_larq.onnx": ("bnn_larq.onnx", True, "zero_positive", "one"),
}


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_digits_fixture("test", FIXTURES)[0]


def _present(name: str) -> Path:
    path = BNN / name
    if not path.exists():  # only the torch.export form may be missing: bnn.json says why
        reason = json.loads((BNN / "bnn.json").read_text())["dynamo_export"]
        pytest.skip(f"{name} was not exported: {reason}")
    return path


@pytest.mark.parametrize("name", sorted(FORMS))
def test_binary_layers_found_in_canonical_form(name: str) -> None:
    # binarize="off": the canonical float form, before passes.lower_binary replaces it.
    graph, _ = convert_graph(str(_present(name)), quiet=True, binarize="off")
    layers = find_binary_layers(graph)
    _, _, binarizer, padding = FORMS[name]
    # Three binary 3x3 convs and the binary Linear; the float first conv and last Linear are not binary.
    assert [layer.op for layer in layers][:3] == ["Conv"] * 3, layers
    assert layers[3].op in ("Gemm", "MatMul") and len(layers) == 4
    assert [layer.alpha.size for layer in layers] == [32, 32, 64, 64]
    assert all(layer.binarizer == binarizer for layer in layers)
    assert [layer.padding for layer in layers[:3]] == [padding] * 3
    # No Transpose or per-channel Mul is left between a binarizer and its layer, and the
    # weights are exactly +-a_c.
    nodes = {n.name: n for n in graph.nodes}
    for layer in layers:
        w = graph.constant(nodes[layer.node].inputs[1])
        assert w is not None
        assert set(np.unique(np.abs(w)).tolist()) <= set(layer.alpha.astype(np.float32).tolist())


@pytest.mark.parametrize("name", sorted(FORMS))
def test_every_binary_layer_runs_on_the_binary_kernels(name: str) -> None:
    graph, _ = convert_graph(str(_present(name)), quiet=True)
    ops = [node.op for node in graph.nodes]
    assert ops.count("BConv2d") == 3 and ops.count("BGemm") == 1, ops
    assert "Sign" not in ops and "Where" not in ops


@pytest.mark.parametrize("name", sorted(FORMS))
def test_outputs_equal_onnxruntime(name: str, digits: np.ndarray) -> None:
    reference, nhwc, _, _ = FORMS[name]
    x = np.ascontiguousarray(digits.transpose(0, 2, 3, 1)) if nhwc else digits
    want = run_per_sample(onnx.load(str(BNN / reference)), x, "onnxruntime")
    got = run_per_sample(onnx.load(str(_present(name))), x, "pocketnn")
    assert np.array_equal(got.argmax(1), want.argmax(1))
    scale = np.abs(want).max(axis=1, keepdims=True)
    off = np.abs(got - want) > LOGIT_RTOL * scale
    assert not off.any(), f"{int(off.any(axis=1).sum())} samples beyond {LOGIT_RTOL} relative"


def test_provenance_lists_every_form() -> None:
    meta = json.loads((BNN / "bnn.json").read_text())
    assert set(meta["forms"]) == set(FORMS)
    for name, accuracy in meta["onnxruntime_test_accuracy"].items():
        assert accuracy > 0.9, name


# ---------------------------------------------------------------------------- small graphs

def _model(nodes: list[onnx.NodeProto], inits: dict[str, np.ndarray], x_shape: list[int],
           y_shape: list[int]) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
                              [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _pm_alpha(shape: tuple[int, ...], seed: int, jitter: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    alpha = rng.uniform(0.5, 2.0, size=(shape[0],) + (1,) * (len(shape) - 1))
    w = np.where(rng.random(shape) < 0.5, -1.0, 1.0) * alpha
    return (w * (1 + rng.uniform(-jitter, jitter, size=shape))).astype(np.float32)


def test_weights_within_tolerance_are_snapped_and_outside_are_not() -> None:
    for jitter, binary in ((0.4 * ALPHA_RTOL, True), (3 * ALPHA_RTOL, False)):
        w = _pm_alpha((4, 3, 3, 3), seed=1, jitter=jitter)
        model = _model([helper.make_node("Sign", ["x"], ["s"]), helper.make_node("Conv", ["s", "w"], ["y"], pads=[1] * 4)],
                       {"w": w}, [1, 3, 5, 5], [1, 4, 5, 5])
        graph, _ = convert_graph(model, quiet=True, binarize="off")
        layers = find_binary_layers(graph)
        assert bool(layers) == binary
        if binary:
            conv = next(n for n in graph.nodes if n.op == "Conv")
            snapped = graph.constant(conv.inputs[1])
            assert snapped is not None
            assert np.array_equal(np.abs(snapped).max(axis=(1, 2, 3)), np.abs(snapped).min(axis=(1, 2, 3)))


def test_larq_binarizers_and_where_form_become_zero_positive_sign() -> None:
    w = _pm_alpha((2, 3, 1, 1), seed=2)
    nodes = [helper.make_node("Sign", ["x"], ["s1"]), helper.make_node("Add", ["s1", "c"], ["a"]),
             helper.make_node("Sign", ["a"], ["s2"]), helper.make_node("Conv", ["s2", "w"], ["y1"]),
             helper.make_node("GreaterOrEqual", ["x", "zero"], ["ge"]),
             helper.make_node("Where", ["ge", "one", "minus_one"], ["b"]),
             helper.make_node("Conv", ["b", "w"], ["y2"]), helper.make_node("Add", ["y1", "y2"], ["y"])]
    inits = {"c": np.float32(0.1), "w": w, "zero": np.float32(0.0), "one": np.float32(1.0),
             "minus_one": np.float32(-1.0)}
    graph, _ = convert_graph(_model(nodes, inits, [1, 3, 4, 4], [1, 2, 4, 4]), quiet=True, binarize="off")
    layers = find_binary_layers(graph)
    assert [layer.binarizer for layer in layers] == ["zero_positive", "zero_positive"]
    assert not any(n.op in ("Sign", "GreaterOrEqual") for n in graph.nodes)


def test_larq_offset_outside_0_1_is_left_alone() -> None:
    """Sign(Sign(x) + 1.5) is 1 for x = -1 too: not a sign, so not rewritten."""
    w = _pm_alpha((2, 3, 1, 1), seed=3)
    nodes = [helper.make_node("Sign", ["x"], ["s1"]), helper.make_node("Add", ["s1", "c"], ["a"]),
             helper.make_node("Sign", ["a"], ["s2"]), helper.make_node("Conv", ["s2", "w"], ["y"])]
    graph, _ = convert_graph(_model(nodes, {"c": np.float32(1.5), "w": w}, [1, 3, 4, 4], [1, 2, 4, 4]),
                             quiet=True, binarize="off")
    assert [layer.binarizer for layer in find_binary_layers(graph)] == ["sign"]
    assert sum(n.op == "Sign" for n in graph.nodes) == 2


def test_sign_zero_positions_are_counted(digits: np.ndarray) -> None:
    """Where a Sign model's pre-sign value is exactly 0, ONNX Sign gives 0 and the binary
    kernels +1 (docs/BINARY.md). `verify` counts those positions per Sign node: the
    fixture has none on the first 200 test digits, so its binary path matches."""
    model = onnx.load(str(BNN / "bnn_frozen.onnx"))
    packed = convert_model(model, quiet=True).data
    report = verify(model, packed, inputs={"input": digits[:200]})
    assert len(report.sign_zeros) == 4 and report.sign_zero_positions == 0
    assert all(values > 0 for _, values in report.sign_zeros.values())
    assert report.passed(rtol=1e-4), report.failures()


def test_verify_counts_sign_zeros_and_names_them_on_failure() -> None:
    """Relu before a Sign makes about half the pre-sign values exactly 0: the binary
    kernels read +1 there, the output differs from onnxruntime, and verify's FAIL comes
    with the count, which equals the zeros onnx's reference evaluator computes."""
    rng = np.random.default_rng(3)
    inits = {"w0": rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1": _pm_alpha((8, 8, 3, 3), seed=4),
             "w2": _pm_alpha((8, 8, 3, 3), seed=5), "w3": rng.standard_normal((4, 8, 1, 1)).astype(np.float32)}
    nodes = [helper.make_node("Conv", ["x", "w0"], ["c0"], pads=[1] * 4), helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Sign", ["r0"], ["s0"], name="sign0"),
             helper.make_node("Conv", ["s0", "w1"], ["c1"], pads=[1] * 4),
             helper.make_node("Sign", ["c1"], ["s1"], name="sign1"),
             helper.make_node("Conv", ["s1", "w2"], ["c2"], pads=[1] * 4), helper.make_node("Conv", ["c2", "w3"], ["y"])]
    model = _model(nodes, inits, [1, 3, 8, 8], [1, 4, 8, 8])
    packed = convert_model(model, quiet=True).data
    assert [n.op for n in Model(packed).nodes].count("BConv2d") == 2
    x = rng.standard_normal((3, 3, 8, 8)).astype(np.float32)
    report = verify(model, packed, inputs={"x": x})
    evaluator = ReferenceEvaluator(model)
    r0 = [evaluator.run(["r0"], {"x": x[i:i + 1]})[0] for i in range(len(x))]
    assert report.sign_zeros["sign0"] == (sum(int(np.count_nonzero(v == 0)) for v in r0), r0[0].size * len(x))
    # sign1's zeros are sums of signs times weights, exactly 0 or not by summation order:
    # onnxruntime's are the ones that matter, so only its count of values is checked here.
    assert report.sign_zeros["sign1"][1] == r0[0].size * len(x)
    assert report.sign_zeros["sign0"][0] > 0
    failures = report.failures()
    assert failures[0].startswith("FAIL output 'y'")
    assert f"{report.sign_zero_positions} value(s) entering a Sign were exactly 0" in failures[-1]
