"""Bounded cost at load: the memory planner is not quadratic in the number of tensors
(a long chain of nodes, many graph inputs), and convolution scratch is sized by what the
op touches (huge kernels and pads), with outputs checked against onnxruntime or numpy."""
from __future__ import annotations

import struct
import time
from pathlib import Path

import numpy as np
import pytest

import pocketnn
from pocketnn.format import spec
from pocketnn.format.opcodes import OP_CODES
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.quantization import arith

# CPU seconds. Generous: the planner of 2026-12 loads these in 0.2-2 s; the quadratic
# one it replaced took 30 s for a 10^5 chain and 48 s for 262,144 inputs.
LOAD_SECONDS = 20.0
FLOATS = 16  # every tensor of the crafted graphs is f32 [16]


def _name(prefix: str, i: int) -> str:
    return f"{prefix}{i:07d}"


def chain_graph(n: int) -> Graph:
    """x -> Relu -> ... -> Relu (n nodes) -> y."""
    t = {_name("t", i): Tensor(_name("t", i), DType.F32, (FLOATS,)) for i in range(n + 1)}
    nodes = [Node("Relu", _name("r", i), [_name("t", i)], [_name("t", i + 1)]) for i in range(n)]
    return Graph(t, nodes, [_name("t", 0)], [_name("t", n)], {})


def inputs_graph(n: int) -> Graph:
    """n graph inputs, one Relu reading the first."""
    t = {_name("x", i): Tensor(_name("x", i), DType.F32, (FLOATS,)) for i in range(n)}
    t[_name("y", 0)] = Tensor(_name("y", 0), DType.F32, (FLOATS,))
    nodes = [Node("Relu", _name("r", 0), [_name("x", 0)], [_name("y", 0)])]
    return Graph(t, nodes, [_name("x", i) for i in range(n)], [_name("y", 0)], {})


def fast_pnn(tensor_names: list[str], nodes: list[tuple[str, int, int]], inputs: list[int],
             outputs: list[int]) -> bytes:
    """The bytes write_pnn gives for f32 [16] activations and one-in one-out Relu nodes
    (name, input id, output id), built without the IR so 10^5-10^6 nodes take seconds;
    checked against write_pnn on small graphs below."""
    tensor = struct.Struct("<I8sBBBBqQQ")
    node = struct.Struct("<HI8sIiIiI")
    relu = OP_CODES["Relu"]
    parts = [tensor.pack(8, n.encode(), int(DType.F32), spec.ENCODING_DENSE, spec.KIND_ACTIVATION, 1, FLOATS, 0, 0)
             for n in tensor_names]
    parts += [node.pack(relu, 8, name.encode(), 1, i, 1, o, 0) for name, i, o in nodes]
    parts.append(struct.pack(f"<{len(inputs)}i", *inputs))
    parts.append(struct.pack(f"<{len(outputs)}i", *outputs))
    body = b"".join(parts)
    data_offset = spec.align(spec.HEADER_SIZE + len(body))
    header = spec.HEADER.pack(spec.MAGIC, spec.VERSION_MAJOR, 0, 0, spec.HEADER_SIZE, data_offset,
                              0, len(tensor_names), len(nodes), len(inputs), len(outputs), 0, data_offset, 0)
    out = bytearray(header + body)
    out += b"\0" * (data_offset - len(out))
    struct.pack_into("<I", out, spec.CHECKSUM_OFFSET, spec.checksum(out))
    return bytes(out)


def fast_chain(n: int) -> bytes:
    return fast_pnn([_name("t", i) for i in range(n + 1)], [(_name("r", i), i, i + 1) for i in range(n)], [0], [n])


def fast_inputs(n: int) -> bytes:
    return fast_pnn([_name("x", i) for i in range(n)] + [_name("y", 0)], [(_name("r", 0), 0, n)],
                    list(range(n)), [n])


def test_fast_writer_matches_write_pnn() -> None:
    assert fast_chain(5) == write_pnn(chain_graph(5))
    assert fast_inputs(7) == write_pnn(inputs_graph(7))


