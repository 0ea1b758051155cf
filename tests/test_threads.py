"""Thread count never changes results: every op splits its output into fixed parts,
so a model gives bit-identical outputs with 1, 2 or 3 threads."""

from __future__ import annotations

import numpy as np
import pytest

import pocketnn
from pocketnn.reference_models import MODELS


def _outputs_per_thread_count(packed: bytes) -> tuple[list[np.ndarray], set[str]]:
    x = np.random.default_rng(3).standard_normal((1, 3, 224, 224)).astype(np.float32)
    outputs = []
    for threads in (1, 2, 3):
        model = pocketnn.Model(packed, threads=threads)
        outputs.append(model.run({"input": x})[model.outputs[0].name])
    return outputs, {node.kernel for node in model.nodes}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_threads_bit_identical(name: str) -> None:
    outputs, _ = _outputs_per_thread_count(pocketnn.convert(MODELS[name]()))
    for other in outputs[1:]:
        assert np.array_equal(outputs[0], other)


@pytest.mark.parametrize("name", ["mobilenet_v2", "resnet18"])
def test_portable_gemm_convs_split_columns_with_the_same_result(name: str, monkeypatch) -> None:
    """The scalar cap runs the convs the NEON and wasm builds run through pnn_f32_gemm
    (gemm-1x1 in place, im2col+gemm), whose column chunks the threads share."""
    monkeypatch.setenv("PNN_ISA", "scalar")
    outputs, kernels = _outputs_per_thread_count(pocketnn.convert(MODELS[name]()))
    assert {"gemm-1x1", "im2col+gemm"} & {kernel.split("/")[0] for kernel in kernels}, kernels
    for other in outputs[1:]:
        assert np.array_equal(outputs[0], other)


def test_threads_must_be_positive() -> None:
    packed = pocketnn.convert(MODELS["mobilenet_v2"]())
    with pytest.raises(ValueError):
        pocketnn.Model(packed, threads=0)
