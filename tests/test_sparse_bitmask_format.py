"""Group-sparse tensors with one bitmask per group (format 1.9, encoding 4; docs/FORMAT.md,
"Group-sparse encoding").

Round trips (f32 and s8 values, column units and kernel windows), the exact byte layout,
the writer taking the smallest of the 16-bit indices and the bitmask, the Python reader
and the C loader refusing hostile files (bits past the units, counts that disagree,
padding, rows past the end, an older minor version) and agreeing on fuzzed ones, the
decoding under ASan/UBSan (tests/test_sparse_format.py's view harness), and the C
runtime's Conv / Gemm / QGemm on bitmask weights against numpy and against the same
weights stored dense, on awkward sizes, under each ISA path the host runs.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format import writer
from pocketnn.format.writer import encode_group_sparse, write_pnn
from pocketnn.ir import DType, Tensor
from test_format import c_load, fix_checksum, patch, python_accepts
from test_load_bounds import isa  # noqa: F401  (fixture: each test once per ISA path, PNN_ISA)
from test_sparse16_format import gemm_graph, window_pruned
from test_sparse_format import (
    GROUPS,
    SHAPES,
    blob_range,
    conv_graph,
    conv_reference,
    expected_mask,
    fuzz_files,
    qgemm_graph,
    run_view_harness,
    sparse_weight,
    view_harness,  # noqa: F401  (fixture: the sanitized view harness)
)

import pocketnn

BITMASK = spec.ENCODING_GROUP_SPARSE_BITMASK


def bitmask_blob(w: np.ndarray, group: int, dtype: DType = DType.F32) -> bytes:
    return encode_group_sparse(Tensor("w", dtype, w.shape, w, sparse_group=group), group, BITMASK)


@pytest.fixture
def write_bitmask(monkeypatch: pytest.MonkeyPatch) -> object:
    """write_pnn storing every group-sparse tensor as bitmasks, whatever is smallest."""
    monkeypatch.setattr(writer, "sparse_encodings", lambda *_: (BITMASK,))
    return write_pnn


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip(shape: tuple[int, ...], group: int, write_bitmask) -> None:
    w = sparse_weight(shape, group, density=0.5, seed=group * 10 + shape[0])
    graph = conv_graph(w, group) if len(shape) == 4 else gemm_graph(w, group)
    data = write_bitmask(graph)
    blob = bitmask_blob(w, group)
    start, size = blob_range(data)
    assert data[start:start + size] == blob
    f = read_pnn(data)
    assert f.header.version_minor == spec.MINOR_SPARSE_BITMASK
    t = f.tensor("w")
    assert t.encoding == BITMASK and t.sparse is not None
    np.testing.assert_array_equal(t.data, w)
    mask = expected_mask(w, group)
    if struct.unpack_from("<I", blob, 24)[0] == 1:  # units of single columns
        assert t.sparse.group_nnz.tolist() == mask.sum(axis=1).tolist()
        assert t.sparse.indices.tolist() == [c for g in range(mask.shape[0]) for c in np.flatnonzero(mask[g])]


def test_byte_layout() -> None:
    """8 x u32 header (word 6 the column block), one ceil(units / 8)-byte bitmask per group
    (unit u: bit u % 8 of byte u / 8), zeros to 64, values as in every encoding."""
    w = np.zeros((5, 10), np.float32)
    w[0, 1], w[1, 9], w[4, 0], w[4, 8] = 1.0, 2.0, 3.0, 4.0  # G=2: groups {0,1}, {2,3}, {4,pad}
    blob = bitmask_blob(w, 2)
    assert struct.unpack_from("<8I", blob, 0) == (5, 10, 2, 3, 4, 1, 1, 0)
    assert blob[32:38] == bytes([0b10, 0b10, 0, 0, 0b1, 0b1])  # group 0: 1, 9; group 1: -; group 2: 0, 8
    assert blob[38:64] == bytes(26)
    assert struct.unpack_from("<8f", blob, 64) == (1.0, 0.0, 0.0, 2.0, 3.0, 0.0, 4.0, 0.0)
    assert len(blob) == 64 + 32


def test_kxk_windows_are_one_bit_each() -> None:
    """Where whole windows make the smaller blob (here 4 x 4 mask bytes against 4 x 36)."""
    w = window_pruned((14, 32, 3, 3), 4, seed=1)
    blob = bitmask_blob(w, 4)
    assert struct.unpack_from("<I", blob, 24)[0] == 9  # block: a kernel window
    padded = np.pad(w, ((0, 2), (0, 0), (0, 0), (0, 0))).reshape(4, 4, 32, 9)
    windows = (padded != 0).any(axis=(1, 3))
    bits = np.unpackbits(np.frombuffer(blob, np.uint8, 16, 32), bitorder="little").reshape(4, 32)
    np.testing.assert_array_equal(bits.astype(bool), windows)


@pytest.mark.parametrize("density", [0.02, 0.3, 0.7])
def test_writer_takes_the_smallest_encoding(density: float) -> None:
    w = sparse_weight((64, 256), 4, density, seed=3)
    tensor = Tensor("w", DType.F32, w.shape, w, sparse_group=4)
    sizes = {e: len(encode_group_sparse(tensor, 4, e)) for e in (spec.ENCODING_GROUP_SPARSE16, BITMASK)}
    data = write_pnn(gemm_graph(w, 4))
    f = read_pnn(data)
    assert blob_range(data)[1] == min(sizes.values())
    assert f.tensor("w").encoding == min(sizes, key=lambda e: (sizes[e], e))
    assert f.header.version_minor == (spec.MINOR_SPARSE_BITMASK if f.tensor("w").encoding == BITMASK
                                      else spec.MINOR_SPARSE16)
    # A bitmask costs 1/8 byte per unit and group, 16-bit indices 2 bytes per stored unit.
    assert (f.tensor("w").encoding == BITMASK) == (density > 1 / 16)
    assert read_pnn(write_pnn(gemm_graph(w, 4), sparse_bitmask=False)).tensor("w").encoding == \
        spec.ENCODING_GROUP_SPARSE16


def test_s8_round_trip() -> None:
    w = (sparse_weight((24, 40), 4, 0.5, seed=5) * 40).clip(-127, 127).astype(np.int8)
    parsed = read_pnn(write_pnn(qgemm_graph(w, 4), narrow_ints=False))
    assert parsed.tensor("w").encoding == BITMASK
    np.testing.assert_array_equal(parsed.tensor("w").data, w)


# ------------------------------------------------------------------- hostile files


def base_file() -> bytes:
    """A 1x1 conv, 13 output channels in groups of 4 (the last one partial), 12 input
    channels: one empty group, one full group, bits in both mask bytes."""
    w = np.zeros((13, 12), np.float32)
    w[0:4, [1, 4, 9, 10, 11]] = 1.5
    w[8:12] = -0.5
    w[12, 3] = 7
    data = write_pnn(conv_graph(w.reshape(13, 12, 1, 1), 4))
    assert read_pnn(data).tensor("w").encoding == BITMASK
    return data


@pytest.fixture(scope="module")
def valid() -> bytes:
    return base_file()


@pytest.fixture(scope="module")
def native() -> object:
    return pytest.importorskip("pocketnn._native")


def hostile_files(valid: bytes) -> list[tuple[str, bytes]]:
    start, _ = blob_range(valid)
    header = struct.unpack_from("<8I", valid, start)
    assert header[:5] == (13, 12, 4, 4, 18) and header[6] == 1
    masks = start + 32  # 4 groups of 2 bytes
    assert valid[masks:masks + 8] == bytes([0b10010, 0b1110, 0, 0, 0xFF, 0x0F, 0b1000, 0])
    values = start + 64
    last = values + 4 * 4 * 17  # the last group's one stored column, rows 12..15
    return [
        ("bit past the units", patch(valid, masks + 1, "B", 0b11110)),
        ("bit 15 of the last group", patch(valid, masks + 7, "B", 0x80)),
        ("one bit more (count)", patch(valid, masks + 2, "B", 1)),
        ("one bit less (count)", patch(valid, masks, "B", 0b10000)),
        ("total_nnz + 1", patch(valid, start + 16, "I", 19)),
        ("total_nnz 0", patch(valid, start + 16, "I", 0)),
        ("total_nnz huge", patch(valid, start + 16, "I", 2**32 - 1)),
        ("block 0", patch(valid, start + 24, "I", 0)),
        ("block 5", patch(valid, start + 24, "I", 5)),
        ("block 12", patch(valid, start + 24, "I", 12)),
        ("reserved1", patch(valid, start + 28, "I", 1)),
        ("padding byte", patch(valid, masks + 8, "B", 1)),
        ("padding last byte", patch(valid, values - 1, "B", 0x80)),
        ("row past the end", patch(valid, last + 4, "f", 1.0)),
    ]


def test_hostile_files_are_refused_by_both_readers(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    assert c_load(native, valid).status == lib.PNN_OK and python_accepts(valid)
    for label, data in hostile_files(valid):
        assert not python_accepts(data), f"{label} accepted by the Python reader"
        loaded = c_load(native, data, offset=len(label) % 3)
        assert (loaded.status, '"w"' in loaded.message) == (lib.PNN_ERR_FORMAT, True), (label, loaded.message)


def test_c_and_python_agree_on_fuzzed_blobs(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    accepted = 0
    for label, data in fuzz_files(valid, count=300):
        loaded = c_load(native, data)
        if python_accepts(data):
            accepted += 1
            assert loaded.status in (lib.PNN_OK, lib.PNN_ERR_UNSUPPORTED), f"{label}: {loaded.message}"
        else:
            assert loaded.status == lib.PNN_ERR_FORMAT and loaded.message, f"{label}: {loaded.status}"
    assert accepted > 0


def test_older_minor_is_refused(native: object, valid: bytes) -> None:
    """A 1.9 feature in a file stamped 1.8 is malformed for every reader."""
    data = bytearray(valid)
    struct.pack_into("<H", data, 6, 8)
    data = fix_checksum(data)
    with pytest.raises(PnnFormatError, match="1.9"):
        read_pnn(data)
    loaded = c_load(native, data)
    assert loaded.status == native.lib.PNN_ERR_FORMAT and "1.9" in loaded.message  # type: ignore[attr-defined]


def test_sanitized_decoding(view_harness: Path, valid: bytes, tmp_path: Path) -> None:  # noqa: F811
    """Validation, widening and the view under ASan/UBSan, each blob in a buffer of
    exactly its size: valid masks of every group size and density (decoded back to the
    weights), the hostile blobs and every truncation (refused)."""
    blobs, expected = [], []
    for group in GROUPS:
        for shape in SHAPES + [(3, 1), (8, 1, 1, 1), (10, 7, 3, 3)]:
            for density in (0.0, 0.3, 1.0):
                w = sparse_weight(shape, group, density, seed=len(blobs))
                blobs.append((bitmask_blob(w, group), BITMASK, shape))
                expected.append(w)
    start, size = blob_range(valid)
    blob = valid[start:start + size]
    bad = [data[start:start + size] for _, data in hostile_files(valid)] + [blob[:n] for n in range(0, size, 4)]
    results = run_view_harness(view_harness, tmp_path, blobs + [(data, BITMASK, (13, 12, 1, 1)) for data in bad])
    for i, w in enumerate(expected):
        rows, cols = w.shape[0], math.prod(w.shape[1:])
        assert results[i].startswith(f"ok {rows} {cols} ") and results[i].endswith(" 0"), results[i]
        np.testing.assert_array_equal(np.fromfile(tmp_path / f"{i}.out", np.float32).reshape(w.shape), w)
    for line in results[len(expected):]:
        assert line.startswith("refused 3 ") and '"w"' in line, line


# ------------------------------------------------------------ runs on bitmask weights


@pytest.mark.parametrize("shape", [(13, 8, 1, 1), (9, 3, 3, 3), (5, 1, 1, 1), (1, 4, 3, 3), (16, 9, 1, 1)])
@pytest.mark.parametrize("group", GROUPS)
def test_conv_on_bitmask_weights_matches_numpy(shape: tuple[int, ...], group: int, isa: str,
                                               write_bitmask) -> None:
    w = sparse_weight(shape, group, 0.6, seed=shape[0] + group)
    w[: min(group, shape[0])] = 0  # an empty first group
    g = conv_graph(w, group, hw=5)
    data = write_bitmask(g)
    assert read_pnn(data).tensor("w").encoding == BITMASK
    x = np.random.default_rng(group).standard_normal((1, shape[1], 5, 5)).astype(np.float32)
    y = pocketnn.Model(data).run({"x": x})["y"]
    np.testing.assert_allclose(y, conv_reference(x, w, g.constant("b")), rtol=1e-4, atol=1e-4)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 7, 8, 9, 300])
def test_gemm_on_bitmask_weights_matches_numpy(k: int, isa: str, write_bitmask) -> None:
    rng = np.random.default_rng(k)
    w = np.zeros((6, k), np.float32)
    w[:4] = rng.standard_normal((4, k)) * (rng.random(k) < 0.5)  # rows 4, 5: an empty group of 2
    w[:4, k - 1] = 1.0  # the last unit, in the last mask byte
    g = gemm_graph(w, 2)
    data = write_bitmask(g)
    assert read_pnn(data).tensor("w").encoding == BITMASK
    x = rng.standard_normal((1, k)).astype(np.float32)
    y = pocketnn.Model(data).run({"x": x})["y"]
    want = x.astype(np.float64) @ w.T.astype(np.float64) + g.constant("b")  # type: ignore[operator]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("group", GROUPS)
def test_qgemm_on_bitmask_weights_equals_dense(group: int, isa: str, write_bitmask) -> None:
    """Integer results match exactly the same weights stored dense (the dense s8 GEMM)."""
    rng = np.random.default_rng(group)
    w = (sparse_weight((11, 37), group, 0.5, seed=group) * 40).clip(-127, 127).astype(np.int8)
    x = rng.integers(0, 256, (1, 37), dtype=np.uint8)
    sparse = write_bitmask(qgemm_graph(w, group))
    assert read_pnn(sparse).tensor("w").encoding == BITMASK
    got = pocketnn.Model(sparse).run({"x": x})["y"]
    want = pocketnn.Model(write_pnn(qgemm_graph(w, 0))).run({"x": x})["y"]
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("group", GROUPS)
def test_kxk_windows_run(group: int, isa: str, write_bitmask) -> None:
    w = window_pruned((14, 32, 3, 3), group, seed=group)
    g = conv_graph(w, group, hw=5)
    data = write_bitmask(g)
    start, _ = blob_range(data)
    assert read_pnn(data).tensor("w").encoding == BITMASK
    assert struct.unpack_from("<I", data, start + 24)[0] == 9  # one bit per window is the smaller blob
    x = np.random.default_rng(3).standard_normal((1, 32, 5, 5)).astype(np.float32)
    y = pocketnn.Model(data).run({"x": x})["y"]
    np.testing.assert_allclose(y, conv_reference(x, w, g.constant("b")), rtol=1e-4, atol=1e-4)  # type: ignore[arg-type]