def _timed_load(path: Path) -> tuple[pocketnn.Model, float]:
    """The model and the CPU seconds its load took: CPU time, not wall time, so a loaded
    host (other jobs on both cores) does not fail the bound, while a quadratic planner
    (30-48 s of CPU) still does."""
    start = time.process_time()
    model = pocketnn.Model(str(path))
    return model, time.process_time() - start


def test_long_chain_loads_in_near_linear_time(tmp_path: Path) -> None:
    n = 200_000
    path = tmp_path / "chain.pnn"
    path.write_bytes(fast_chain(n))
    model, seconds = _timed_load(path)
    assert seconds < LOAD_SECONDS, f"a {n}-node chain took {seconds:.1f} s to load"
    # Two tensors alternate along the chain, the graph input stays: three tensors.
    assert model.arena_bytes == 3 * spec.align(4 * FLOATS)
    x = np.linspace(-1, 1, FLOATS, dtype=np.float32)
    (y,) = model.run({_name("t", 0): x}).values()
    np.testing.assert_array_equal(y, np.maximum(x, 0))


def test_many_graph_inputs_load_in_near_linear_time(tmp_path: Path) -> None:
    n = 262_144
    path = tmp_path / "inputs.pnn"
    path.write_bytes(fast_inputs(n))
    model, seconds = _timed_load(path)
    assert seconds < LOAD_SECONDS, f"{n} graph inputs took {seconds:.1f} s to load"
    # Every input lives for the whole run; the output may not share with any of them.
    assert model.arena_bytes == (n + 1) * spec.align(4 * FLOATS)


# ------------------------------------------------------------- convolution scratch


def _sparse_conv_graph(x_shape: tuple[int, ...], w: np.ndarray, bias: np.ndarray, pads: list[int],
                       strides: list[int], dilations: list[int], out_shape: tuple[int, ...]) -> Graph:
    t = {
        "x": Tensor("x", DType.F32, x_shape),
        "w": Tensor("w", DType.F32, w.shape, w, sparse_group=1),
        "b": Tensor("b", DType.F32, bias.shape, bias),
        "y": Tensor("y", DType.F32, out_shape),
    }
    attrs: dict = {"group": 1, "strides": strides, "dilations": dilations, "pads": pads}
    return Graph(t, [Node("Conv", "conv", ["x", "w", "b"], ["y"], attrs)], ["x"], ["y"], {})


