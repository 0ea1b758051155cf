"""Real-data accuracy: the digits CNN fixture (MNIST, tests/fixtures) in pocketnn vs onnxruntime."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import pocketnn
from pocketnn.cli import main
from pocketnn.conversion import convert_model, sparsity_options
from pocketnn.datasets import (ENV_VAR, accuracy, digits_metadata, digits_model_path, fixtures_dir,
                               load_digits_fixture, predictions)
from support import sparse_int8_kernels_pay

SAMPLES = 1000
# Explicit, so the tests also find the fixture when pocketnn is installed non-editable.
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return load_digits_fixture("test", FIXTURES)


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("digits") / "digits_cnn.pnn"
    pocketnn.convert(str(digits_model_path(FIXTURES)), path)
    return path


def _ort_run(model_path: Path) -> Callable[[np.ndarray], np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    return lambda x: session.run(["logits"], {"input": x})[0]


def test_fixture_data_is_what_the_json_says(digits) -> None:
    images, labels = digits
    meta = digits_metadata(FIXTURES)
    assert images.shape == (SAMPLES, 1, 28, 28) and images.dtype == np.float32
    assert labels.shape == (SAMPLES,) and labels.dtype == np.int64
    assert meta["samples"] == SAMPLES
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, SAMPLES // 10))  # stratified
    calib_images, calib_labels = load_digits_fixture("calib", FIXTURES)
    assert calib_images.shape == (meta["calib_samples"], 1, 28, 28) and len(calib_labels) == len(calib_images)
    # The calibration digits come from the training split: none of them is a test digit.
    test_set = {img.tobytes() for img in images}
    assert not any(img.tobytes() in test_set for img in calib_images)
    with pytest.raises(ValueError):
        load_digits_fixture("train", FIXTURES)  # type: ignore[arg-type]


def test_fixture_lookup(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(FIXTURES))
    assert fixtures_dir() == FIXTURES
    with pytest.raises(FileNotFoundError, match="ships no data"):
        fixtures_dir(tmp_path)


def test_fixture_model_exercises_the_compressors() -> None:
    model = onnx.load(str(digits_model_path(FIXTURES)))
    ops = [n.op_type for n in model.graph.node]
    for op in ("Conv", "BatchNormalization", "Relu", "Clip", "Add", "GlobalAveragePool", "Gemm"):
        assert op in ops, op
    weights = {t.name: t for t in model.graph.initializer}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    dims = [tuple(weights[n.input[1]].dims) for n in convs]
    assert any(d[2:] == (3, 3) and d[1] == 1 and d[0] > 1 and n.input[0] == "input" for d, n in zip(dims, convs))
    pointwise = [d for d in dims if d[2:] == (1, 1) and d[0] >= 32 and d[1] >= 32]
    assert len(pointwise) >= 3  # sparsity targets
    groups = [next((a.i for a in n.attribute if a.name == "group"), 1) for n in convs]
    assert any(g > 1 and g == d[0] for g, d in zip(groups, dims))  # depthwise
    assert digits_model_path(FIXTURES).stat().st_size < 500_000


def test_pocketnn_matches_onnxruntime_accuracy(digits, packed) -> None:
    images, labels = digits
    model = pocketnn.Model(packed)
    ours = predictions(lambda x: model.run({"input": x})["logits"], images)
    theirs = predictions(_ort_run(digits_model_path(FIXTURES)), images)
    assert np.mean(ours == theirs) >= 0.999
    acc_ours = float(np.mean(ours == labels))
    acc_ort = float(np.mean(theirs == labels))
    recorded = digits_metadata(FIXTURES)["onnxruntime_test_accuracy"]
    assert acc_ort >= recorded - 0.001
    assert acc_ours >= recorded - 0.001
    assert abs(acc_ours - acc_ort) <= 0.001
    # accuracy() is the same count through the public helper.
    assert accuracy(lambda x: model.run({"input": x})["logits"], images[:100], labels[:100]) == \
        float(np.mean(ours[:100] == labels[:100]))


def test_cli_verify_reports_the_accuracy(digits, packed, tmp_path, capsys) -> None:
    images, labels = digits
    np.savez(tmp_path / "inputs.npz", input=images)
    np.save(tmp_path / "labels.npy", labels)
    status = main(["verify", str(digits_model_path(FIXTURES)), str(packed),
                   "--inputs", str(tmp_path / "inputs.npz"), "--labels", str(tmp_path / "labels.npy")])
    text = capsys.readouterr().out
    assert status == 0, text
    recorded = digits_metadata(FIXTURES)["onnxruntime_test_accuracy"]
    assert f"{recorded:.4f} / " in text, text
    line = next(row for row in text.splitlines() if "logits" in row)
    reported = [float(tok) for tok in line.replace("/", " ").split() if tok.count(".") == 1
                and tok.replace(".", "").isdigit()][-2:]
    assert abs(reported[0] - recorded) <= 0.001 and reported[1] >= recorded - 0.001


# ------------------------- --sparsity over all convs (issue 14): accuracy and file size

SPARSE_70 = 0.7


@pytest.fixture(scope="module")
def sparse_70(digits) -> dict[str, tuple[float, float, float]]:
    """{"float", "int8"}: (test accuracy in pocketnn, file size / ONNX size, zero fraction
    of the pruned layers) of the digits CNN at --sparsity 0.7 (every conv and the Gemm but
    the first conv and the depthwise ones), shared out between the layers by measured
    sensitivity and reconstructed on the 250 calibration digits.
    G = 4 fixed and the int8 layers stored sparse (support.sparse_int8_kernels_pay), so the
    result does not depend on this machine's timings."""
    images, labels = digits
    calib, _ = load_digits_fixture("calib", FIXTURES)
    path = digits_model_path(FIXTURES)
    results = {}
    for quantize in (None, "int8"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            with sparse_int8_kernels_pay():
                result = convert_model(str(path), options=sparsity_options(SPARSE_70, 4), calib={"input": calib},
                                       quantize=quantize, quiet=True)
        model = pocketnn.Model(result.data)
        acc = accuracy(lambda x, m=model: m.run({"input": x})["logits"], images, labels)
        results[quantize or "float"] = (acc, len(result.data) / path.stat().st_size, result.sparsity.pruned_fraction)
    return results


def test_sparsity_70_over_all_convs_loses_at_most_one_point(sparse_70) -> None:
    acc, size, zeros = sparse_70["float"]
    recorded = digits_metadata(FIXTURES)["onnxruntime_test_accuracy"]
    assert zeros == pytest.approx(SPARSE_70, abs=0.01)
    assert acc >= recorded - 0.010, sparse_70
    # Issue 14's bound.
    assert size <= 0.40, sparse_70


def test_sparsity_70_with_int8_loses_at_most_one_and_a_half_points(sparse_70) -> None:
    acc, size, _ = sparse_70["int8"]
    recorded = digits_metadata(FIXTURES)["onnxruntime_test_accuracy"]
    assert acc >= recorded - 0.015, sparse_70
    # Issue 14's bound; the bitmask encoding (format 1.9) took the file from 0.174x to
    # under 0.15x (docs/SPARSITY.md).
    assert size <= 0.15, sparse_70
