"""Group-sparse tensors with 16-bit group_nnz and indices (format 1.7, encoding 2;
docs/FORMAT.md, "Group-sparse encoding").

Round trips of both index widths (f32 and s8 values), the writer's choice at the 65535
column boundary, the byte layout, the Python reader and the C loader refusing hostile
files (the generators of tests/test_sparse_format.py with 2-byte entries), and the C
runtime's Conv / Gemm / QGemm on 16-bit weights (widened at load) against numpy and
against the same weights stored dense, on awkward sizes (empty groups, one column,
partial last groups, K = 65535), under each ISA path the host runs (scalar, avx2,
avx512; the kernels read the widened u32 indices, so they are the existing SpMM ones).
"""

from __future__ import annotations

import math
import struct
from functools import partial

import numpy as np
import pytest
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format.writer import encode_group_sparse
from pocketnn.format.writer import write_pnn as write_pnn_default
from pocketnn.ir import DType, Graph, Node, Tensor
from test_format import c_load, fix_checksum, patch, python_accepts
from test_load_bounds import isa  # noqa: F401  (fixture: each test once per ISA path, PNN_ISA)
from test_sparse_format import (
    GROUPS,
    MAYBE_VALID,
    SHAPES,
    base_file,
    blob_range,
    conv_graph,
    conv_reference,
    expected_mask,
    fuzz_files,
    hostile_files,
    qgemm_graph,
    s8_weight,
    sparse_weight,
)

import pocketnn

ENCODING_OF = {True: spec.ENCODING_GROUP_SPARSE16, False: spec.ENCODING_GROUP_SPARSE}
# Index encodings only: the bitmask (encoding 4, tests/test_sparse_bitmask_format.py) would
# be smaller for most of these masks.
write_pnn = partial(write_pnn_default, sparse_bitmask=False)


def gemm_graph(w: np.ndarray, group: int) -> Graph:
    """Gemm(x [1, K], W [N, K] group-sparse, transB = 1) + bias."""
    n, k = w.shape
    t = {
        "x": Tensor("x", DType.F32, (1, k)),
        "w": Tensor("w", DType.F32, w.shape, w, sparse_group=group),
        "b": Tensor("b", DType.F32, (n,), np.linspace(-1, 1, n).astype(np.float32)),
        "y": Tensor("y", DType.F32, (1, n)),
    }
    attrs: dict[str, int | float | list[int] | list[float]] = {
        "trans_a": 0, "trans_b": 1, "alpha": 1.0, "beta": 1.0, "act": 0, "act_alpha": 0.0}
    return Graph(t, [Node("Gemm", "sparse_gemm", ["x", "w", "b"], ["y"], attrs)], ["x"], ["y"])


@pytest.mark.parametrize("sparse16", [True, False])
@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_both_widths(shape: tuple[int, ...], group: int, sparse16: bool) -> None:
    w = sparse_weight(shape, group, density=0.3, seed=group * 10 + shape[0])
    f = read_pnn(write_pnn(conv_graph(w, group) if len(shape) == 4 else gemm_graph(w, group), sparse16=sparse16))
    assert f.header.version_minor == (spec.MINOR_SPARSE16 if sparse16 else spec.MINOR_GROUP_SPARSE)
    t = f.tensor("w")
    assert t.encoding == ENCODING_OF[sparse16] and t.sparse is not None
    np.testing.assert_array_equal(t.data, w)
    mask = expected_mask(w, group)
    assert t.sparse.group_nnz.tolist() == mask.sum(axis=1).tolist()
    assert t.sparse.indices.tolist() == [c for g in range(mask.shape[0]) for c in np.flatnonzero(mask[g])]
    ib = spec.SPARSE_INDEX_BYTES[t.encoding]
    assert t.size == spec.sparse_layout(t.sparse.n_groups, t.sparse.total_nnz, group, 4, ib)[1]


def test_s8_round_trip_both_widths() -> None:
    w = s8_weight()
    for sparse16, minor in ((True, spec.MINOR_SPARSE16), (False, spec.MINOR_SPARSE_S8)):
        parsed = read_pnn(write_pnn(qgemm_graph(w, 4), sparse16=sparse16, narrow_ints=False))
        assert parsed.header.version_minor == minor
        assert parsed.tensor("w").encoding == ENCODING_OF[sparse16]
        np.testing.assert_array_equal(parsed.tensor("w").data, w)


