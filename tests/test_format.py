"""The .pnn format: writer/reader round trip, and the loaders' robustness.

Malformed files (truncated, bit-flipped with and without a repaired checksum, hostile
counts, dims, offsets and ids) must be refused by the Python reader with
PnnFormatError, and by the C loader with an error status and a message, never a
crash. The C side runs twice: in-process through the cffi module, and in a separate
executable built with AddressSanitizer/UBSan (tests/c/load_pnn.c) over the same files.
"""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from pocketnn.format import spec
from pocketnn.format.opcodes import OP_CODES
from pocketnn.format.reader import PnnChecksumError, PnnFormatError, PnnVersionError, read_pnn
from pocketnn.format.writer import write_pnn
from pocketnn.ir import DType, Graph, Node, Tensor

REPO = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------- model


def small_graph() -> Graph:
    """Conv(+bias) -> Relu -> Add(constant) -> Conv(no bias); Relu's output is also a graph output."""
    rng = np.random.default_rng(7)
    t = {
        "input_x": Tensor("input_x", DType.F32, (1, 2, 5, 5)),
        "weight1": Tensor("weight1", DType.F32, (3, 2, 3, 3), rng.standard_normal((3, 2, 3, 3)).astype(np.float32)),
        "bias1": Tensor("bias1", DType.F32, (3,), rng.standard_normal(3).astype(np.float32)),
        "conv_out": Tensor("conv_out", DType.F32, (1, 3, 5, 5)),
        "relu_out": Tensor("relu_out", DType.F32, (1, 3, 5, 5)),
        "shift": Tensor("shift", DType.F32, (1, 3, 1, 1), rng.standard_normal((1, 3, 1, 1)).astype(np.float32)),
        "add_out": Tensor("add_out", DType.F32, (1, 3, 5, 5)),
        "weight2": Tensor("weight2", DType.F32, (4, 3, 1, 1), rng.standard_normal((4, 3, 1, 1)).astype(np.float32)),
        "output_y": Tensor("output_y", DType.F32, (1, 4, 5, 5)),
    }
    conv_attrs: dict[str, int | float | list[int] | list[float]] = {
        "group": 1, "strides": [1, 1], "dilations": [1, 1], "pads": [1, 1, 1, 1]}
    nodes = [
        Node("Conv", "conv_one", ["input_x", "weight1", "bias1"], ["conv_out"], dict(conv_attrs)),
        Node("Relu", "relu_one", ["conv_out"], ["relu_out"]),
        Node("Add", "add_one", ["relu_out", "shift"], ["add_out"], {"act": 0, "act_alpha": 0.5}),
        Node("Conv", "conv_two", ["add_out", "weight2", ""], ["output_y"],
             {"group": 1, "strides": [1, 1], "dilations": [1, 1], "pads": [0, 0, 0, 0]}),
    ]
    return Graph(t, nodes, ["input_x"], ["output_y", "relu_out"],
                 {"producer": "pocketnn-test", "opset": 17, "scale": 0.25})


