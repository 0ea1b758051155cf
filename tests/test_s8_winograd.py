"""The exact integer Winograd F(2x2, 3x3) path of QConv (kernel s8wino2/*: 3x3, stride 1,
one group, s8 weights; chosen on AVX2 hosts without VNNI, so PNN_ISA=avx2 makes an
AVX-512 host take it). Every output byte must equal the numpy simulator's (the GEMM
path's arithmetic, docs/QUANTIZATION.md), for single layers of awkward shapes, for 1 and
2 threads, and for an int8 ResNet-18 quantized by onnxruntime (QDQ, u8 activations, s8
per-channel weights). Not onnxruntime itself: it requantizes in float, so single values
differ by one u8 step on any pocketnn path (tests/test_qdq_import.py)."""

from __future__ import annotations

import numpy as np
import pocketnn
import pytest
from pocketnn.conversion import convert_graph
from pocketnn.format.writer import write_pnn
from pocketnn.quantization.simulate_graph import simulate_graph
from pocketnn.reference_models import resnet18
from support import quantize_with_onnxruntime
from test_qops import ConvCase, build_conv, kernel_of, run_graph

# Layers the Winograd path takes (at least 16 input and output channels, images of 6 x 6
# outputs or more), with what its tiles make awkward: odd images (partial 2x2 tiles),
# uneven or no padding, odd channel counts, output channels off the 4-row block, runs of
# tiles across tile rows and task chunks, batch 2, and the bounds of the arithmetic.
WINOGRAD_CASES: dict[str, ConvCase] = {
    # The shapes of test_qops' 3x3 column-chunk cases, with 16 and 24 output channels so
    # that Winograd takes them (test_qops keeps its own on the GEMM with 15).
    "column_chunks": ConvCase((1, 64, 40, 40), 16, (3, 3), pads=(1, 1, 1, 1), seed=7),
    "uneven_column_chunks": ConvCase((1, 64, 37, 41), 24, (3, 3), pads=(1, 1, 1, 1), seed=43),
    "odd_channels_odd_image": ConvCase((1, 17, 7, 9), 18, (3, 3), pads=(1, 1, 1, 1), seed=50),
    "no_pads": ConvCase((1, 33, 9, 8), 16, (3, 3), seed=51),
    "uneven_pads_batch2": ConvCase((2, 20, 9, 6), 21, (3, 3), pads=(0, 1, 1, 0), seed=52),
    "wide_rows": ConvCase((1, 64, 30, 57), 20, (3, 3), pads=(1, 1, 1, 1), seed=53),
    "fused_clamp": ConvCase((1, 24, 8, 8), 16, (3, 3), pads=(1, 1, 1, 1), lo=128, hi=200, seed=54),
    "wild_requant": ConvCase((1, 20, 7, 7), 40, (3, 3), pads=(1, 1, 1, 1), wild_requant=True, seed=55),
    "extremes_many_channels": ConvCase((1, 1024, 7, 7), 16, (3, 3), pads=(1, 1, 1, 1), extremes=True, seed=56),
}
# Layers the GEMM keeps: few channels, or images too small for 2x2 tiles to pay.
GEMM_CASES: dict[str, ConvCase] = {
    "few_channels": ConvCase((1, 8, 10, 11), 16, (3, 3), pads=(1, 1, 1, 1), seed=57),
    "small_image": ConvCase((1, 64, 5, 5), 32, (3, 3), pads=(1, 1, 1, 1), seed=58),
}


def _winograd_model(monkeypatch) -> None:
    """Loads take the AVX2 path (Winograd) from here on; skips where the host has no AVX2."""
    monkeypatch.setenv("PNN_ISA", "avx2")
    try:
        kernel_of(build_conv(GEMM_CASES["few_channels"])[0])
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path 'avx2' not run on this host: {error.message}")


# Every case with the kernel the AVX2 path must choose for it.
EXPECTED_KERNELS: dict[str, tuple[ConvCase, str]] = {
    **{name: (case, "s8wino2/avx2") for name, case in WINOGRAD_CASES.items()},
    **{name: (case, "s8gemm/avx2") for name, case in GEMM_CASES.items()},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_KERNELS))
def test_avx2_qconv_takes_its_path_and_equals_the_simulator(name: str, monkeypatch) -> None:
    _winograd_model(monkeypatch)
    case, kernel = EXPECTED_KERNELS[name]
    graph, x, expected = build_conv(case)
    assert kernel_of(graph) == kernel
    np.testing.assert_array_equal(run_graph(graph, {"x": x}), expected)
    np.testing.assert_array_equal(run_graph(graph, {"x": x}, threads=2), expected)
    assert len(np.unique(expected)) > 2


@pytest.fixture(scope="module")
def resnet18_int8(tmp_path_factory):
    """ResNet-18 (width 1/4, 64 x 64 inputs) quantized by onnxruntime, its pocketnn graph
    and a few inputs."""
    rng = np.random.default_rng(11)
    samples = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    model = quantize_with_onnxruntime(resnet18(resolution=64, width=0.25, classes=10), samples,
                                      tmp_path_factory.mktemp("resnet18_qdq"))
    graph, _ = convert_graph(model)
    return graph, rng.standard_normal((2, 3, 64, 64)).astype(np.float32)


@pytest.mark.parametrize("isa", ["avx2", ""])
def test_int8_resnet18_equals_the_simulator(isa: str, resnet18_int8, monkeypatch) -> None:
    graph, inputs = resnet18_int8
    if isa:
        _winograd_model(monkeypatch)
    runtime = pocketnn.Model(write_pnn(graph))
    kernels = [node.kernel for node in runtime.nodes if node.op == "QConv"]
    if isa == "avx2":
        # The 3x3 stride-1 layers of the 16 x 16 and 8 x 8 stages (4 + 3); the 4 x 4 and
        # 2 x 2 stages keep the GEMM.
        assert kernels.count("s8wino2/avx2") == 7, kernels
    output = runtime.outputs[0].name
    for i in range(len(inputs)):
        x = inputs[i:i + 1]
        actual = runtime.run({"input": x})[output]
        expected = simulate_graph(graph, {"input": x})[output]
        np.testing.assert_array_equal(actual, expected)
