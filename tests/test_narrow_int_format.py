"""Narrowed integers (format 1.8, encoding 3; docs/FORMAT.md, "Narrowed integers"),
shortened tensor names, and the 15-bit requantization multipliers they are made for.

The writer's choice of width, the unaligned packing, the Python reader and the C loader
refusing hostile files, and QGemm / QConv in the C runtime on narrowed tables against the
same tables stored s32 and against the numpy reference, under each ISA path the host runs.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph, Node, Tensor
from pocketnn.quantization import arith
from test_format import (  # noqa: F401  (native, sanitized_loader: fixtures)
    after_string,
    assert_sanitized_refusals,
    c_load,
    fix_checksum,
    native,
    python_accepts,
    run_sanitized,
    sanitized_loader,
)
from test_load_bounds import isa  # noqa: F401  (fixture: each test once per ISA path, PNN_ISA)

import pocketnn

RNG = np.random.default_rng(14)


def qgemm_graph(bias: np.ndarray, multiplier: np.ndarray, shift: np.ndarray, k: int = 7) -> Graph:
    """QGemm(x u8 [2, K], W s8 [M, K]) with per-channel s32 tables."""
    m = len(bias)
    w = RNG.integers(-127, 128, (m, k)).astype(np.int8)
    t = {
        "x": Tensor("x", DType.U8, (2, k)),
        "w": Tensor("w", DType.S8, (m, k), w),
        "bias": Tensor("bias", DType.S32, (m,), bias.astype(np.int32)),
        "multiplier": Tensor("multiplier", DType.S32, (m,), multiplier.astype(np.int32)),
        "shift": Tensor("shift", DType.S32, (m,), shift.astype(np.int32)),
        "y": Tensor("y", DType.U8, (2, m)),
    }
    attrs: dict[str, int | float | list[int] | list[float]] = {"x_zero_point": 3, "y_zero_point": 100, "lo": 0, "hi": 255}
    return Graph(t, [Node("QGemm", "qgemm", ["x", "w", "bias", "multiplier", "shift"], ["y"], attrs)], ["x"], ["y"])


def qgemm_reference(g: Graph, x: np.ndarray) -> np.ndarray:
    """docs/OPS.md: requant(B + sum W x); B holds the x zero point's share already."""
    w = g.constant("w").astype(np.int64)  # type: ignore[union-attr]
    acc = x.astype(np.int64) @ w.T + g.constant("bias")
    return arith.requantize(acc, g.constant("multiplier"), g.constant("shift"), 100, 0, 255, axis=1)


def mixed_widths(m: int = 13) -> Graph:
    """bias needs s32, multiplier s16 (15-bit mantissas), shift s8."""
    real = RNG.uniform(1e-4, 1e-2, m)
    multiplier, shift = arith.quantize_multipliers(real, arith.COMPACT_MANTISSA_BITS)
    bias = RNG.integers(-(1 << 20), 1 << 20, m)
    bias[0] = -(1 << 30)
    return qgemm_graph(bias, multiplier, shift)


def test_writer_stores_each_s32_constant_in_the_narrowest_width() -> None:
    g = mixed_widths()
    f = read_pnn(write_pnn(g))
    assert f.header.version_minor == spec.MINOR_NARROW_INT
    stored = {t.name: (t.encoding, t.size) for t in f.tensors if t.kind == spec.KIND_CONSTANT}
    assert stored["bias"] == (spec.ENCODING_DENSE, 4 * 13)
    assert stored["multiplier"] == (spec.ENCODING_NARROW_INT, 2 * 13)
    assert stored["shift"] == (spec.ENCODING_NARROW_INT, 13)
    for name in ("bias", "multiplier", "shift"):
        assert f.tensor(name).data.dtype == np.int32  # type: ignore[union-attr]
        np.testing.assert_array_equal(f.tensor(name).data, g.constant(name))
    # Packed after the aligned constants, back to back.
    assert f.tensor("shift").offset == f.tensor("multiplier").offset + 26
    assert f.tensor("multiplier").offset % 64 == 0 and f.header.data_size % 64 == 0
    wide = read_pnn(write_pnn(g, narrow_ints=False))
    assert wide.header.version_minor == spec.MINOR_INTEGER_OPS
    assert {t.encoding for t in wide.tensors} == {spec.ENCODING_DENSE}
    assert wide.header.file_size - f.header.file_size == 64  # two 64-byte slots share one