def test_byte_layout() -> None:
    """8 x u32 header, u16 group_nnz, u16 indices, zeros to 64, values."""
    w = np.zeros((5, 3), np.float32)
    w[0, 1], w[1, 2], w[4, 0] = 1.0, 2.0, 3.0  # G=2: groups {0,1}, {2,3}, {4,pad}
    tensor = Tensor("w", DType.F32, (5, 3), w, sparse_group=2)
    blob = encode_group_sparse(tensor, 2, spec.ENCODING_GROUP_SPARSE16)
    assert struct.unpack_from("<8I", blob, 0) == (5, 3, 2, 3, 3, 1, 1, 0)  # column block 1
    assert struct.unpack_from("<3H", blob, 32) == (2, 0, 1)
    assert struct.unpack_from("<3H", blob, 38) == (1, 2, 0)
    assert blob[44:64] == bytes(20)
    assert struct.unpack_from("<6f", blob, 64) == (1.0, 0.0, 0.0, 2.0, 3.0, 0.0)
    assert len(blob) == 64 + 24


def test_writer_picks_16_bits_up_to_65535_columns() -> None:
    assert spec.sparse_encoding(1) == spec.sparse_encoding(65535) == spec.ENCODING_GROUP_SPARSE16
    assert spec.sparse_encoding(65536) == spec.ENCODING_GROUP_SPARSE
    for k, encoding, minor in ((65535, spec.ENCODING_GROUP_SPARSE16, 7), (65536, spec.ENCODING_GROUP_SPARSE, 1)):
        w = np.zeros((3, k), np.float32)
        w[0, [0, k - 1]] = 1.0
        f = read_pnn(write_pnn(gemm_graph(w, 1)))
        assert (f.tensor("w").encoding, f.header.version_minor) == (encoding, minor)
    with pytest.raises(ValueError, match="at most 65535"):
        encode_group_sparse(Tensor("w", DType.F32, (1, 65536), np.ones((1, 65536), np.float32), 1), 1,
                            spec.ENCODING_GROUP_SPARSE16)


def test_16_bit_file_is_smaller() -> None:
    w = sparse_weight((64, 64, 3, 3), 4, density=0.3, seed=1)
    sizes = {s16: blob_range(write_pnn(conv_graph(w, 4), sparse16=s16))[1] for s16 in (True, False)}
    nnz = int(expected_mask(w, 4).sum())
    assert sizes[False] - sizes[True] >= 2 * (nnz + 16) - 64  # 2 bytes less per entry, up to 64 of padding


# ------------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def valid16() -> bytes:
    data = base_file(sparse16=True)
    assert read_pnn(data).tensor("w").encoding == spec.ENCODING_GROUP_SPARSE16
    return data


@pytest.fixture(scope="module")
def native() -> object:
    return pytest.importorskip("pocketnn._native")


def test_reader_refuses_hostile_16_bit_files(valid16: bytes) -> None:
    for label, data in hostile_files(valid16, ib=2):
        if label in MAYBE_VALID:
            continue
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted")


