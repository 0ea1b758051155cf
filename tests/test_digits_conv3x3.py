"""The second trained CNN (issue 14: a different architecture family than the repo's
MobileNet-style fixture): dense 3x3 convolutions, a HardSwish/SqueezeExcite block and a
Gemm head, trained on real MNIST digits by `scripts/train_digits_cnn.py --arch
digits_conv3x3`. Float and int8 against onnxruntime on the 1000 held-out test digits."""

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
# Measured per-layer allocation (docs/SPARSITY.md, "Per-layer sparsity on the 3x3 CNN"):
# the early 3x3 convs, the gates and the head lighter, the 64x64 conv heavier; 69.7% overall.
ALLOCATION = {"/features/features.3/Conv": 0.5, "/features/features.6/Conv": 0.6,
              "/features/features.9/gate/gate.1/Conv": 0.5, "/features/features.9/gate/gate.3/Conv": 0.5,
              "/features/features.10/Conv": 0.6, "/features/features.13/Conv": 0.8, "/classifier/Gemm": 0.5}


@pytest.fixture(scope="module")
def sparse_70(digits) -> dict[str, tuple[float, float, float]]:
    """{"int8", "int8 allocated"}: (test accuracy, file size / ONNX size, zero fraction of the
    pruned layers) at --sparsity 0.7 + int8, G = 4, reconstructed on the 250 calibration
    digits, the pruned layers stored sparse (support.sparse_int8_kernels_pay): uniform with
    the default mask method, and the measured allocation with method "best"."""
    images, labels = digits
    calib, _ = load_digits_fixture("calib", FIXTURES)
    results = {}
    allocated = {"method": "best", "layers": [{"match": k, "sparsity": v} for k, v in ALLOCATION.items()]}
    for label, recipe in (("int8", {}), ("int8 allocated", allocated)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with sparse_int8_kernels_pay():
                result = convert_model(str(MODEL), options=sparsity_options(SPARSE_70, 4, recipe),
                                       calib={"input": calib}, quantize="int8", quiet=True)
        model = pocketnn.Model(result.data)
        acc = accuracy(lambda x, m=model: m.run({"input": x})["logits"], images, labels)
        results[label] = (acc, len(result.data) / MODEL.stat().st_size, result.sparsity.pruned_fraction)
    return results


def test_sparsity_70_with_int8_is_under_0_15x(sparse_70) -> None:
    recorded = json.loads((FIXTURES / "digits_conv3x3.json").read_text())["onnxruntime_test_accuracy"]
    for label, (acc, size, zeros) in sparse_70.items():
        assert zeros == pytest.approx(SPARSE_70, abs=0.01), sparse_70
        assert size <= 0.15, sparse_70  # issue 14's bound: 0.111x
    # Uniform 70% loses 3.3 points (95.6%); the measured allocation with "best" masks meets
    # issue 14's <= 1.5 (97.4%, no margin left): docs/SPARSITY.md.
    assert sparse_70["int8"][0] >= recorded - 0.036, sparse_70
    assert sparse_70["int8 allocated"][0] >= recorded - 0.015, sparse_70
