"""Every kernel path the host can run, whole models included: the ISA cap (PNN_ISA, read
at load) makes an AVX-512 host run its AVX2 and scalar kernels too, so no path goes
untested because today's machine prefers another. A path the host cannot run is
reported as skipped with its name.

References are independent of the path under test: onnxruntime for float models, the
numpy simulator for integer ones (bit-exact), the scalar kernels for sparse float."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pocketnn
import pytest
from onnx import TensorProto, helper
from pocketnn.conversion import convert_graph, sparsity_options
from pocketnn.format.writer import write_pnn
from pocketnn.quantization.simulate_graph import simulate_graph
from pocketnn.reference_models import MODELS, mobilenet_v1
from support import digits_float_setup, run_onnxruntime

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ISAS = ("scalar", "avx2", "avx512", "neon")
# Paths with Winograd 3x3 convolutions: their transforms must be the path's own.
WINOGRAD_ISAS = ("avx2", "avx512")
# Kernel names a capped load must not choose: anything above the cap.
ABOVE_CAP = {"scalar": ("avx", "vnni", "neon", "wasm"), "avx2": ("avx512",), "avx512": (), "neon": ("neondot",)}


def _relu_model() -> bytes:
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["output"])], "relu",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 4])])
    return pocketnn.convert(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8))


@pytest.fixture(params=ISAS)
def isa(request, monkeypatch) -> str:
    """Sets PNN_ISA for the test; skips, naming the path, where the host cannot run it."""
    monkeypatch.setenv("PNN_ISA", request.param)
    try:
        pocketnn.Model(_relu_model())
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {request.param!r} not run on this host: {error.message}")
    return request.param


def _assert_capped(model: pocketnn.Model, isa: str) -> None:
    chosen = {node.kernel for node in model.nodes}
    above = sorted(k for k in chosen if any(name in k for name in ABOVE_CAP[isa]))
    assert not above, f"PNN_ISA={isa} still chose {above}"


@pytest.fixture(scope="module")
def reference_models() -> dict[str, tuple[onnx.ModelProto, bytes]]:
    packed = {}
    for name, make in sorted(MODELS.items()):
        model = make()
        packed[name] = (model, pocketnn.convert(model))
    return packed


@pytest.mark.parametrize("name", sorted(MODELS))
def test_reference_model_matches_onnxruntime_on_every_path(isa, reference_models, name) -> None:
    model, packed = reference_models[name]
    runtime = pocketnn.Model(packed)
    _assert_capped(runtime, isa)
    if name == "resnet18" and isa in WINOGRAD_ISAS:
        chosen = {node.kernel for node in runtime.nodes}
        assert f"winograd2x2/{isa}" in chosen, f"resnet18 on {isa} chose {sorted(chosen)}"
    x = np.random.default_rng(7).standard_normal((1, 3, 224, 224)).astype(np.float32)
    expected = run_onnxruntime(model, {"input": x})[0]
    actual = runtime.run({"input": x})[runtime.outputs[0].name]
    error = float(np.max(np.abs(actual - expected)) / np.max(np.abs(expected)))
    assert error < 1e-4, f"{name} on {isa}: relative error {error:.2e}"
    assert np.argmax(actual) == np.argmax(expected)


@pytest.fixture(scope="module")
def digits_integer() -> dict:
    """The digits CNN as int8, int4 and 70%-sparse int8 graphs, with test images."""
    setup = digits_float_setup(FIXTURES)
    calib = {"input": setup["calib"]}
    graphs = {kind: convert_graph(str(setup["path"]), calib=calib, quantize=kind)[0] for kind in ("int8", "int4")}
    graphs["sparse_int8"] = convert_graph(str(setup["path"]), options=sparsity_options(0.7, 4), calib=calib,
                                          quantize="int8")[0]
    return {"graphs": graphs, "images": setup["images"][:64]}


@pytest.mark.parametrize("kind", ["int8", "int4", "sparse_int8"])
def test_integer_model_equals_the_simulator_on_every_path(isa, digits_integer, kind) -> None:
    graph, images = digits_integer["graphs"][kind], digits_integer["images"]
    runtime = pocketnn.Model(write_pnn(graph))
    _assert_capped(runtime, isa)
    expected = simulate_graph(graph, {"input": images})["logits"]
    actual = np.concatenate([runtime.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))])
    np.testing.assert_array_equal(actual, expected)


@pytest.fixture(scope="module")
def sparse_mobilenet() -> bytes:
    return pocketnn.convert(mobilenet_v1(resolution=96, width=0.5), sparsity=0.9, sparsity_pattern=4)


def test_sparse_float_model_matches_the_scalar_path(isa, sparse_mobilenet, monkeypatch) -> None:
    if isa == "scalar":
        pytest.skip("ISA path 'scalar' is the reference the other paths' sparse kernels are compared with")
    if isa == "neon":
        pytest.skip("ISA path 'neon': aarch64 builds have no scalar path to compare with (tests/c cover NEON)")
    packed = sparse_mobilenet
    x = np.random.default_rng(5).standard_normal((1, 3, 96, 96)).astype(np.float32)
    runtime = pocketnn.Model(packed)
    _assert_capped(runtime, isa)
    assert any(node.kernel.startswith("sparse/") for node in runtime.nodes)
    actual = runtime.run({"input": x})
    monkeypatch.setenv("PNN_ISA", "scalar")
    reference = pocketnn.Model(packed).run({"input": x})
    for name, expected in reference.items():
        error = float(np.max(np.abs(actual[name] - expected)) / np.max(np.abs(expected)))
        assert error < 1e-4, f"sparse MobileNet on {isa}: relative error {error:.2e} vs the scalar kernels"


def test_unknown_or_unavailable_isa_is_refused_by_name(monkeypatch) -> None:
    monkeypatch.setenv("PNN_ISA", "avx1024")
    with pytest.raises(pocketnn.NativeError, match="avx1024.*not an instruction set.*scalar"):
        pocketnn.Model(_relu_model())