def test_c_loader_refuses_hostile_16_bit_files(native: object, valid16: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    assert c_load(native, valid16).status == lib.PNN_OK
    for label, data in hostile_files(valid16, ib=2):
        if label in MAYBE_VALID and python_accepts(data):
            continue
        loaded = c_load(native, data, offset=len(label) % 3)
        assert loaded.status == lib.PNN_ERR_FORMAT, f"{label}: status {loaded.status}: {loaded.message}"
        assert loaded.message, label


def test_c_and_python_agree_on_fuzzed_16_bit_blobs(native: object, valid16: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    for label, data in fuzz_files(valid16, count=200):
        loaded = c_load(native, data)
        if python_accepts(data):
            assert loaded.status in (lib.PNN_OK, lib.PNN_ERR_UNSUPPORTED), f"{label}: {loaded.message}"
        else:
            assert loaded.status == lib.PNN_ERR_FORMAT and loaded.message, f"{label}: {loaded.status}"


def test_older_reader_rules_for_encoding_2(valid16: bytes) -> None:
    """A 1.7 file stays readable only by 1.7 readers: here the minor is lowered to 6."""
    data = bytearray(valid16)
    struct.pack_into("<H", data, 6, 6)
    with pytest.raises(PnnFormatError, match="1.7"):
        read_pnn(fix_checksum(data))


# ------------------------------------------------------------ runs on 16-bit weights


@pytest.mark.parametrize("shape", [(13, 8, 1, 1), (9, 3, 3, 3), (5, 1, 1, 1), (1, 4, 3, 3), (16, 6, 1, 1)])
@pytest.mark.parametrize("group", GROUPS)
def test_conv_on_16_bit_weights_matches_numpy(shape: tuple[int, ...], group: int, isa: str) -> None:
    w = sparse_weight(shape, group, 0.4, seed=shape[0] + group)
    w[: min(group, shape[0])] = 0  # an empty first group
    g = conv_graph(w, group, hw=5)
    data = write_pnn(g)
    assert read_pnn(data).tensor("w").encoding == spec.ENCODING_GROUP_SPARSE16
    x = np.random.default_rng(group).standard_normal((1, shape[1], 5, 5)).astype(np.float32)
    y = pocketnn.Model(data).run({"x": x})["y"]
    np.testing.assert_allclose(y, conv_reference(x, w, g.constant("b")), rtol=1e-4, atol=1e-4)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [1, 7, 65535])
def test_gemm_on_16_bit_weights_matches_numpy(k: int, isa: str) -> None:
    rng = np.random.default_rng(k)
    w = np.zeros((6, k), np.float32)
    cols = np.unique(np.concatenate([[0, k - 1], rng.integers(0, k, 40)]))
    w[:4, cols] = rng.standard_normal((4, len(cols)))  # rows 4, 5: an empty group of 2
    g = gemm_graph(w, 2)
    data = write_pnn(g)
    assert read_pnn(data).tensor("w").encoding == spec.ENCODING_GROUP_SPARSE16
    x = rng.standard_normal((1, k)).astype(np.float32)
    y = pocketnn.Model(data).run({"x": x})["y"]
    want = x.astype(np.float64) @ w.T.astype(np.float64) + g.constant("b")  # type: ignore[operator]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("group", GROUPS)
def test_qgemm_on_16_bit_weights_equals_dense(group: int, isa: str) -> None:
    """Integer results match exactly the same weights stored dense (the dense s8 GEMM)."""
    rng = np.random.default_rng(group)
    w = (sparse_weight((11, 37), group, 0.3, seed=group) * 40).clip(-127, 127).astype(np.int8)
    x = rng.integers(0, 256, (1, 37), dtype=np.uint8)
    sparse = write_pnn(qgemm_graph(w, group))
    assert read_pnn(sparse).tensor("w").encoding == spec.ENCODING_GROUP_SPARSE16
    got = pocketnn.Model(sparse).run({"x": x})["y"]
    want = pocketnn.Model(write_pnn(qgemm_graph(w, 0))).run({"x": x})["y"]
    np.testing.assert_array_equal(got, want)
    assert math.prod(got.shape) == 11


# ------------------------------------------------------------------- column blocks


def window_pruned(shape: tuple[int, ...], group: int, seed: int) -> np.ndarray:
    """A kxk weight pruned as the converter does: each group keeps or drops whole input
    channels (all kh x kw positions); one kept window holds an exact zero column."""
    rng = np.random.default_rng(seed)
    m, c, kh, kw = shape
    keep = rng.random((-(-m // group), c)) < 0.4
    keep[0] = False  # an empty group
    w = rng.standard_normal(shape).astype(np.float32)
    w *= np.repeat(keep, group, axis=0)[:m, :, None, None]
    w[group:2 * group, 0, 0, 0] = 0.0  # zeros inside a kept window are stored
    return w


@pytest.mark.parametrize("group", GROUPS)
def test_kxk_windows_store_one_index_each(group: int, isa: str) -> None:
    shape = (10, 7, 3, 3)
    w = window_pruned(shape, group, seed=group)
    g = conv_graph(w, group, hw=5)
    data = write_pnn(g)
    start, _ = blob_range(data)
    padded = np.pad(w, ((0, -10 % group), (0, 0), (0, 0), (0, 0))).reshape(-1, group, 7, 9)
    units = int((padded != 0).any(axis=(1, 3)).sum())
    assert struct.unpack_from("<8I", data, start)[4:7] == (units, 1, 9)  # total_nnz in windows, block 9
    t = read_pnn(data).tensor("w")
    np.testing.assert_array_equal(t.data, w)
    x = np.random.default_rng(3).standard_normal((1, 7, 5, 5)).astype(np.float32)
    y = pocketnn.Model(data).run({"x": x})["y"]
    np.testing.assert_allclose(y, conv_reference(x, w, g.constant("b")), rtol=1e-4, atol=1e-4)  # type: ignore[arg-type]


def test_hostile_column_blocks(native: object) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    valid = write_pnn(conv_graph(window_pruned((8, 5, 3, 3), 4, seed=7), 4))
    start, _ = blob_range(valid)
    n_groups, total = struct.unpack_from("<2I", valid, start + 12)
    assert struct.unpack_from("<I", valid, start + 24)[0] == 9 and total > 0
    indices = start + 32 + 2 * n_groups
    cases = {
        "block 3": patch(valid, start + 24, "I", 3),
        "block 45": patch(valid, start + 24, "I", 45),
        "block 2": patch(valid, start + 24, "I", 2),
        "index = units": patch(valid, indices + 2 * (total - 1), "H", 5),
        "index = 65535": patch(valid, indices, "H", 65535),
        "total_nnz huge": patch(valid, start + 16, "I", 2**32 - 1),
        "group_nnz 6": patch(valid, start + 32, "H", 6),
    }
    assert c_load(native, valid).status == lib.PNN_OK
    for label, data in cases.items():
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted")
        loaded = c_load(native, data)
        assert loaded.status == lib.PNN_ERR_FORMAT and '"w"' in loaded.message, (label, loaded.message)
