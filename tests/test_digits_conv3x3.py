"""The second trained CNN (issue 14: a different architecture family than the repo's
MobileNet-style fixture): dense 3x3 convolutions, a HardSwish/SqueezeExcite block and a
Gemm head, trained on real MNIST digits by `scripts/train_digits_cnn.py --arch
digits_conv3x3`. Float, int8, int4, mixed int4/int8 and 70% sparsity against
onnxruntime's float accuracy on the 1000 held-out test digits."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import pocketnn
from pocketnn.conversion import convert_model, sparsity_options
from pocketnn.datasets import accuracy, load_digits_fixture, predictions
from pocketnn.ir import DType
from pocketnn.quantization.mixed import packed_weights
from support import sparse_int8_kernels_pay

FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL = FIXTURES / "digits_conv3x3.onnx"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits_fixture("test", FIXTURES)


@pytest.fixture(scope="module")
def reference(digits) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    return predictions(lambda x: session.run(["logits"], {"input": x})[0], digits[0])


def _pocketnn_predictions(path: Path, images: np.ndarray) -> np.ndarray:
    model = pocketnn.Model(str(path))
    return predictions(lambda x: model.run({"input": x})["logits"], images)


def test_fixture_is_the_other_family() -> None:
    model = onnx.load(str(MODEL))
    ops = {n.op_type for n in model.graph.node}
    assert {"Conv", "HardSwish", "HardSigmoid", "Mul", "GlobalAveragePool", "Gemm"} <= ops
    weights = {t.name: tuple(t.dims) for t in model.graph.initializer}
    kernels = [weights[n.input[1]][2:] for n in model.graph.node if n.op_type == "Conv"]
    assert sum(k == (3, 3) for k in kernels) == 5  # every feature conv is a dense 3x3
    meta = json.loads((FIXTURES / "digits_conv3x3.json").read_text())
    assert meta["onnxruntime_test_accuracy"] >= 0.95


def test_float_matches_onnxruntime(digits, reference, tmp_path) -> None:
    images, labels = digits
    pocketnn.convert(str(MODEL), str(tmp_path / "m.pnn"))
    got = _pocketnn_predictions(tmp_path / "m.pnn", images)
    assert np.array_equal(got, reference)
    meta = json.loads((FIXTURES / "digits_conv3x3.json").read_text())
    assert np.mean(reference == labels) == pytest.approx(meta["onnxruntime_test_accuracy"])


def test_int8_loses_at_most_one_point(digits, reference, tmp_path) -> None:
    images, labels = digits
    calib, _ = load_digits_fixture("calib", FIXTURES)
    pocketnn.convert(str(MODEL), str(tmp_path / "q.pnn"), quantize="int8", calib={"input": calib}, quiet=True)
    got = _pocketnn_predictions(tmp_path / "q.pnn", images)
    loss = np.mean(reference == labels) - np.mean(got == labels)
    assert loss <= 0.01, f"int8 loses {100 * loss:.1f} points"
    # Every conv is an integer one, HardSwish / HardSigmoid-fused ones included
    # (quantization/split_activations.py), so the file is about a quarter of the ONNX.
    ops = [n.op for n in pocketnn.Model(str(tmp_path / "q.pnn")).nodes]
    assert "Conv" not in ops and ops.count("QConv") == 7 and ops.count("QLookup") == 4
    assert (tmp_path / "q.pnn").stat().st_size <= 0.3 * MODEL.stat().st_size


# ------------------------- --sparsity 0.7 over all convs (issue 14): accuracy and file size

SPARSE_70 = 0.7


@pytest.fixture(scope="module")
def sparse_70(digits) -> dict[str, tuple[float, float, float, dict[str, float]]]:
    """{"float", "int8"}: (test accuracy, file size / ONNX size, zero fraction of the pruned
    layers, zero fraction per pruned layer) at --sparsity 0.7, shared out between the
    layers by measured sensitivity and reconstructed on the 250 calibration digits at the
    default settings, G = 4 fixed (as the digits CNN's test: the result does not depend on
    this machine's timings) and the pruned int8 layers stored sparse
    (support.sparse_int8_kernels_pay)."""
    images, labels = digits
    calib, _ = load_digits_fixture("calib", FIXTURES)
    results = {}
    for quantize in (None, "int8"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with sparse_int8_kernels_pay():
                result = convert_model(str(MODEL), options=sparsity_options(SPARSE_70, 4),
                                       calib={"input": calib}, quantize=quantize, quiet=True)
        model = pocketnn.Model(result.data)
        acc = accuracy(lambda x, m=model: m.run({"input": x})["logits"], images, labels)
        layers = {r.node: r.sparsity for r in result.sparsity.layers if r.reason.startswith("pruned")}
        results[quantize or "float"] = (acc, len(result.data) / MODEL.stat().st_size,
                                        result.sparsity.pruned_fraction, layers)
    return results


def test_sparsity_70_over_all_convs_loses_at_most_one_point(sparse_70) -> None:
    recorded = json.loads((FIXTURES / "digits_conv3x3.json").read_text())["onnxruntime_test_accuracy"]
    acc, size, zeros, layers = sparse_70["float"]
    assert zeros == pytest.approx(SPARSE_70, abs=0.01), sparse_70
    # Uniform 70% lost 3.4 points (95.5%); the allocation moves sparsity onto the 64x64
    # conv and off the early convs (docs/SPARSITY.md, "Allocation").
    assert max(layers.values()) - min(layers.values()) >= 0.2, layers
    assert acc >= recorded - 0.010, sparse_70
    assert size <= 0.40, sparse_70  # issue 14's bound


def test_sparsity_70_with_int8_is_under_0_15x(sparse_70) -> None:
    recorded = json.loads((FIXTURES / "digits_conv3x3.json").read_text())["onnxruntime_test_accuracy"]
    acc, size, zeros, _ = sparse_70["int8"]
    assert zeros == pytest.approx(SPARSE_70, abs=0.01), sparse_70
    assert size <= 0.15, sparse_70  # issue 14's bounds
    assert acc >= recorded - 0.015, sparse_70


# ------------------------- int4 and mixed int4/int8 at half of int8's weight bytes (issue 14)


@pytest.fixture(scope="module")
def low_bits(digits) -> dict[str, tuple[float, list[tuple[int, DType]]]]:
    """{"int4", "mixed_half"}: (test accuracy, packed weights) of int4 (first and last
    weighted layers int8) and of mixed at size budget 0.5 with the first and last layers
    free, both at the default rounding (GPTQ + bias correction) on the 250 calibration
    digits. The first conv (144 weights) and the Gemm (640) are small, yet with them int8
    the smallest reachable size is 0.506 of int8's, and every layer's weight count is
    even: exactly half needs first_last_int8=False and leaves one choice, every layer int4."""
    images, labels = digits
    calib = {"input": load_digits_fixture("calib", FIXTURES)[0]}
    results = {}
    for name, options in (("int4", {"quantize": "int4"}),
                          ("mixed_half", {"quantize": "mixed", "size_budget": 0.5, "first_last_int8": False})):
        data = pocketnn.convert(str(MODEL), calib=calib, quiet=True, **options)
        model = pocketnn.Model(data)
        results[name] = (accuracy(lambda x, m=model: m.run({"input": x})["logits"], images, labels),
                         packed_weights(data))
    return results


def _int8_weight_bytes() -> int:
    model = onnx.load(str(MODEL))
    weights = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    return sum(weights[n.input[1]] for n in model.graph.node if n.op_type in ("Conv", "Gemm"))


def test_int4_loses_at_most_one_and_a_half_points(digits, reference, low_bits) -> None:
    acc, weights = low_bits["int4"]
    loss = np.mean(reference == digits[1]) - acc
    assert loss <= 0.015, f"int4 loses {100 * loss:.1f} points"
    dtypes = [dtype for _, dtype in weights]
    assert dtypes[0] == dtypes[-1] == DType.S8 and set(dtypes[1:-1]) == {DType.S4}


def test_mixed_at_half_the_int8_size_loses_at_most_one_point(digits, reference, low_bits) -> None:
    acc, weights = low_bits["mixed_half"]
    loss = np.mean(reference == digits[1]) - acc
    assert loss <= 0.010, f"mixed at half of int8's weight bytes loses {100 * loss:.1f} points"
    assert sum(size for size, _ in weights) <= 0.5 * _int8_weight_bytes()
    assert {dtype for _, dtype in weights} == {DType.S4}
