"""b1 weights stored as tree deltas (format 1.10, encoding 5; docs/FORMAT.md, "Binary
tree-delta encoding"): the writer takes it only where the file gets smaller, the Python
reader and the C loader decode it to the plain rows (checked against onnxruntime and the
numpy simulator), and both refuse hostile blobs."""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from pocketnn.conversion import convert_graph
from pocketnn.format import b1_delta, spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format.writer import write_pnn
from support import run_onnxruntime
from test_binary_mst_runtime import clustered_signs, conv_model, simulate_convs
from test_binary_ops import _assert_close_to_onnxruntime, _no_zeros, isa  # noqa: F401
from test_format import (  # noqa: F401  (native, sanitized_loader: fixtures)
    assert_sanitized_refusals,
    c_load,
    fix_checksum,
    native,
    python_accepts,
    sanitized_loader,
)

SHAPE = (1, 130, 6, 5)  # 3 words a tap, the last one partial


def clustered_rows(rng: np.random.Generator, rows: int, words: int, redrawn: int) -> np.ndarray:
    """Each row copies an earlier one and redraws `redrawn` of its words."""
    out = rng.integers(0, 2**63, (rows, words), dtype=np.uint64)
    for r in range(1, rows):
        out[r] = out[rng.integers(r)]
        at = rng.choice(words, redrawn, replace=False)
        out[r, at] = rng.integers(0, 2**63, redrawn, dtype=np.uint64)
    return out


def test_round_trip_and_size() -> None:
    rng = np.random.default_rng(1)
    rows = clustered_rows(rng, 40, 27, 2)
    blob = b1_delta.encode(rows)
    assert blob is not None and len(blob) < rows.nbytes / 4
    np.testing.assert_array_equal(b1_delta.decode(blob, 40, 27), rows)
    # Random rows differ in every word: the plain rows are smaller.
    assert b1_delta.encode(rng.integers(0, 2**63, (40, 27), dtype=np.uint64)) is None
    # Identical rows: one root, children of zero words.
    same = np.repeat(rows[:1], 9, axis=0)
    blob = b1_delta.encode(same)
    assert blob is not None
    np.testing.assert_array_equal(b1_delta.decode(blob, 9, 27), same)


def delta_file(seed: int = 0) -> tuple[bytes, object, list]:
    rng = np.random.default_rng(seed)
    model, params = conv_model([clustered_signs(rng, 70, SHAPE[1], 9)], SHAPE, 1)
    graph = convert_graph(model, input_shapes={"x": SHAPE}, quiet=True)[0]
    assert [n.op for n in graph.nodes] == ["BConv2d"]
    return write_pnn(graph), graph, [model, params]


@pytest.fixture(scope="module")
def valid() -> bytes:
    return delta_file()[0]


def weight_entry(data: bytes) -> tuple[str, int, int]:
    """(name, table offset of its dtype byte, blob start) of the encoding-5 tensor."""
    parsed = read_pnn(data)
    [tensor] = [t for t in parsed.tensors if t.encoding == spec.ENCODING_B1_DELTA]
    needle = struct.pack("<I", len(tensor.name)) + tensor.name.encode()
    return tensor.name, data.find(needle) + len(needle), parsed.header.data_offset + tensor.offset


def test_writer_takes_deltas_where_smaller_and_the_runtime_decodes_them(isa: str) -> None:
    data, graph, (model, params) = delta_file()
    plain = write_pnn(graph, b1_deltas=False)
    parsed = read_pnn(data)
    assert parsed.header.version_minor == spec.MINOR_B1_DELTA
    assert read_pnn(plain).header.version_minor < spec.MINOR_B1_DELTA
    assert len(data) < len(plain)
    w = graph.nodes[0].inputs[1]
    np.testing.assert_array_equal(parsed.tensor(w).data, read_pnn(plain).tensor(w).data)
    x = _no_zeros(np.random.default_rng(2), SHAPE)
    ours = pocketnn.Model(data, isa=isa).run({"x": x})["y"]
    np.testing.assert_array_equal(ours, simulate_convs(params, x, 1, False))
    _assert_close_to_onnxruntime(ours, run_onnxruntime(model, {"x": x})[0])


def test_random_weights_stay_plain() -> None:
    rng = np.random.default_rng(3)
    signs = rng.choice(np.array([-1.0, 1.0], np.float32), (32, 64, 3, 3))
    model, _ = conv_model([signs], (1, 64, 5, 5), 1)
    data = write_pnn(convert_graph(model, input_shapes={"x": (1, 64, 5, 5)}, quiet=True)[0])
    assert all(t.encoding != spec.ENCODING_B1_DELTA for t in read_pnn(data).tensors)


