"""The digits fixture: a small CNN trained on real MNIST digits, and its held-out data.

The package ships no data. The fixture lives in a source checkout under
``tests/fixtures/`` (made by ``scripts/train_digits_cnn.py``):

- ``digits_cnn.onnx``  the trained model: input ``input`` [N,1,28,28], output ``logits`` [N,10]
- ``digits_test.npz``  ``images``/``labels``: the 1000 held-out test digits (uint8 28x28,
  int64); ``calib_images``/``calib_labels``: 250 digits from the *training* split, for
  calibration (quantization, pruning reconstruction) without touching the test split
- ``digits_cnn.json``  provenance, the normalization, and the model's test accuracy in
  onnxruntime

Functions take ``directory`` to read a copy elsewhere; by default they look in
``$POCKETNN_FIXTURES``, the checkout this module was imported from (editable install),
then ``./tests/fixtures`` (an installed package run from a checkout's root, as CI does).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np

MODEL_FILE = "digits_cnn.onnx"
DATA_FILE = "digits_test.npz"
META_FILE = "digits_cnn.json"
ENV_VAR = "POCKETNN_FIXTURES"

Split = Literal["test", "calib"]
_SPLIT_KEYS: dict[str, tuple[str, str]] = {"test": ("images", "labels"),
                                           "calib": ("calib_images", "calib_labels")}


def _candidates() -> list[Path]:
    found = [Path(os.environ[ENV_VAR])] if os.environ.get(ENV_VAR) else []
    # An editable install or a checkout on sys.path: converter/pocketnn/ -> repo root.
    found.append(Path(__file__).resolve().parents[2] / "tests" / "fixtures")
    # An installed (non-editable) package run from a checkout's root, as CI does.
    found.append(Path.cwd() / "tests" / "fixtures")
    return found


def fixtures_dir(directory: str | Path | None = None) -> Path:
    """The folder holding the digits fixture: ``directory``; else $POCKETNN_FIXTURES, the
    checkout this module was imported from, or ./tests/fixtures, the first that has it."""
    candidates = [Path(directory)] if directory is not None else _candidates()
    for path in candidates:
        if (path / DATA_FILE).is_file():
            return path
    raise FileNotFoundError(
        f"digits fixture ({DATA_FILE}) not found in {', '.join(map(str, candidates))}: pocketnn ships "
        f"no data; it lives in a source checkout under tests/fixtures (made by "
        f"scripts/train_digits_cnn.py); pass directory= or set {ENV_VAR}")


def digits_model_path(directory: str | Path | None = None) -> Path:
    """Path of the trained ONNX model."""
    return fixtures_dir(directory) / MODEL_FILE


def digits_metadata(directory: str | Path | None = None) -> dict[str, Any]:
    """The fixture's JSON: accuracy in onnxruntime, sample counts, normalization, provenance."""
    with open(fixtures_dir(directory) / META_FILE, encoding="utf-8") as f:
        meta: dict[str, Any] = json.load(f)
    return meta


def normalize_digits(images_u8: np.ndarray, meta: dict[str, Any]) -> np.ndarray:
    """uint8 [N,28,28] -> float32 [N,1,28,28], exactly as in training: (p/255 - mean)/std."""
    norm = meta["normalization"]
    mean, std = np.float32(norm["mean"]), np.float32(norm["std"])
    # float32 throughout, in the same order of operations as the training script's numpy code.
    x = images_u8.astype(np.float32) / np.float32(255.0)
    return ((x - mean) / std)[:, None, :, :].astype(np.float32, copy=False)


def load_digits_fixture(split: Split = "test",
                        directory: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 [N,1,28,28] normalized as in training, labels int64 [N]).

    ``split="test"``: the 1000 held-out digits the recorded accuracy refers to;
    ``split="calib"``: 250 training digits for calibration.
    """
    if split not in _SPLIT_KEYS:
        raise ValueError(f"split must be one of {sorted(_SPLIT_KEYS)}, got {split!r}")
    folder = fixtures_dir(directory)
    image_key, label_key = _SPLIT_KEYS[split]
    with np.load(folder / DATA_FILE) as data:
        images, labels = data[image_key], data[label_key]
    return normalize_digits(images, digits_metadata(folder)), labels.astype(np.int64)


def predictions(model_run: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    """Top-1 class of each image, running ``model_run`` on one image ([1,...]) at a time."""
    return np.array([int(np.argmax(np.asarray(model_run(images[i:i + 1])).reshape(-1)))
                     for i in range(len(images))], dtype=np.int64)


def accuracy(model_run: Callable[[np.ndarray], np.ndarray], images: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of images whose top-1 class is the label; ``model_run`` maps a batch of
    one image to its logits (e.g. ``lambda x: model.run({"input": x})["logits"]``)."""
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError("no images")
    return float(np.mean(predictions(model_run, images) == np.asarray(labels).reshape(-1)))