def reference_outputs(g: Graph, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy evaluation of small_graph (output_y, relu_out)."""

    def conv(inp: np.ndarray, w: np.ndarray, b: np.ndarray | None, pad: int) -> np.ndarray:
        xp = np.pad(inp.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        m, _, kh, kw = w.shape
        oh, ow = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
        out = np.zeros((1, m, oh, ow))
        for i in range(kh):
            for j in range(kw):
                out += np.einsum("nchw,mc->nmhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
        if b is not None:
            out += b.reshape(1, -1, 1, 1)
        return out

    c = g.constant
    relu = np.maximum(conv(x, c("weight1"), c("bias1"), 1), 0)  # type: ignore[arg-type]
    y = conv(relu + c("shift"), c("weight2"), None, 0)  # type: ignore[arg-type]
    return y, relu


@pytest.fixture(scope="module")
def valid() -> bytes:
    return write_pnn(small_graph())


# ---------------------------------------------------------------------- byte helpers


def fix_checksum(data: bytes | bytearray) -> bytes:
    out = bytearray(data)
    struct.pack_into("<I", out, 8, 0)
    struct.pack_into("<I", out, 8, zlib.crc32(bytes(out)))  # CRC with the field read as zero
    return bytes(out)


def patch(data: bytes, offset: int, fmt: str, value: int, fix: bool = True) -> bytes:
    out = bytearray(data)
    struct.pack_into("<" + fmt, out, offset, value)
    return fix_checksum(out) if fix else bytes(out)


def after_string(data: bytes, text: str) -> int:
    """Offset just after the (unique) length-prefixed string `text`."""
    needle = struct.pack("<I", len(text)) + text.encode()
    at = data.find(needle)
    assert at >= 0 and data.find(needle, at + 1) < 0, text
    return at + len(needle)


def tensor_fields(data: bytes, name: str) -> dict[str, int]:
    p = after_string(data, name)
    rank = data[p + 3]
    return {"dtype": p, "encoding": p + 1, "kind": p + 2, "rank": p + 3, "dim0": p + 4,
            "offset": p + 4 + 8 * rank, "size": p + 12 + 8 * rank}


def node_fields(data: bytes, name: str) -> dict[str, int]:
    p = after_string(data, name)
    n_in = struct.unpack_from("<I", data, p)[0]
    out_count = p + 4 + 4 * n_in
    n_out = struct.unpack_from("<I", data, out_count)[0]
    attr_count = out_count + 4 + 4 * n_out
    return {"op": p - 4 - len(name) - 2, "n_inputs": p, "input0": p + 4, "n_outputs": out_count,
            "output0": out_count + 4, "n_attrs": attr_count, "attr0": attr_count + 4}


def hostile_files(valid: bytes) -> Iterator[tuple[str, bytes]]:
    """Invalid files with a correct checksum (so the structure checks run). Labels
    starting with "op:" are well formed but break an op's rules (only the runtime's
    prepare functions refuse them); all others break the format itself."""
    h = {"n_meta": 24, "n_tensors": 28, "n_nodes": 32, "n_inputs": 36, "n_outputs": 40}
    for field, off in h.items():
        for value in (0xFFFFFFFF, 0x7FFFFFFF, 1_000_000, struct.unpack_from("<I", valid, off)[0] + 1):
            yield f"header.{field}={value}", patch(valid, off, "I", value)
    yield "header.n_outputs=0", patch(valid, 40, "I", 0)
    data_offset = struct.unpack_from("<Q", valid, 48)[0]
    for value in (0, 1, 63, data_offset + 64, data_offset - 64, 2**63, 2**64 - 64):
        yield f"header.data_offset={value}", patch(valid, 48, "Q", value)
    for value in (0, 1, 2**64 - 1):
        yield f"header.data_size={value}", patch(valid, 56, "Q", value)
    for value in (0, len(valid) + 1, 2**64 - 1):
        yield f"header.file_size={value}", patch(valid, 16, "Q", value)
    for value in (0, 63, 65, 0xFFFFFFFF):
        yield f"header.header_size={value}", patch(valid, 12, "I", value)

    w = tensor_fields(valid, "weight1")
    for value in (0, 9, 100, 255):
        yield f"tensor.dtype={value}", patch(valid, w["dtype"], "B", value)
    yield "tensor.dtype=s8(size mismatch)", patch(valid, w["dtype"], "B", int(DType.S8))
    for value in (1, 255):
        yield f"tensor.encoding={value}", patch(valid, w["encoding"], "B", value)
    for value in (0, 2, 255):
        yield f"tensor.kind={value}", patch(valid, w["kind"], "B", value)
    for value in (0, 3, 5, 9, 255):
        yield f"tensor.rank={value}", patch(valid, w["rank"], "B", value)
    for value in (0, -1, 2**31, 2**62, -(2**63), 4):
        yield f"tensor.dim0={value}", patch(valid, w["dim0"], "q", value)
    data_size = struct.unpack_from("<Q", valid, 56)[0]
    for value in (1, 32, data_size - 64, data_size, 2**40, 2**64 - 64, 2**64 - 1):
        yield f"tensor.offset={value}", patch(valid, w["offset"], "Q", value)
    size = struct.unpack_from("<Q", valid, w["size"])[0]
    for value in (0, size - 1, size + 1, 2**64 - 1):
        yield f"tensor.size={value}", patch(valid, w["size"], "Q", value)
    name_len = after_string(valid, "weight1") - len("weight1") - 4
    for value in (0, 4097, 0xFFFFFFFF, 1_000):
        yield f"tensor.name_length={value}", patch(valid, name_len, "I", value)
    a = tensor_fields(valid, "conv_out")
    yield "activation.kind=constant", patch(valid, a["kind"], "B", 1)
    yield "activation.offset=64", patch(valid, a["offset"], "Q", 64)
    yield "op:activation.dim0=2", patch(valid, a["dim0"], "q", 2)
    x = tensor_fields(valid, "input_x")
    yield "op:input.dim0=2147483647", patch(valid, x["dim0"], "q", 2**31 - 1)

    n = node_fields(valid, "conv_one")
    for value in (0, 6, 9999, 0xFFFF):
        yield f"node.op={value}", patch(valid, n["op"], "H", value)
    yield "op:node.op=Relu(arity)", patch(valid, n["op"], "H", OP_CODES["Relu"])
    for value in (0, 1, 2, 4, 1025, 0xFFFFFFFF):
        yield f"node.n_inputs={value}", patch(valid, n["n_inputs"], "I", value)
    n_tensors = struct.unpack_from("<I", valid, 28)[0]
    for value in (-2, n_tensors, 2**31 - 1, -(2**31), 3, 8):
        yield f"node.input0={value}", patch(valid, n["input0"], "i", value)
    for value in (0, 2, 0xFFFFFFFF):
        yield f"node.n_outputs={value}", patch(valid, n["n_outputs"], "I", value)
    for value in (-1, 0, 1, n_tensors, 8):
        yield f"node.output0={value}", patch(valid, n["output0"], "i", value)
    for value in (0, 5, 65, 0xFFFFFFFF):
        yield f"node.n_attrs={value}", patch(valid, n["n_attrs"], "I", value)
    attr_type = n["attr0"] + 4 + len("group")
    for value in (0, 2, 3, 5, 255):
        yield f"node.attr0.type={value}", patch(valid, attr_type, "B", value)
    strides = valid.find(struct.pack("<I", 7) + b"strides") + 4 + 7
    for value in (0, 1, 3, 65537, 0xFFFFFFFF):
        yield f"node.strides.count={value}", patch(valid, strides + 1, "I", value)
    r = node_fields(valid, "relu_one")
    yield "relu.output=own input", patch(valid, r["output0"], "i", struct.unpack_from("<i", valid, r["input0"])[0])
    yield "relu.input=later tensor", patch(valid, r["input0"], "i", 6)  # add_out
    yield "relu.output=graph input", patch(valid, r["output0"], "i", 0)
    yield "relu.output=constant", patch(valid, r["output0"], "i", 1)

    # Graph inputs then outputs close the structure: ids of input_x, output_y, relu_out.
    ids = valid.rfind(struct.pack("<3i", 0, 8, 4), 0, data_offset)
    assert ids > 0
    for value in (-1, n_tensors, 1, 2, 8):
        yield f"graph.output1={value}", patch(valid, ids + 8, "i", value)
    for value in (-1, n_tensors, 1, 3):
        yield f"graph.input0={value}", patch(valid, ids, "i", value)

    yield "empty", b""
    yield "magic", b"XNN\0" + valid[4:]
    yield "garbage", bytes(random.Random(3).getrandbits(8) for _ in range(len(valid)))
    yield "garbage-with-header", valid[:64] + bytes(random.Random(4).getrandbits(8) for _ in range(len(valid) - 64))
    yield "zeros", bytes(len(valid))
    yield "header-only", fix_checksum(patch(valid[:64], 16, "Q", 64, fix=False))
    yield "version=2.0", patch(valid, 4, "H", 2)
    yield "version=0.9", patch(patch(valid, 4, "H", 0), 6, "H", 9)


def truncated_files(valid: bytes) -> Iterator[tuple[str, bytes]]:
    for n in list(range(0, 130)) + list(range(130, len(valid), 5)):
        yield f"truncated-{n}", valid[:n]
        yield f"truncated-fixed-{n}", fix_checksum(patch(valid[:n], 16, "Q", n, fix=False)) if n >= 64 else valid[:n]


def bitflip_files(valid: bytes, count: int = 400) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(11)
    positions = list(range(0, 64 * 8)) + [rng.randrange(len(valid) * 8) for _ in range(count)]
    for bit in positions:
        out = bytearray(valid)
        out[bit // 8] ^= 1 << (bit % 8)
        yield f"bitflip-{bit}", bytes(out)
        if not 64 <= bit < 96:  # bits of the checksum field itself are pointless to "fix"
            yield f"bitflip-fixed-{bit}", fix_checksum(out)


def all_mutations(valid: bytes) -> list[tuple[str, bytes]]:
    return list(hostile_files(valid)) + list(truncated_files(valid)) + list(bitflip_files(valid))


def python_accepts(data: bytes) -> bool:
    try:
        read_pnn(data)
    except PnnFormatError:
        return False
    return True


# -------------------------------------------------------------- writer and reader


def test_round_trip(valid: bytes) -> None:
    g = small_graph()
    f = read_pnn(valid)
    assert f.metadata == g.metadata
    names = [t.name for t in f.tensors]
    assert set(names) == set(g.tensors)
    for t in f.tensors:
        src = g.tensors[t.name]
        assert (t.dtype, t.shape, t.is_constant) == (src.dtype, src.shape, src.is_constant)
        if src.data is not None:
            assert t.data is not None and t.data.dtype == np.float32
            np.testing.assert_array_equal(t.data, src.data)
            assert t.offset % 64 == 0 and (f.header.data_offset + t.offset) % 64 == 0
    assert [n.op for n in f.nodes] == [n.op for n in g.nodes]
    for node, src in zip(f.nodes, g.nodes):
        assert node.name == src.name and node.attrs == src.attrs and node.op_code == OP_CODES[src.op]
        assert [names[i] if i >= 0 else "" for i in node.inputs] == src.inputs
        assert [names[i] for i in node.outputs] == src.outputs
    assert [names[i] for i in f.inputs] == g.inputs and [names[i] for i in f.outputs] == g.outputs


def test_header_layout(valid: bytes) -> None:
    assert valid[:4] == b"PNN\0"
    major, minor, crc, header_size, file_size = struct.unpack_from("<HHIIQ", valid, 4)
    assert (major, minor, header_size, file_size) == (1, 0, 64, len(valid))
    zeroed = valid[:8] + b"\0\0\0\0" + valid[12:]
    assert crc == zlib.crc32(zeroed)
    counts = struct.unpack_from("<6I", valid, 24)
    assert counts == (3, 9, 4, 1, 2, 0)
    data_offset, data_size = struct.unpack_from("<QQ", valid, 48)
    assert data_offset % 64 == 0 and data_offset + data_size == len(valid)
    node = node_fields(valid, "conv_two")
    assert struct.unpack_from("<i", valid, node["input0"] + 8)[0] == -1  # absent bias


def test_writer_is_deterministic() -> None:
    assert write_pnn(small_graph()) == write_pnn(small_graph())


def test_writer_drops_unused_tensors_and_casts_integer_constants() -> None:
    g = small_graph()
    g.tensors["unused"] = Tensor("unused", DType.F32, (7,))
    g.tensors["idx"] = Tensor("idx", DType.S32, (2,), np.array([0, 1], dtype=np.int64))
    g.nodes.append(Node("Gather", "gather", ["relu_out", "idx"], ["gathered"], {"axis": 1}))
    g.tensors["gathered"] = Tensor("gathered", DType.F32, (1, 2, 5, 5))
    g.outputs.append("gathered")
    f = read_pnn(write_pnn(g))
    assert "unused" not in [t.name for t in f.tensors]
    idx = f.tensor("idx")
    assert idx.dtype == DType.S32 and idx.data is not None and idx.data.dtype == np.int32
    assert idx.data.tolist() == [0, 1]


@pytest.mark.parametrize("mutate, message", [
    (lambda g: g.nodes.append(Node("Frobnicate", "bad", ["output_y"], ["z"])), "unknown op"),
    (lambda g: g.nodes[1].inputs.__setitem__(0, "nowhere"), "nowhere"),
    (lambda g: g.tensors.__setitem__("bias1", Tensor("bias1", DType.F64, (3,), np.zeros(3))), "F64"),
    (lambda g: g.tensors.__setitem__("bias1", Tensor("bias1", DType.OTHER, (3,), np.zeros(3, np.uint16))), "OTHER"),
    (lambda g: g.tensors.__setitem__("bias1", Tensor("bias1", DType.F32, (4,), np.zeros(3, np.float32))), "shape"),
    (lambda g: g.tensors.__setitem__("conv_out", Tensor("conv_out", DType.F32, (1, 0, 5, 5))), "dim"),
    (lambda g: g.tensors.__setitem__("conv_out", Tensor("conv_out", DType.F32, (1,) * 9)), "rank"),
    (lambda g: g.nodes[0].attrs.__setitem__("mode", "zeros"), "unsupported type"),
    (lambda g: g.nodes[0].attrs.__setitem__("big", 2**70), "int64"),
    (lambda g: g.tensors.__setitem__("idx", Tensor("idx", DType.S32, (1,), np.array([2**40]))) or
     g.nodes.append(Node("Gather", "g", ["relu_out", "idx"], ["z"])), "fit"),
    (lambda g: g.inputs.append("weight1"), "constant"),
])
def test_writer_errors(mutate: Callable[[Graph], object], message: str) -> None:
    g = small_graph()
    mutate(g)
    if "z" in [o for n in g.nodes for o in n.outputs]:
        g.tensors["z"] = Tensor("z", DType.F32, (1, 3, 5, 5))
    with pytest.raises(ValueError, match=message):
        write_pnn(g)


def test_reader_version_rules(valid: bytes) -> None:
    with pytest.raises(PnnVersionError, match=r"2\.0.*1\."):
        read_pnn(patch(valid, 4, "H", 2))
    newer_minor = patch(valid, 6, "H", spec.VERSION_MINOR + 1)
    assert read_pnn(newer_minor).header.version_minor == spec.VERSION_MINOR + 1
    with pytest.raises(PnnChecksumError):
        read_pnn(patch(valid, 200, "B", valid[200] ^ 1, fix=False))


def test_reader_refuses_every_hostile_file(valid: bytes) -> None:
    for label, data in hostile_files(valid):
        if label.startswith("op:"):
            python_accepts(data)
            continue
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted")


def test_reader_never_raises_anything_else(valid: bytes) -> None:
    accepted = 0
    for label, data in truncated_files(valid):
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted")
    for _label, data in bitflip_files(valid):
        accepted += python_accepts(data)  # flips in float data or padding are valid files
    assert accepted > 0


# ---------------------------------------------------------- C loader through cffi


@pytest.fixture(scope="module")
def native() -> object:
    return pytest.importorskip("pocketnn._native")


@dataclass
class Loaded:
    status: int
    message: str
    model: object  # cdata pnn_model *, or None
    buffer: np.ndarray  # the model uses it in place: keep it alive with the model


def c_load(native: object, data: bytes, offset: int = 0) -> Loaded:
    """Loads `data` placed `offset` bytes past a 64-aligned address."""
    ffi, lib = native.ffi, native.lib  # type: ignore[attr-defined]
    raw = np.zeros(len(data) + 128, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    raw[start:start + len(data)] = np.frombuffer(data, dtype=np.uint8)
    buf = ffi.from_buffer(raw[start:start + max(len(data), 1)])
    model_pp = ffi.new("pnn_model **")
    err = ffi.new("pnn_error *")
    status = lib.pnn_model_load(buf, len(data), model_pp, err)
    message = ffi.string(err.message).decode("utf-8", "replace")
    model = None
    if status == lib.PNN_OK:
        model = ffi.gc(model_pp[0], lib.pnn_model_free)
    else:
        assert model_pp[0] == ffi.NULL
    return Loaded(status, message, model, raw)


def c_run(native: object, model: object, x: np.ndarray) -> list[np.ndarray]:
    ffi, lib = native.ffi, native.lib  # type: ignore[attr-defined]
    session_pp = ffi.new("pnn_session **")
    err = ffi.new("pnn_error *")
    assert lib.pnn_session_create(model, session_pp, err) == lib.PNN_OK, ffi.string(err.message)
    session = ffi.gc(session_pp[0], lib.pnn_session_free)
    ffi.memmove(lib.pnn_session_input(session, 0), np.ascontiguousarray(x, np.float32).tobytes(), x.nbytes)
    assert lib.pnn_session_run(session, err) == lib.PNN_OK, ffi.string(err.message)
    info = ffi.new("pnn_tensor_info *")
    outs = []
    for i in range(lib.pnn_model_num_outputs(model)):
        lib.pnn_model_output_info(model, i, info)
        shape = tuple(info.dims[d] for d in range(info.rank))
        data = ffi.buffer(lib.pnn_session_output(session, i), info.size_bytes)
        outs.append(np.frombuffer(bytes(data), np.float32).reshape(shape))
    return outs


@pytest.mark.parametrize("offset", [0, 1, 8])
def test_c_loads_and_runs_valid_file(native: object, valid: bytes, offset: int) -> None:
    ffi, lib = native.ffi, native.lib  # type: ignore[attr-defined]
    loaded = c_load(native, valid, offset)
    assert loaded.status == lib.PNN_OK, loaded.message
    model = loaded.model
    assert lib.pnn_model_num_inputs(model) == 1 and lib.pnn_model_num_outputs(model) == 2
    assert lib.pnn_model_num_nodes(model) == 4
    assert ffi.string(lib.pnn_model_metadata(model, b"producer")) == b"pocketnn-test"
    assert lib.pnn_model_metadata(model, b"opset") == ffi.NULL  # not a string
    node = ffi.new("pnn_node_info *")
    assert lib.pnn_model_node_info(model, 0, node) == lib.PNN_OK
    assert ffi.string(node.op) == b"Conv" and ffi.string(node.name) == b"conv_one"
    assert lib.pnn_model_node_info(model, 4, node) == lib.PNN_ERR_INVALID_ARGUMENT
    # Inputs, outputs and the intermediate activations: at least the two outputs and
    # the input are live together at the end, at most every activation is separate.
    arena = lib.pnn_model_arena_bytes(model)
    assert 3 * 64 <= arena
    g = small_graph()
    x = np.random.default_rng(1).standard_normal((1, 2, 5, 5)).astype(np.float32)
    for _ in range(2):  # inputs survive a run: the second run gives the same answer
        y, relu = c_run(native, model, x)
        want_y, want_relu = reference_outputs(g, x)
        np.testing.assert_allclose(relu, want_relu, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(y, want_y, rtol=1e-4, atol=1e-4)


def test_c_version_and_checksum_errors(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    loaded = c_load(native, patch(valid, 4, "H", 2))
    assert loaded.status == lib.PNN_ERR_VERSION and "2.0" in loaded.message and "1." in loaded.message
    assert c_load(native, patch(valid, 6, "H", 3)).status == lib.PNN_OK
    loaded = c_load(native, patch(valid, 300, "B", valid[300] ^ 4, fix=False))
    assert loaded.status == lib.PNN_ERR_CHECKSUM and loaded.message
    loaded = c_load(native, b"")
    assert loaded.status == lib.PNN_ERR_FORMAT and loaded.message


def test_c_load_file(native: object, valid: bytes, tmp_path: Path) -> None:
    ffi, lib = native.ffi, native.lib  # type: ignore[attr-defined]
    path = tmp_path / "small.pnn"
    path.write_bytes(valid)
    model_pp = ffi.new("pnn_model **")
    err = ffi.new("pnn_error *")
    assert lib.pnn_model_load_file(str(path).encode(), model_pp, err) == lib.PNN_OK, ffi.string(err.message)
    lib.pnn_model_free(model_pp[0])
    status = lib.pnn_model_load_file(str(tmp_path / "missing.pnn").encode(), model_pp, err)
    assert status == lib.PNN_ERR_IO and b"missing.pnn" in ffi.string(err.message)
    assert model_pp[0] == ffi.NULL


def test_c_unknown_op_names_node_and_code(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    loaded = c_load(native, patch(valid, node_fields(valid, "conv_one")["op"], "H", 9999))
    assert loaded.status == lib.PNN_ERR_UNSUPPORTED
    assert "conv_one" in loaded.message and "9999" in loaded.message


def test_c_loader_refuses_malformed_files(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    for label, data in all_mutations(valid):
        loaded = c_load(native, data, offset=len(label) % 3)
        status, message = loaded.status, loaded.message
        if status == lib.PNN_OK:
            # Only a file the strict Python reader accepts may load (e.g. a flipped bit in weights).
            assert python_accepts(data), f"{label}: C accepted a file the Python reader refuses"
        else:
            assert message, f"{label}: status {status} without a message"
        if not python_accepts(data):
            assert status != lib.PNN_OK, label


# --------------------------------------------- C loader under AddressSanitizer/UBSan


_SANITIZED_BUILDS: dict[str, Path] = {}


def sanitized_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CMake build with -DPNN_SANITIZE=ON holding pnn_load_files and libpocketnn.a;
    built once per test session, whichever test module asks first."""
    if "build" not in _SANITIZED_BUILDS:
        if shutil.which("cmake") is None or shutil.which("cc") is None and shutil.which("gcc") is None:
            pytest.skip("cmake and a C compiler are needed to build the sanitized loader")
        build = tmp_path_factory.mktemp("sanitized-build")
        for cmd in (["cmake", "-S", str(REPO), "-B", str(build), "-DPNN_SANITIZE=ON", "-DCMAKE_BUILD_TYPE=Debug"],
                    ["cmake", "--build", str(build), "-j2", "--target", "pnn_load_files"]):
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        _SANITIZED_BUILDS["build"] = build
    return _SANITIZED_BUILDS["build"]