def hostile_files(valid: bytes) -> list[tuple[str, bytes]]:
    _name, entry, blob = weight_entry(valid)
    rows, kw, roots, total = struct.unpack_from("<4I", valid, blob)
    children = rows - roots
    order, parent = blob + 32, blob + 32 + 4 * rows
    count, words = parent + 4 * children, parent + 8 * children
    xors = (words + 4 * total + 7) // 8 * 8
    first_child_words = struct.unpack_from("<I", valid, count)[0]
    assert first_child_words >= 1, "the fixture's first child must differ in a word"
    cases = []

    def patched(label: str, pos: int, fmt: str, value: int) -> None:
        out = bytearray(valid)
        struct.pack_into("<" + fmt, out, pos, value)
        cases.append((label, fix_checksum(out)))

    patched("rows", blob, "I", rows + 1)
    patched("row words", blob + 4, "I", kw - 1)
    patched("no roots", blob + 8, "I", 0)
    patched("more roots than rows", blob + 8, "I", rows + 1)
    patched("one root more", blob + 8, "I", roots + 1)
    patched("total words", blob + 12, "I", total + 1)
    patched("total words huge", blob + 12, "I", 2**32 - 1)
    patched("reserved", blob + 20, "I", 1)
    patched("order repeats a row", order + 4, "I", struct.unpack_from("<I", valid, order)[0])
    patched("order past the rows", order, "I", rows)
    patched("parent past the rows", parent, "I", rows)
    patched("parent is the child", parent, "I", struct.unpack_from("<I", valid, order + 4 * roots)[0])
    patched("parent comes later", parent, "I", struct.unpack_from("<I", valid, order + 4 * (rows - 1))[0])
    patched("count past the row", count, "I", kw + 1)
    patched("count past the total", count, "I", total + 1)
    patched("count short", count, "I", first_child_words - 1)
    patched("word past the row", words, "I", kw)
    patched("xor word 0", xors, "Q", 0)
    if first_child_words >= 2:
        patched("words out of order", words + 4, "I", struct.unpack_from("<I", valid, words)[0])
    patched("data size", entry + 4 + 8 * 4 + 8, "Q", struct.unpack_from("<Q", valid, entry + 4 + 32 + 8)[0] - 8)
    patched("dtype f32", entry, "B", 1)
    old = bytearray(valid)
    struct.pack_into("<H", old, 6, spec.MINOR_B1_DELTA - 1)
    cases.append(("minor 9", fix_checksum(old)))
    return cases


def test_reader_refuses_hostile_files(valid: bytes) -> None:
    for label, data in hostile_files(valid):
        assert not python_accepts(data), label


def test_c_loader_refuses_hostile_files(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    assert c_load(native, valid).status == lib.PNN_OK
    for label, data in hostile_files(valid):
        loaded = c_load(native, data)
        assert loaded.status == lib.PNN_ERR_FORMAT, f"{label}: status {loaded.status}: {loaded.message}"
        assert loaded.message, label


def test_c_and_python_agree_on_fuzzed_blobs(native: object, valid: bytes) -> None:
    """Random bytes in the delta blob: whatever one reader accepts, the other does too."""
    lib = native.lib  # type: ignore[attr-defined]
    _name, _entry, blob = weight_entry(valid)
    size = read_pnn(valid).tensors[[t.encoding for t in read_pnn(valid).tensors].index(spec.ENCODING_B1_DELTA)].size
    rng = np.random.default_rng(5)
    for i in range(200):
        out = bytearray(valid)
        for _ in range(1 + i % 3):
            out[blob + int(rng.integers(0, min(size, 32 + 4 * 70 * 3 + 64)))] = int(rng.integers(0, 256))
        data = fix_checksum(out)
        loaded = c_load(native, data)
        if python_accepts(data):
            assert loaded.status in (lib.PNN_OK, lib.PNN_ERR_FORMAT), loaded.message
        else:
            assert loaded.status == lib.PNN_ERR_FORMAT and loaded.message, i


def test_sanitized_loader_over_delta_files(sanitized_loader: Path, valid: bytes, tmp_path: Path) -> None:
    """The decoded rows are freed on every path, refused or not."""
    assert_sanitized_refusals(sanitized_loader, valid, hostile_files(valid), tmp_path)


def test_decoded_rows_count_against_the_memory_limit(valid: bytes) -> None:
    """A few identical-row deltas can stand for a large tensor: its dense size must fit
    the load's memory limit before it is allocated."""
    with pytest.raises(pocketnn.NativeError, match="decodes to 15120 bytes"):
        pocketnn.Model(valid, max_memory=15000)