@pytest.mark.parametrize("values", [[-128, 127], [-129, 5], [0, 32767], [-32768], [32768], [7] * 100])
def test_width_boundaries(values: list[int]) -> None:
    data = np.array(values, np.int32)
    g = qgemm_graph(data, np.full(len(data), 1 << 14), np.full(len(data), 20))
    t = read_pnn(write_pnn(g)).tensor("bias")
    fits = {1: -128 <= data.min() and data.max() <= 127, 2: -32768 <= data.min() and data.max() <= 32767}
    width = 1 if fits[1] else 2 if fits[2] else 4
    assert (t.encoding, t.size) == (spec.ENCODING_DENSE if width == 4 else spec.ENCODING_NARROW_INT, width * len(data))
    np.testing.assert_array_equal(t.data, data)


@pytest.mark.parametrize("m", [1, 5, 16, 33])
def test_runtime_on_narrowed_tables_matches_s32_and_numpy(m: int, isa: str) -> None:
    g = mixed_widths(m)
    g.tensors["bias"].data = RNG.integers(-3000, 3000, m).astype(np.int32)  # s16, then s32 below
    x = RNG.integers(0, 256, (2, 7)).astype(np.uint8)
    want = qgemm_reference(g, x)
    for narrow in (True, False):
        np.testing.assert_array_equal(pocketnn.Model(write_pnn(g, narrow_ints=narrow)).run({"x": x})["y"], want)
    g.tensors["bias"].data[0] = 1 << 30
    np.testing.assert_array_equal(pocketnn.Model(write_pnn(g)).run({"x": x})["y"], qgemm_reference(g, x))


# ------------------------------------------------------------------- hostile files


def entry_offset(data: bytes, name: str) -> int:
    """Offset of the dtype byte of tensor `name`'s table entry."""
    return after_string(data, name)


def hostile_files(valid: bytes) -> list[tuple[str, bytes]]:
    at = entry_offset(valid, "shift")  # a rank-1 narrowed s8 table: dtype enc kind rank dim offset size
    offset_at, size_at = at + 4 + 8, at + 4 + 8 + 8
    data_size = read_pnn(valid).header.data_size
    cases = []

    def patched(label: str, pos: int, fmt: str, value: int) -> None:
        out = bytearray(valid)
        struct.pack_into("<" + fmt, out, pos, value)
        cases.append((label, fix_checksum(out)))

    patched("dtype s8", at, "B", int(DType.S8))
    patched("dtype f32", at, "B", int(DType.F32))
    patched("dtype s64", at, "B", int(DType.S64))
    patched("size 0", size_at, "Q", 0)
    patched("size 3 bytes a value", size_at, "Q", 3 * 13)
    patched("size 4 bytes a value", size_at, "Q", 4 * 13)
    patched("size one short", size_at, "Q", 12)
    patched("offset past the section", offset_at, "Q", data_size)
    patched("offset one past the end", offset_at, "Q", data_size - 12)
    patched("offset huge", offset_at, "Q", 2**63)
    patched("activation narrowed", entry_offset(valid, "y") + 1, "B", spec.ENCODING_NARROW_INT)
    old = bytearray(valid)
    struct.pack_into("<H", old, 6, 7)
    cases.append(("minor 7", fix_checksum(old)))
    return cases


@pytest.fixture(scope="module")
def valid() -> bytes:
    data = write_pnn(mixed_widths())
    assert read_pnn(data).tensor("shift").encoding == spec.ENCODING_NARROW_INT
    return data


def test_reader_refuses_hostile_files(valid: bytes) -> None:
    for label, data in hostile_files(valid):
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted")