@pytest.fixture(scope="module")
def sanitized_loader(tmp_path_factory: pytest.TempPathFactory) -> Path:
    prebuilt = os.environ.get("PNN_SANITIZED_LOADER")
    if prebuilt:
        return Path(prebuilt)
    return sanitized_build(tmp_path_factory) / "pnn_load_files"


SANITIZER_ENV = {"ASAN_OPTIONS": "allocator_may_return_null=1:detect_leaks=1:abort_on_error=0",
                 "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}


def sanitizer_env() -> dict[str, str]:
    """The environment with SANITIZER_ENV's options, followed by any the caller set (such as
    bench/avx2_host/run.sh's, which the sanitizers need under its CPUID shim)."""
    env = dict(os.environ)
    for name, options in SANITIZER_ENV.items():
        env[name] = f"{options}:{os.environ[name]}" if os.environ.get(name) else options
    return env


def run_sanitized(program: Path, args: list[str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Runs a sanitized program; fails the test on a sanitizer report or a non-zero exit."""
    done = subprocess.run([str(program), *args], capture_output=True, text=True, check=False,
                          env=sanitizer_env(), timeout=timeout)
    report = done.stderr[-6000:]
    assert done.returncode == 0, report
    for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
        assert marker not in done.stderr, report
    return done


def assert_sanitized_refusals(sanitized_loader: Path, valid: bytes, hostile: list[tuple[str, bytes]],
                              tmp_path: Path) -> None:
    """Under ASan + UBSan the valid file runs and every hostile one is refused at load."""
    files = [("valid", valid), *hostile]
    paths = []
    for i, (_label, data) in enumerate(files):
        paths.append(str(tmp_path / f"{i:03d}.pnn"))
        Path(paths[-1]).write_bytes(data)
    lines = run_sanitized(sanitized_loader, paths).stdout.splitlines()
    assert len(lines) == len(files) and lines[0].endswith("run ok"), lines[:1]
    for (label, _data), line in zip(files[1:], lines[1:]):
        assert ": load " in line, f"{label}: {line}"


def test_sanitized_loader_over_malformed_files(sanitized_loader: Path, valid: bytes, tmp_path: Path) -> None:
    files = [("valid", valid)] + all_mutations(valid)
    paths = []
    for i, (_label, data) in enumerate(files):
        path = tmp_path / f"{i:05d}.pnn"
        path.write_bytes(data)
        paths.append(str(path))
    done = run_sanitized(sanitized_loader, paths)
    lines = done.stdout.splitlines()
    assert len(lines) == len(files)
    assert lines[0].endswith("run ok"), lines[0]
    for (label, data), line in zip(files, lines):
        if not python_accepts(data):
            assert ": load " in line, f"{label}: {line}"
