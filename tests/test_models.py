"""Whole models against onnxruntime: MobileNet V1/V2 and ResNet-18 at 224x224 built in
code, and the onnx wheel's light backend models."""

from __future__ import annotations

import glob
import os

import numpy as np
import onnx
import pytest

import pocketnn
from pocketnn.reference_models import MODELS
from support import run_onnxruntime


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reference_model_matches_onnxruntime(name: str) -> None:
    model = MODELS[name]()
    packed = pocketnn.convert(model)
    runtime = pocketnn.Model(packed)
    x = np.random.default_rng(7).standard_normal((1, 3, 224, 224)).astype(np.float32)
    expected = run_onnxruntime(model, {"input": x})[0]
    actual = runtime.run({"input": x})[runtime.outputs[0].name]
    assert actual.shape == expected.shape == (1, 1000)
    assert _relative_error(actual, expected) < 1e-4
    assert np.argmax(actual) == np.argmax(expected)


LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = sorted(glob.glob(os.path.join(LIGHT_DIR, "light_*.onnx")))


@pytest.mark.parametrize("path", LIGHT_MODELS, ids=[os.path.basename(p)[6:-5] for p in LIGHT_MODELS])
def test_light_model(path: str) -> None:
    model = onnx.load(path)
    packed = pocketnn.convert(model)
    runtime = pocketnn.Model(packed)
    rng = np.random.default_rng(3)
    feeds = {i.name: rng.standard_normal(i.shape).astype(np.float32) for i in runtime.inputs}
    expected = run_onnxruntime(model, feeds)
    ours = runtime.run(feeds)
    for info, e in zip(model.graph.output, expected):
        a = ours[info.name]
        assert a.shape == e.shape
        assert _relative_error(a, e) < 1e-4, info.name