def _onnx_conv(x: np.ndarray, w: np.ndarray, bias: np.ndarray, pads: list[int], strides: list[int],
               dilations: list[int]) -> np.ndarray:
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=pads, strides=strides, dilations=dilations)
    graph = helper.make_graph([node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(bias, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(onnx._serialize(model) if hasattr(onnx, "_serialize") else model.SerializeToString(),
                                   options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


ISAS = ("scalar", "avx2", "avx512")


@pytest.fixture(params=ISAS)
def isa(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Caps the kernels of the models loaded in the test (PNN_ISA); skips, naming the
    path, where the host cannot run it. Dense Conv runs im2col + GEMM under scalar (as
    on NEON and wasm) and packed panels under avx2 / avx512."""
    monkeypatch.setenv("PNN_ISA", request.param)
    probe = Graph({"x": Tensor("x", DType.F32, (4,)), "y": Tensor("y", DType.F32, (4,))},
                  [Node("Relu", "r", ["x"], ["y"])], ["x"], ["y"], {})
    try:
        pocketnn.Model(write_pnn(probe))
    except pocketnn.NativeError as error:
        pytest.skip(f"ISA path {request.param!r} not run on this host: {error.message}")
    return request.param


def _conv_scratch_for_every_tap(c: int, k: tuple[int, int], out_hw: int) -> int:
    """Bytes an unfold of all C * kh * kw taps takes: out_hw columns (im2col), or at least
    one 32-column panel (packed)."""
    return 4 * c * k[0] * k[1] * max(out_hw, 32)


@pytest.mark.parametrize("sparse_group", [0, 1])
def test_conv_with_a_kernel_larger_than_image_and_pads_unfolds_only_reachable_taps(sparse_group: int,
                                                                                  isa: str) -> None:
    # 4x4 image, 20x20 kernel, pads 10: 5x5 outputs; only the middle 8x8 taps (or so)
    # ever read the image, the rest read zero padding for every output.
    rng = np.random.default_rng(3)
    c, m, k = 3, 5, 20
    w = rng.standard_normal((m, c, k, k)).astype(np.float32)
    w[rng.random(w.shape) < 0.5] = 0
    bias = rng.standard_normal(m).astype(np.float32)
    x = rng.standard_normal((1, c, 4, 4)).astype(np.float32)
    for pads, strides, dilations in [([10, 10, 10, 10], [1, 1], [1, 1]), ([9, 11, 12, 7], [2, 3], [1, 1]),
                                     ([30, 29, 30, 31], [1, 1], [2, 3])]:
        expected = _onnx_conv(x, w, bias, pads, strides, dilations)
        graph = _sparse_conv_graph(x.shape, w, bias, pads, strides, dilations, expected.shape)
        graph.tensors["w"].sparse_group = sparse_group
        model = pocketnn.Model(write_pnn(graph))
        kernel = model.nodes[0].kernel
        assert kernel.startswith("sparse" if sparse_group else ("im2col" if isa == "scalar" else "packed"))
        full_unfold = _conv_scratch_for_every_tap(c, (k, k), expected.shape[2] * expected.shape[3])
        assert model.nodes[0].scratch_bytes <= full_unfold // 4, (pads, kernel, model.nodes[0].scratch_bytes)
        np.testing.assert_allclose(model.run({"x": x})["y"], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("m", [32, 130])
def test_cropped_dense_weights_in_every_packed_layout(m: int, isa: str) -> None:
    # 16 channels, a 20x20 kernel of which 8x8 taps reach the 4x4 image: 32 output
    # channels fill the channel lanes (weights packed for pnn_f32_gemm_pt); 130
    # channels give over 512 KiB of kept weights (packed in row panels); both are packed
    # from the cropped copy.
    rng = np.random.default_rng(5)
    c, k, pads = 16, 20, [10, 10, 10, 10]
    w = rng.standard_normal((m, c, k, k)).astype(np.float32)
    bias = rng.standard_normal(m).astype(np.float32)
    x = rng.standard_normal((1, c, 4, 4)).astype(np.float32)
    expected = _onnx_conv(x, w, bias, pads, [1, 1], [1, 1])
    graph = _sparse_conv_graph(x.shape, w, bias, pads, [1, 1], [1, 1], expected.shape)
    graph.tensors["w"].sparse_group = 0
    model = pocketnn.Model(write_pnn(graph))
    kernel = model.nodes[0].kernel
    assert kernel.startswith("im2col" if isa == "scalar" else "packed"), kernel
    if isa in ("avx2", "avx512"):
        assert kernel.startswith("packed-channels" if m == 32 else "packed/"), kernel
    assert model.nodes[0].scratch_bytes <= _conv_scratch_for_every_tap(c, (k, k), 25) // 4
    np.testing.assert_allclose(model.run({"x": x})["y"], expected, rtol=1e-4, atol=1e-4)


def test_deep_conv_with_few_output_pixels_unfolds_only_them(isa: str) -> None:
    # Three output pixels over 2 x 80 x 78 taps, all reaching the image: a 32-column
    # panel (x86's packed path) would be 1.6 MB for 150 KB of unfolded columns.
    rng = np.random.default_rng(6)
    w = rng.standard_normal((3, 2, 80, 78)).astype(np.float32)
    bias = rng.standard_normal(3).astype(np.float32)
    x = rng.standard_normal((1, 2, 80, 80)).astype(np.float32)
    expected = _onnx_conv(x, w, bias, [0, 0, 0, 0], [1, 1], [1, 1])
    assert expected.shape == (1, 3, 1, 3)
    graph = _sparse_conv_graph(x.shape, w, bias, [0, 0, 0, 0], [1, 1], [1, 1], expected.shape)
    graph.tensors["w"].sparse_group = 0
    model = pocketnn.Model(write_pnn(graph))
    assert model.nodes[0].kernel.startswith("im2col"), model.nodes[0].kernel
    assert model.nodes[0].scratch_bytes <= spec.align(4 * 2 * 80 * 78 * 3)
    np.testing.assert_allclose(model.run({"x": x})["y"], expected, rtol=1e-4, atol=1e-3)


def test_dense_conv_with_huge_kernel_and_pads_needs_tiny_scratch(isa: str) -> None:
    # The table's hostile Conv with dense weights: one output pixel of a 1x1 image under
    # a 1025 x 1025 kernel, pads 512. Only the centre tap reads the image; unfolding every
    # tap took 4 MiB (im2col) or 128 MiB (one packed 32-column panel).
    k, pad = 1025, 512
    rng = np.random.default_rng(4)
    w = rng.standard_normal((2, 1, k, k)).astype(np.float32)
    bias = np.array([0.25, -0.5], np.float32)
    x = np.array([3.0], np.float32).reshape(1, 1, 1, 1)
    pads = [pad] * 4
    expected = _onnx_conv(x, w, bias, pads, [1, 1], [1, 1])
    graph = _sparse_conv_graph(x.shape, w, bias, pads, [1, 1], [1, 1], expected.shape)
    graph.tensors["w"].sparse_group = 0
    model = pocketnn.Model(write_pnn(graph))
    assert model.nodes[0].scratch_bytes <= 256, (model.nodes[0].kernel, model.nodes[0].scratch_bytes)
    y = model.run({"x": x})["y"]
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    np.testing.assert_allclose(y.ravel(), w[:, 0, pad, pad] * 3.0 + bias, rtol=1e-6)


def _huge_sparse_blob(rows: int, cols: int, entries: dict[int, float], dtype: DType) -> bytes:
    """A group-sparse (G = 1) blob of a [rows, cols] matrix whose row 0..rows-1 all hold
    `entries` (column -> value), built without the dense matrix."""
    columns = sorted(entries)
    value_bytes, value_dtype, _ = spec.SPARSE_VALUE_DTYPES[dtype]
    values_offset, size = spec.sparse_layout(rows, rows * len(columns), 1, value_bytes)
    out = bytearray(spec.SPARSE_HEADER.pack(rows, cols, 1, rows, rows * len(columns), int(dtype), 0, 0))
    out += np.full(rows, len(columns), "<u4").tobytes()
    out += np.tile(np.array(columns, "<u4"), rows).tobytes()
    out += b"\0" * (values_offset - len(out))
    out += np.tile(np.array([entries[col] for col in columns], value_dtype), rows).tobytes()
    assert len(out) == size
    return bytes(out)


def _write_with_huge_weight(graph: Graph, blob: bytes, monkeypatch) -> bytes:
    from pocketnn.format import writer

    monkeypatch.setattr(writer, "smallest_group_sparse",
                        lambda tensor, group, encodings: (spec.ENCODING_GROUP_SPARSE, blob))
    return write_pnn(graph)


# A 1x1 image, a 32768 x 32768 kernel and pads 16383/16384: one output pixel. Only the
# centre tap (16383, 16383) reads the image; the unfold of every tap would be 4 GiB.
HUGE_K, HUGE_PAD = 32768, 16383
CENTRE = HUGE_PAD * HUGE_K + HUGE_PAD
HUGE_PADS = [HUGE_PAD, HUGE_PAD, HUGE_PAD + 1, HUGE_PAD + 1]


def test_hostile_sparse_conv_with_huge_kernel_and_pads_needs_tiny_scratch(monkeypatch, isa: str) -> None:
    entries = {0: 3.0, CENTRE: 1.5, HUGE_K * HUGE_K - 1: -2.0}
    blob = _huge_sparse_blob(2, HUGE_K * HUGE_K, entries, DType.F32)
    bias = np.array([0.25, -0.5], np.float32)
    graph = _sparse_conv_graph((1, 1, 1, 1), np.zeros((1, 1, 1, 1), np.float32), bias, HUGE_PADS, [1, 1], [1, 1],
                               (1, 2, 1, 1))
    graph.tensors["w"] = Tensor("w", DType.F32, (2, 1, HUGE_K, HUGE_K), np.zeros(1, np.float32), sparse_group=1)
    data = _write_with_huge_weight(graph, blob, monkeypatch)
    assert len(data) < 1024
    model = pocketnn.Model(data)
    assert model.nodes[0].scratch_bytes <= 256
    x = np.array([3.0], np.float32).reshape(1, 1, 1, 1)
    np.testing.assert_array_equal(model.run({"x": x})["y"].ravel(), 1.5 * 3.0 + bias)


def test_hostile_sparse_qconv_with_huge_kernel_and_pads_keeps_the_padding_zero_point(monkeypatch, isa: str) -> None:
    # QConv allows at most 66,311 taps (int32 accumulator): a 257 x 257 kernel, pads 128,
    # one output pixel. Dropped taps read x_zero_point: their weights times it must still
    # reach the sum.
    k, pad = 257, 128
    centre = pad * k + pad
    entries = {0: 3, centre: 5, k * k - 1: -2}
    blob = _huge_sparse_blob(1, k * k, entries, DType.S8)
    x_zp, bias, x_value = 7, 100, 200
    acc = bias + 5 * x_value + (3 - 2) * x_zp  # the ONNX sum, padding reading the zero point
    multiplier, shift = arith.quantize_multipliers([0.1])
    requant = arith.Requant(multiplier, shift, 10)
    attrs = {"group": 1, "strides": [1, 1], "dilations": [1, 1], "pads": [pad, pad, pad, pad],
             "x_zero_point": x_zp, "y_zero_point": 10, "lo": 0, "hi": 255}
    t = {
        "x": Tensor("x", DType.U8, (1, 1, 1, 1)),
        "w": Tensor("w", DType.S8, (1, 1, k, k), np.zeros(1, np.int8), sparse_group=1),
        "b": Tensor("b", DType.S32, (1,), np.array([bias], np.int32)),
        "mult": Tensor("mult", DType.S32, (1,), multiplier.astype(np.int32)),
        "shift": Tensor("shift", DType.S32, (1,), shift.astype(np.int32)),
        "y": Tensor("y", DType.U8, (1, 1, 1, 1)),
    }
    graph = Graph(t, [Node("QConv", "qconv", ["x", "w", "b", "mult", "shift"], ["y"], attrs)], ["x"], ["y"], {})
    model = pocketnn.Model(_write_with_huge_weight(graph, blob, monkeypatch))
    assert model.nodes[0].scratch_bytes <= 256
    y = model.run({"x": np.full((1, 1, 1, 1), x_value, np.uint8)})["y"]
    assert y.ravel()[0] == requant.apply(np.array([[acc]]), axis=1).ravel()[0]
    assert y.ravel()[0] == 10 + round(acc * 0.1)  # 111 + 10, away from any rounding tie


@pytest.mark.parametrize("sparse_group", [0, 1, 2])
@pytest.mark.parametrize("geometry", [((1, 3, 4, 4), (20, 20), (10, 10, 10, 10), (1, 1), (1, 1)),
                                      ((1, 3, 4, 4), (20, 20), (9, 11, 12, 7), (2, 3), (1, 1)),
                                      ((1, 3, 4, 4), (20, 20), (30, 29, 30, 31), (1, 1), (2, 3)),
                                      ((1, 3, 4, 4), (5, 5), (4, 4, 4, 4), (1, 1), (1, 1)),
                                      ((1, 2, 4, 5), (12, 12), (6, 6, 6, 6), (1, 1), (1, 1))])
def test_qconv_with_kernel_larger_than_image_matches_the_simulator(geometry, sparse_group: int) -> None:
    # Dense (s8 GEMM over unfolded columns) and group-sparse (SpMM over the kept taps):
    # taps left of the image at the first output reach it further right.
    from test_qops import ConvCase, build_conv

    x_shape, kernel, pads, strides, dilations = geometry
    case = ConvCase(x_shape, 6, kernel, pads=pads, strides=strides, dilations=dilations, seed=40,
                    sparse_group=sparse_group, density=0.6 if sparse_group else 1.0)
    graph, x, expected = build_conv(case)
    model = pocketnn.Model(write_pnn(graph))
    if sparse_group:
        assert model.nodes[0].kernel.startswith("u8spmm")
    if sparse_group and kernel[0] == 20:  # most of these taps never reach the image
        full_unfold = x_shape[1] * kernel[0] * kernel[1] * expected.shape[2] * expected.shape[3]
        assert model.nodes[0].scratch_bytes <= full_unfold // 2
    np.testing.assert_array_equal(model.run({"x": x})["y"], expected)