def test_c_loader_refuses_hostile_files(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    assert c_load(native, valid).status == lib.PNN_OK
    for label, data in hostile_files(valid):
        assert not python_accepts(data), label
        loaded = c_load(native, data, offset=len(label) % 3)
        assert loaded.status == lib.PNN_ERR_FORMAT, f"{label}: status {loaded.status}: {loaded.message}"
        assert loaded.message, label


def test_c_and_python_agree_on_fuzzed_tables(native: object, valid: bytes) -> None:
    """Random bytes in the narrowed tensors' table entries and in the data section."""
    lib = native.lib  # type: ignore[attr-defined]
    start = read_pnn(valid).header.data_offset
    entries = [entry_offset(valid, name) + i for name in ("multiplier", "shift") for i in range(4 + 8 + 16)]
    rng = np.random.default_rng(3)
    for i in range(200):
        out = bytearray(valid)
        for _ in range(1 + i % 3):
            pos = int(rng.choice(entries)) if i % 2 else int(rng.integers(start, len(out)))
            out[pos] = int(rng.integers(0, 256))
        data = fix_checksum(out)
        loaded = c_load(native, data)
        if python_accepts(data):
            assert loaded.status in (lib.PNN_OK, lib.PNN_ERR_UNSUPPORTED, lib.PNN_ERR_SHAPE), loaded.message
        else:
            assert loaded.status != lib.PNN_OK and loaded.message, i


def test_sanitized_loader_over_narrow_files(sanitized_loader: Path, valid: bytes, tmp_path: Path) -> None:
    """The valid file runs, every hostile one is refused, under AddressSanitizer + UBSan
    (the widened copies are freed on every path)."""
    assert_sanitized_refusals(sanitized_loader, valid, hostile_files(valid), tmp_path)


# ------------------------------------------------------------------- short names


def test_short_names_keep_inputs_outputs_and_node_names() -> None:
    g = mixed_widths()
    g.tensors["0"] = g.tensors.pop("x")  # an input whose name is an id
    g.tensors["0"].name = "0"
    g.inputs = ["0"]
    g.nodes[0].inputs[0] = "0"
    long_names, short = write_pnn(g), write_pnn(g, short_names=True)
    f = read_pnn(short)
    names = [t.name for t in f.tensors]
    assert len(set(names)) == len(names) and "0" in names and "y" in names
    assert not {"w", "bias", "multiplier", "shift"} & set(names)
    assert [n.name for n in f.nodes] == ["qgemm"] and len(short) <= len(long_names)
    x = RNG.integers(0, 256, (2, 7)).astype(np.uint8)
    np.testing.assert_array_equal(pocketnn.Model(short).run({"0": x})["y"],
                                  pocketnn.Model(long_names).run({"0": x})["y"])


def small_cnn() -> onnx.ModelProto:
    """Conv + Relu + Conv (1x1) + Flatten + Gemm, with long ONNX-style names."""
    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32) * 0.3, name)

    nodes = [helper.make_node("Conv", ["image", "/stem/conv.weight", "/stem/conv.bias"], ["/stem/conv_out"],
                              name="/stem/Conv", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["/stem/conv_out"], ["/stem/relu_out"], name="/stem/Relu"),
             helper.make_node("Conv", ["/stem/relu_out", "/block/pw.weight"], ["/block/pw_out"], name="/block/Conv"),
             helper.make_node("Flatten", ["/block/pw_out"], ["/head/flat"], name="/head/Flatten"),
             helper.make_node("Gemm", ["/head/flat", "/head/fc.weight"], ["scores"], name="/head/Gemm", transB=1)]
    graph = helper.make_graph(
        nodes, "small", [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 3])],
        [weight("/stem/conv.weight", 6, 2, 3, 3), weight("/stem/conv.bias", 6),
         weight("/block/pw.weight", 4, 6, 1, 1), weight("/head/fc.weight", 3, 100)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_convert_shortens_names_unless_kept() -> None:
    model = small_cnn()
    calib = {"image": RNG.standard_normal((16, 2, 5, 5)).astype(np.float32)}
    inputs, outputs = ["image"], ["scores"]
    short = read_pnn(pocketnn.convert(model, quantize="int8", calib=calib, quiet=True))
    kept = read_pnn(pocketnn.convert(model, quantize="int8", calib=calib, quiet=True, keep_names=True))
    assert [n.name for n in short.nodes] == [n.name for n in kept.nodes]
    short_names = {t.name for t in short.tensors}
    assert set(inputs + outputs) <= short_names and len(short_names) == len(kept.tensors)
    assert max(len(name) for name in short_names - set(inputs + outputs)) <= 3
    assert short.header.file_size <= kept.header.file_size


# ------------------------------------------------------------ 15-bit multipliers


def test_compact_multipliers_fit_s16_within_2_pow_minus_15() -> None:
    real = np.exp(RNG.uniform(np.log(1e-9), np.log(1e3), 5000))
    multiplier, shift = arith.quantize_multipliers(real, arith.COMPACT_MANTISSA_BITS)
    live = multiplier > 0
    assert multiplier.max() < 1 << 15 and multiplier[live].min() >= 1 << 14
    assert shift.min() >= arith.MIN_SHIFT and shift.max() <= arith.MAX_SHIFT
    got = multiplier[live] / np.exp2(shift[live].astype(np.float64))
    assert np.max(np.abs(got / real[live] - 1)) <= 2.0**-15
    with pytest.raises(ValueError, match="2\\^14"):
        arith.quantize_multipliers([2.0**14], arith.COMPACT_MANTISSA_BITS)
