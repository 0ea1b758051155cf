"""Thread count never changes results: every op splits its output into fixed parts,
so a model gives bit-identical outputs with 1, 2 or 3 threads."""

from __future__ import annotations

import platform

import numpy as np
import pytest

import pocketnn
from pocketnn.reference_models import MODELS
from support import run_onnxruntime, single_node_model


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


@pytest.mark.parametrize("n", [1, 5, 8, 13, 67, 1000])
def test_fully_connected_rows_split_with_the_same_result(n: int) -> None:
    """A Gemm at batch 1 (the weights' rows times one vector) shares its rows out in
    chunks of 8: every thread count gives the same bits, and onnxruntime's values."""
    rng = np.random.default_rng(n)
    k = 37
    model = single_node_model("Gemm", [("x", (1, k)), ("w", rng.standard_normal((n, k)).astype(np.float32)),
                                       ("b", rng.standard_normal(n).astype(np.float32))], transB=1)
    x = rng.standard_normal((1, k)).astype(np.float32)
    packed = pocketnn.convert(model)
    outputs = [pocketnn.Model(packed, threads=t).run({"x": x})["y0"] for t in (1, 2, 3)]
    for other in outputs[1:]:
        assert np.array_equal(outputs[0], other)
    np.testing.assert_allclose(outputs[0], run_onnxruntime(model, {"x": x})[0], rtol=1e-5, atol=1e-5)


def test_threads_must_be_positive() -> None:
    packed = pocketnn.convert(MODELS["mobilenet_v2"]())
    with pytest.raises(ValueError):
        pocketnn.Model(packed, threads=0)


@pytest.mark.parametrize("c, m, h, w", [(8, 30, 9, 11), (16, 40, 13, 13), (8, 17, 7, 7), (24, 64, 18, 20)])
def test_winograd_task_grids_give_the_same_result(c: int, m: int, h: int, w: int) -> None:
    """Winograd convs whose tiles and output channels share out unevenly (odd tile
    counts, a short last weight panel, batch 2): every thread count picks its own grid
    of tile blocks and row chunks, and gets the same bits and onnxruntime's values."""
    rng = np.random.default_rng(c * m + h)
    model = single_node_model("Conv", [("x", (2, c, h, w)),
                                       ("w", rng.standard_normal((m, c, 3, 3)).astype(np.float32)),
                                       ("b", rng.standard_normal(m).astype(np.float32))],
                              kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    x = rng.standard_normal((2, c, h, w)).astype(np.float32)
    packed = pocketnn.convert(model)
    runtimes = [pocketnn.Model(packed, threads=t) for t in (1, 2, 3, 4)]
    if platform.machine().lower() in ("x86_64", "amd64"):  # Winograd: x86 SIMD and wasm only
        assert runtimes[0].nodes[0].kernel.startswith("winograd2x2"), runtimes[0].nodes[0].kernel
    outputs = [runtime.run({"x": x})["y0"] for runtime in runtimes]
    for other in outputs[1:]:
        assert np.array_equal(outputs[0], other)
    np.testing.assert_allclose(outputs[0], run_onnxruntime(model, {"x": x})[0], rtol=1e-4, atol=1e-4)
