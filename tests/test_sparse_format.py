"""The group-sparse tensor encoding of format 1.1 (u32 indices, written with
`write_pnn(..., sparse16=False)`), and its s8 values of 1.3 (docs/FORMAT.md,
"Group-sparse encoding"). tests/test_sparse16_format.py reuses the generators here for
the 16-bit indices of 1.7.

Writer -> reader round trips for every group size and awkward masks; the exact byte
layout; the file-size win; the C loader accepting valid sparse files and refusing
hostile ones (with the checksum repaired, so the structural checks are what refuse
them) with PNN_ERR_FORMAT and a message, in process and under AddressSanitizer/UBSan;
the C view (pnn_tensor_sparse_view) decoded back to the dense weights; and the load-time
refusal of a sparse input an op does not read.
"""

from __future__ import annotations

import math
import os
import random
import struct
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from pocketnn.format import spec
from pocketnn.format.reader import PnnFormatError, read_pnn
from pocketnn.format.writer import encode_group_sparse
from pocketnn.format.writer import write_pnn as write_pnn_default
from pocketnn.ir import DType, Graph, Node, Tensor
from test_format import (
    REPO,
    c_load,
    c_run,
    fix_checksum,
    patch,
    python_accepts,
    run_sanitized,
    sanitized_build,
    tensor_fields,
)

GROUPS = (1, 2, 4, 8)
write_pnn = partial(write_pnn_default, sparse16=False, narrow_ints=False)

# ---------------------------------------------------------------------------- helpers


def sparse_weight(shape: tuple[int, ...], group: int, density: float, seed: int) -> np.ndarray:
    """Random weights pruned in groups of `group` rows sharing a column mask; some rows of
    a kept group may still be exactly zero (they must be stored)."""
    rng = np.random.default_rng(seed)
    rows, cols = shape[0], math.prod(shape[1:])
    n_groups = -(-rows // group)
    keep = rng.random((n_groups, cols)) < density
    w = rng.standard_normal((n_groups * group, cols)).astype(np.float32)
    w *= np.repeat(keep, group, axis=0)
    w[rng.random(w.shape) < 0.1] = 0.0  # zeros inside kept groups
    return np.ascontiguousarray(w[:rows].reshape(shape))


def conv_graph(w: np.ndarray, group: int, hw: int = 3) -> Graph:
    """Conv(x, W sparse, bias) with a kxk weight; padding keeps the spatial size."""
    m, c, kh, kw = w.shape
    bias = np.linspace(-1, 1, m).astype(np.float32)
    t = {
        "x": Tensor("x", DType.F32, (1, c, hw, hw)),
        "w": Tensor("w", DType.F32, w.shape, w, sparse_group=group),
        "b": Tensor("b", DType.F32, (m,), bias),
        "y": Tensor("y", DType.F32, (1, m, hw, hw)),
    }
    attrs: dict[str, int | float | list[int] | list[float]] = {
        "group": 1, "strides": [1, 1], "dilations": [1, 1], "pads": [kh // 2, kw // 2, kh // 2, kw // 2]}
    return Graph(t, [Node("Conv", "sparse_conv", ["x", "w", "b"], ["y"], attrs)], ["x"], ["y"],
                 {"producer": "pocketnn-test"})


def add_graph(w: np.ndarray, group: int) -> Graph:
    """Add(x, W): an op that will never read a sparse input."""
    t = {
        "x": Tensor("x", DType.F32, w.shape),
        "w": Tensor("w", DType.F32, w.shape, w, sparse_group=group),
        "y": Tensor("y", DType.F32, w.shape),
    }
    return Graph(t, [Node("Add", "add_sparse", ["x", "w"], ["y"], {"act": 0, "act_alpha": 0.0})], ["x"], ["y"])


def conv_reference(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    m, _, kh, kw = w.shape
    ph, pw = kh // 2, kw // 2
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh, ow = x.shape[2], x.shape[3]
    out = np.zeros((1, m, oh, ow))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nchw,mc->nmhw", xp[:, :, i:i + oh, j:j + ow], w[:, :, i, j])
    return out + b.reshape(1, -1, 1, 1)


def expected_mask(w: np.ndarray, group: int) -> np.ndarray:
    """[n_groups, cols]: column kept in a group when any of its rows is nonzero (plain loops)."""
    rows, cols = w.shape[0], math.prod(w.shape[1:])
    w2 = w.reshape(rows, cols)
    n_groups = -(-rows // group)
    mask = np.zeros((n_groups, cols), dtype=bool)
    for g in range(n_groups):
        for c in range(cols):
            mask[g, c] = any(w2[r, c] != 0 for r in range(g * group, min(rows, (g + 1) * group)))
    return mask


def blob_range(data: bytes, name: str = "w") -> tuple[int, int]:
    """(file offset, size) of a constant's data."""
    f = tensor_fields(data, name)
    data_offset = struct.unpack_from("<Q", data, 48)[0]
    offset, size = struct.unpack_from("<QQ", data, f["offset"])
    return data_offset + offset, size


# Shapes with full and partial last groups, a single row, 1x1 and 3x3 kernels, Gemm-like 2-D.
SHAPES = [(8, 16, 1, 1), (13, 7, 1, 1), (1, 5, 1, 1), (9, 3, 3, 3), (6, 10), (17, 33)]


# ------------------------------------------------------------------ writer and reader


@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip(group: int, shape: tuple[int, ...]) -> None:
    w = sparse_weight(shape, group, density=0.3, seed=group * 100 + len(shape) + shape[0])
    g = conv_graph(w, group) if len(shape) == 4 else add_graph(w, group)
    data = write_pnn(g)
    f = read_pnn(data)
    assert f.header.version_minor == spec.MINOR_GROUP_SPARSE
    t = f.tensor("w")
    assert t.encoding == spec.ENCODING_GROUP_SPARSE and t.sparse is not None
    assert t.data is not None and t.data.dtype == np.float32 and t.data.shape == shape
    np.testing.assert_array_equal(t.data, w)
    mask = expected_mask(w, group)
    s = t.sparse
    assert (s.rows, s.cols, s.group, s.n_groups) == (shape[0], math.prod(shape[1:]), group, mask.shape[0])
    assert s.group_nnz.tolist() == mask.sum(axis=1).tolist()
    assert s.indices.tolist() == [c for g in range(mask.shape[0]) for c in np.flatnonzero(mask[g])]
    assert t.size == spec.sparse_layout(s.n_groups, s.total_nnz, group, 4)[1]
    assert (f.header.data_offset + t.offset) % 64 == 0


@pytest.mark.parametrize("group", GROUPS)
def test_edge_masks(group: int) -> None:
    shape = (11, 6, 1, 1)
    cases = {
        "all zero": np.zeros(shape, np.float32),
        "one nonzero": np.zeros(shape, np.float32),
        "empty groups": sparse_weight(shape, group, 0.5, seed=3),
        "dense": np.ones(shape, np.float32),
        "last row only": np.zeros(shape, np.float32),
        "negative zero": np.full(shape, -0.0, np.float32),
    }
    cases["one nonzero"][5, 2] = 3.5
    cases["empty groups"][: 2 * group] = 0  # first two groups empty
    cases["last row only"][10, 5] = -1.0
    for label, w in cases.items():
        f = read_pnn(write_pnn(conv_graph(w, group)))
        t = f.tensor("w")
        assert t.sparse is not None and t.data is not None
        np.testing.assert_array_equal(t.data, np.where(w == 0, 0, w), err_msg=label)
        assert t.sparse.group_nnz.tolist() == expected_mask(w, group).sum(axis=1).tolist(), label
    assert read_pnn(write_pnn(conv_graph(cases["all zero"], group))).tensor("w").sparse.total_nnz == 0  # type: ignore[union-attr]


def test_byte_layout() -> None:
    """The blob is exactly: 8 x u32 header, group_nnz, indices, zeros to 64, values."""
    w = np.zeros((5, 3), np.float32)
    w[0, 1], w[1, 2], w[4, 0] = 1.0, 2.0, 3.0  # G=2: groups {0,1}, {2,3}, {4,pad}
    blob = encode_group_sparse(Tensor("w", DType.F32, (5, 3), w, sparse_group=2), 2)
    assert struct.unpack_from("<8I", blob, 0) == (5, 3, 2, 3, 3, 1, 0, 0)
    assert struct.unpack_from("<3I", blob, 32) == (2, 0, 1)
    assert struct.unpack_from("<3I", blob, 44) == (1, 2, 0)
    assert blob[56:64] == bytes(8)
    assert struct.unpack_from("<6f", blob, 64) == (1.0, 0.0, 0.0, 2.0, 3.0, 0.0)
    assert len(blob) == 64 + 24


def test_dense_files_stay_version_1_0() -> None:
    w = sparse_weight((8, 4, 1, 1), 4, 0.5, seed=1)
    assert read_pnn(write_pnn(conv_graph(w, 0))).header.version_minor == 0
    assert read_pnn(write_pnn(conv_graph(w, 4))).header.version_minor == 1


@pytest.mark.parametrize("label, change, message", [
    ("activation", lambda g: setattr(g.tensors["x"], "sparse_group", 4), "only constants"),
    ("rank 1", lambda g: setattr(g.tensors["b"], "sparse_group", 1), "rank >= 2"),
    ("s32", lambda g: g.tensors.__setitem__("w", Tensor("w", DType.S32, (4, 2, 1, 1), np.ones((4, 2, 1, 1), np.int32), 2)), "F32"),
    ("G=3", lambda g: setattr(g.tensors["w"], "sparse_group", 3), "sparse_group"),
    ("G=16", lambda g: setattr(g.tensors["w"], "sparse_group", 16), "sparse_group"),
    ("G=-1", lambda g: setattr(g.tensors["w"], "sparse_group", -1), "sparse_group"),
    ("G=2.0", lambda g: setattr(g.tensors["w"], "sparse_group", 2.0), "sparse_group"),
])
def test_writer_refuses(label: str, change: object, message: str) -> None:
    g = conv_graph(sparse_weight((4, 2, 1, 1), 2, 0.5, seed=2), 2)
    change(g)  # type: ignore[operator]
    with pytest.raises(ValueError, match=message):
        write_pnn(g)


def test_file_size_win() -> None:
    """A 90%-sparse (in groups of 4) 1x1 conv weight [512, 512] stores in < 0.2x dense."""
    shape = (512, 512, 1, 1)
    w = sparse_weight(shape, 4, density=0.1, seed=5)
    sparse = blob_range(write_pnn(conv_graph(w, 4, hw=1)))[1]
    dense = blob_range(write_pnn(conv_graph(w, 0, hw=1)))[1]
    assert dense == w.nbytes
    assert sparse < 0.2 * dense, (sparse, dense)
    for group in (1, 2, 8):  # the same sparsity in other group sizes also wins
        wg = sparse_weight(shape, group, density=0.1, seed=6)
        size = blob_range(write_pnn(conv_graph(wg, group, hw=1)))[1]
        assert size < 0.25 * dense, (group, size)


# ------------------------------------------------------------------- hostile files


def base_file(sparse16: bool = False) -> bytes:
    """A 1x1 conv, 13 output channels in groups of 4 (the last one partial), with empty
    groups, groups of one column, and padding before the values."""
    w = np.zeros((13, 6), np.float32)
    w[0:4, 1] = [1, 0, 2, 0]       # group 0: columns 1, 4
    w[2, 4] = -1
    w[8:12, [0, 2, 5]] = 0.5       # group 2: columns 0, 2, 5; group 1 empty
    w[12, 3] = 7                   # group 3 (rows 12 + 3 padding): column 3
    return write_pnn_default(conv_graph(w.reshape(13, 6, 1, 1), 4), sparse16=sparse16)


def hostile_files(valid: bytes, ib: int = 4) -> Iterator[tuple[str, bytes]]:
    """Files each broken in one way, checksum repaired (`ib`: bytes of an index entry)."""
    start, size = blob_range(valid)
    hdr = dict(zip(("rows", "cols", "group", "n_groups", "total_nnz", "value_dtype", "reserved0", "reserved1"),
                   struct.unpack_from("<8I", valid, start)))
    assert (hdr["rows"], hdr["cols"], hdr["group"], hdr["n_groups"], hdr["total_nnz"]) == (13, 6, 4, 4, 6)
    field = {name: start + 4 * i for i, name in enumerate(hdr)}
    counts = start + 32
    indices = counts + ib * hdr["n_groups"]
    values = start + spec.sparse_layout(4, 6, 4, 4, ib)[0]
    entry = "I" if ib == 4 else "H"
    entry_max = 2 ** (8 * ib) - 1

    def u32(offset: int, value: int) -> bytes:
        return patch(valid, offset, "I", value)

    def idx(offset: int, value: int) -> bytes:
        return patch(valid, offset, entry, value)

    for value in (0, 12, 14, 2**31, 2**32 - 1):
        yield f"rows={value}", u32(field["rows"], value)
    for value in (0, 5, 7, 2**32 - 1):
        yield f"cols={value}", u32(field["cols"], value)
    for value in (0, 3, 16, 2**32 - 1):
        yield f"group={value}", u32(field["group"], value)
    yield "group=8 n_groups=2", patch(u32(field["group"], 8), field["n_groups"], "I", 2)
    yield "group=2 n_groups=7", patch(u32(field["group"], 2), field["n_groups"], "I", 7)
    for value in (0, 3, 5, 2**32 - 1):
        yield f"n_groups={value}", u32(field["n_groups"], value)
    for value in (0, 5, 7, 2**30, 2**32 - 1):
        yield f"total_nnz={value}", u32(field["total_nnz"], value)
    for value in (0, 2, 7, 255):
        yield f"value_dtype={value}", u32(field["value_dtype"], value)
    if ib == 4:
        yield "reserved0=1", u32(field["reserved0"], 1)
    else:  # encoding 2's column block: 1 here; each other value breaks a rule
        for value in (0, 2, 4, 7, 2**32 - 1):
            yield f"reserved0=block {value}", u32(field["reserved0"], value)
    yield "reserved1=2**31", u32(field["reserved1"], 2**31)
    # Per-group counts: [2, 0, 3, 1]
    assert struct.unpack_from(f"<4{entry}", valid, counts) == (2, 0, 3, 1)
    yield "group_nnz[0]=3 (sum)", idx(counts, 3)
    yield "group_nnz[1]=7 (> cols)", patch(idx(counts + ib, 7), counts + 2 * ib, entry, 0)  # sum 2+7+0+1 != 6 too
    yield "group_nnz[0]=max", idx(counts, entry_max)
    yield "group_nnz=[max,7,...] (wrap)", patch(idx(counts, entry_max), counts + ib, entry, 7)
    yield "group_nnz=[0,2,3,1] (order)", patch(idx(counts, 0), counts + ib, entry, 2)  # still sum 6, valid?
    yield "group_nnz=[3,0,2,1] (descending)", patch(idx(counts, 3), counts + 2 * ib, entry, 2)
    # indices: [1, 4 | 0, 2, 5 | 3]
    assert struct.unpack_from(f"<6{entry}", valid, indices) == (1, 4, 0, 2, 5, 3)
    for value in (6, 7, entry_max // 2, entry_max):
        yield f"indices[5]={value}", idx(indices + 5 * ib, value)
    yield "indices[1]=1 (repeat)", idx(indices + ib, 1)
    yield "indices[0]=4 (repeat)", idx(indices, 4)
    yield "indices[0]=5 (descending)", idx(indices, 5)
    yield "indices[4]=1 (descending)", idx(indices + 4 * ib, 1)
    yield "padding byte", patch(valid, indices + 6 * ib, "B", 1)
    yield "padding last byte", patch(valid, values - 1, "B", 0x80)
    # values: group 3 is the last 4 floats; rows 13..15 of it are padding rows.
    last = values + 4 * 4 * 5
    for r in (1, 2, 3):
        yield f"padding row {r} = 1.0", patch(valid, last + 4 * r, "I", 0x3F800000)
    yield "padding row = NaN", patch(valid, last + 8, "I", 0x7FC00000)
    # The tensor table entry.
    f = tensor_fields(valid, "w")
    for value in (0, 16, size - 4, size + 4, size + 64, 2**64 - 1):
        yield f"size={value}", patch(valid, f["size"], "Q", value)
    data_size = struct.unpack_from("<Q", valid, 56)[0]
    for value in (32, data_size, 2**64 - 64):
        yield f"offset={value}", patch(valid, f["offset"], "Q", value)
    yield "dim0=12", patch(valid, f["dim0"], "q", 12)
    yield "dim1=5", patch(valid, f["dim0"] + 8, "q", 5)
    yield "dtype=s32", patch(valid, f["dtype"], "B", int(DType.S32))
    yield "dtype=f16", patch(valid, f["dtype"], "B", int(DType.F16))
    yield "encoding=3", patch(valid, f["encoding"], "B", 3)
    other = spec.ENCODING_GROUP_SPARSE16 if ib == 4 else spec.ENCODING_GROUP_SPARSE
    yield f"encoding={other} (other index width)", patch(valid, f["encoding"], "B", other)
    yield "encoding=dense", patch(valid, f["encoding"], "B", 0)
    yield "kind=activation", patch(valid, f["kind"], "B", 0)
    yield "version 1.0", patch(valid, 6, "H", 0)
    if ib == 2:
        yield "version 1.6", patch(valid, 6, "H", 6)
    b = tensor_fields(valid, "b")
    yield "bias encoding=sparse", patch(valid, b["encoding"], "B", 1)
    yield "bias encoding=sparse16", patch(valid, b["encoding"], "B", 2)
    x = tensor_fields(valid, "x")
    yield "activation encoding=sparse", patch(valid, x["encoding"], "B", 1)
    yield "activation encoding=sparse16", patch(valid, x["encoding"], "B", 2)


def fuzz_files(valid: bytes, count: int = 300) -> Iterator[tuple[str, bytes]]:
    """Bit flips inside the sparse blob and truncations of it, checksum repaired."""
    start, size = blob_range(valid)
    rng = random.Random(17)
    for _ in range(count):
        bit = rng.randrange(start * 8, (start + size) * 8)
        out = bytearray(valid)
        out[bit // 8] ^= 1 << (bit % 8)
        yield f"blob-bitflip-{bit}", fix_checksum(out)
    for n in range(start, start + size, 8):
        cut = bytearray(valid[:n])
        struct.pack_into("<Q", cut, 16, n)  # file_size
        struct.pack_into("<Q", cut, 56, n - struct.unpack_from("<Q", valid, 48)[0])  # data_size
        yield f"blob-truncated-{n}", fix_checksum(cut)


# Labels of the mutations inside the blob (the rest change the tensor table or header).
BLOB_LABELS = ("rows", "cols", "group", "n_groups", "total", "value", "reserved", "indices", "padding")
# Mutations above that may legitimately give another valid file.
MAYBE_VALID = {"group_nnz=[0,2,3,1] (order)"}


@pytest.fixture(scope="module")
def valid() -> bytes:
    return base_file()


def test_reader_refuses_hostile_files(valid: bytes) -> None:
    read_pnn(valid)
    for label, data in hostile_files(valid):
        if label in MAYBE_VALID:
            continue
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted")


@pytest.fixture(scope="module")
def native() -> object:
    return pytest.importorskip("pocketnn._native")


def assert_loads(native: object, data: bytes) -> None:
    """A valid sparse file loads (Conv and Gemm read group-sparse weights)."""
    lib = native.lib  # type: ignore[attr-defined]
    loaded = c_load(native, data)
    assert loaded.status == lib.PNN_OK, loaded.message


def test_c_loader_valid_sparse_files(native: object) -> None:
    for group in GROUPS:
        for shape in SHAPES:
            if len(shape) == 4:
                w = sparse_weight(shape, group, 0.3, seed=group + shape[0])
                assert_loads(native, write_pnn(conv_graph(w, group)))


def test_c_sparse_conv_runs(native: object) -> None:
    """Conv reads group-sparse weights: its answer against a numpy convolution."""
    lib = native.lib  # type: ignore[attr-defined]
    w = sparse_weight((13, 8, 1, 1), 4, 0.3, seed=9)
    g = conv_graph(w, 4, hw=5)
    loaded = c_load(native, write_pnn(g))
    assert loaded.status == lib.PNN_OK, loaded.message
    x = np.random.default_rng(2).standard_normal((1, 8, 5, 5)).astype(np.float32)
    (y,) = c_run(native, loaded.model, x)
    np.testing.assert_allclose(y, conv_reference(x, w, g.constant("b")), rtol=1e-4, atol=1e-4)  # type: ignore[arg-type]


def test_c_refuses_sparse_input_of_an_op_that_does_not_read_it(native: object) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    w = sparse_weight((6, 5), 2, 0.5, seed=4)
    loaded = c_load(native, write_pnn(add_graph(w, 2)))
    assert loaded.status == lib.PNN_ERR_UNSUPPORTED
    for part in ("add_sparse", "Add", '"w"', "group-sparse"):
        assert part in loaded.message, loaded.message


def test_c_loader_refuses_hostile_files(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    assert_loads(native, valid)
    for label, data in hostile_files(valid):
        loaded = c_load(native, data, offset=len(label) % 3)
        if label in MAYBE_VALID and python_accepts(data):
            continue
        assert loaded.status == lib.PNN_ERR_FORMAT, f"{label}: status {loaded.status}: {loaded.message}"
        assert loaded.message, label
    for label, data in hostile_files(valid):
        if label in MAYBE_VALID and python_accepts(data):
            continue
        if label.startswith(BLOB_LABELS):
            assert '"w"' in c_load(native, data).message, label


def test_c_and_python_agree_on_fuzzed_blobs(native: object, valid: bytes) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    accepted = 0
    for label, data in fuzz_files(valid):
        loaded = c_load(native, data)
        ok = python_accepts(data)
        accepted += ok
        if ok:  # a flipped value bit, for example
            assert loaded.status in (lib.PNN_OK, lib.PNN_ERR_UNSUPPORTED), f"{label}: {loaded.message}"
        else:
            assert loaded.status == lib.PNN_ERR_FORMAT and loaded.message, f"{label}: {loaded.status}"
    assert accepted > 0


# ------------------------------------------ sanitized C: the loader tool and the view

VIEW_HARNESS = r"""
/* For each line "blob out encoding rank d0 .. d{rank-1}" of the manifest: validate the
 * blob as a group-sparse f32 constant of that encoding and shape; if valid, widen its
 * indices (encodings 2 and 4) and decode pnn_tensor_sparse_view into a dense [rows, cols]
 * float32 file `out`. Prints one line per blob. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static int one(const char *blob_path, const char *out_path, int encoding, int rank, const int64_t *dims) {
  FILE *f = fopen(blob_path, "rb");
  if (f == NULL) return 1;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  /* exactly `size` bytes (rounded to the alignment), so ASan sees any over-read */
  size_t alloc = ((size_t)size + 63) / 64 * 64;
  uint8_t *blob = aligned_alloc(64, alloc > 0 ? alloc : 64);
  if (blob == NULL || fread(blob, 1, (size_t)size, f) != (size_t)size) return 1;
  fclose(f);
  pnn_tensor t;
  memset(&t, 0, sizeof(t));
  t.name = "w";
  t.dtype = PNN_DTYPE_F32;
  t.encoding = (uint8_t)encoding;
  t.kind = PNN_TENSOR_CONSTANT;
  t.rank = rank;
  t.numel = 1;
  for (int d = 0; d < rank; ++d) t.dims[d] = dims[d], t.numel *= (size_t)dims[d];
  t.nbytes = t.numel * 4;
  t.data = blob;
  pnn_error err;
  memset(&err, 0, sizeof(err));
  pnn_status s = pnn_sparse_validate(&t, blob, (size_t)size, &err);
  if (s == PNN_OK) s = pnn_sparse_widen(&t, &err);
  if (s != PNN_OK) {
    printf("refused %d %s\n", (int)s, err.message);
    free(blob);
    return 0;
  }
  pnn_sparse_f32 v;
  if (pnn_tensor_sparse_view(&t, &v) != PNN_OK) return 1;
  float *dense = calloc(v.rows * v.cols + 1, sizeof(float));
  const uint32_t *idx = v.indices;
  const float *val = v.values;
  for (size_t g = 0; g < v.n_groups; ++g) {
    for (uint32_t k = 0; k < v.group_nnz[g]; ++k, ++idx, val += v.group) {
      for (size_t r = 0; r < v.group; ++r) {
        size_t row = g * v.group + r;
        if (row < v.rows) dense[row * v.cols + *idx] = val[r];
      }
    }
  }
  FILE *o = fopen(out_path, "wb");
  fwrite(dense, sizeof(float), v.rows * v.cols, o);
  fclose(o);
  printf("ok %zu %zu %zu %zu %d\n", v.rows, v.cols, v.group, v.n_groups, (int)((uintptr_t)v.values % 64));
  free(dense);
  free(t.sparse_index);
  free(blob);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  FILE *m = fopen(argv[1], "r");
  if (m == NULL) return 2;
  char blob[4096], out[4096];
  int encoding, rank;
  while (fscanf(m, "%4095s %4095s %d %d", blob, out, &encoding, &rank) == 4) {
    int64_t dims[8];
    for (int d = 0; d < rank && d < 8; ++d) {
      long long v;
      if (fscanf(m, "%lld", &v) != 1) return 2;
      dims[d] = v;
    }
    if (one(blob, out, encoding, rank, dims) != 0) return 3;
  }
  fclose(m);
  return 0;
}
"""


@pytest.fixture(scope="module")
def view_harness(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = sanitized_build(tmp_path_factory)
    done = subprocess.run(["cmake", "--build", str(build), "-j2", "--target", "pocketnn"], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    src = build / "sparse_view.c"
    src.write_text(VIEW_HARNESS)
    exe = build / "sparse_view"
    cmd = ["cc", "-std=c11", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=all", f"-I{REPO / 'runtime/include'}", f"-I{REPO / 'runtime/src'}",
           f"-I{REPO / 'kernels_c/include'}", str(src), str(build / "libpocketnn.a"), "-lm", "-pthread", "-o", str(exe)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    return exe


def run_view_harness(harness: Path, tmp_path: Path, blobs: list[tuple[bytes, int, tuple[int, ...]]]) -> list[str]:
    """The harness's line for each (blob, encoding, shape); a valid blob i is decoded
    into tmp_path / f"{i}.out"."""
    lines = []
    for i, (blob, encoding, shape) in enumerate(blobs):
        path = tmp_path / f"{i}.blob"
        path.write_bytes(blob)
        lines.append(f"{path} {tmp_path / f'{i}.out'} {encoding} {len(shape)} " + " ".join(map(str, shape)))
    manifest = tmp_path / "manifest.txt"
    manifest.write_text("\n".join(lines) + "\n")
    results = run_sanitized(harness, [str(manifest)]).stdout.splitlines()
    assert len(results) == len(blobs)
    return results


def test_sanitized_view_decodes_every_group_size(view_harness: Path, tmp_path: Path) -> None:
    blobs, cases = [], []
    for group in GROUPS:
        for shape in SHAPES + [(3, 1), (8, 1, 1, 1)]:
            for density in (0.0, 0.02, 0.4, 1.0):
                w = sparse_weight(shape, group, density, seed=len(cases))
                blob = encode_group_sparse(Tensor("w", DType.F32, shape, w, sparse_group=group), group)
                blobs.append((blob, spec.ENCODING_GROUP_SPARSE, shape))
                cases.append((w, group))
    results = run_view_harness(view_harness, tmp_path, blobs)
    for i, ((w, group), line) in enumerate(zip(cases, results)):
        rows, cols = w.shape[0], math.prod(w.shape[1:])
        assert line == f"ok {rows} {cols} {group} {-(-rows // group)} 0", line
        np.testing.assert_array_equal(np.fromfile(tmp_path / f"{i}.out", np.float32).reshape(w.shape), w)


def test_sanitized_view_refuses_hostile_blobs(view_harness: Path, valid: bytes, tmp_path: Path) -> None:
    """The validation on its own, under ASan/UBSan, with each blob in a buffer of exactly
    its size: mutated headers, counts and indices, and every truncation."""
    start, size = blob_range(valid)
    blob = valid[start:start + size]
    variants: list[tuple[str, bytes]] = []
    for label, data in hostile_files(valid):
        if label.startswith(BLOB_LABELS):
            variants.append((label, data[start:start + size]))
    variants += [(f"truncated-{n}", blob[:n]) for n in range(0, size, 4)]
    variants += [("extended", blob + bytes(64))]
    results = run_view_harness(view_harness, tmp_path,
                               [(data, spec.ENCODING_GROUP_SPARSE, (13, 6, 1, 1)) for _, data in variants])
    for (label, _data), line in zip(variants, results):
        if label in MAYBE_VALID:
            continue
        assert line.startswith("refused 3 ") and '"w"' in line, f"{label}: {line}"


def test_sanitized_loader_tool(valid: bytes, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The whole-file loader under ASan/UBSan: valid sparse files, hostile and fuzzed ones."""
    prebuilt = os.environ.get("PNN_SANITIZED_LOADER")
    loader = Path(prebuilt) if prebuilt else sanitized_build(tmp_path_factory) / "pnn_load_files"
    files = [("valid", valid), ("add", write_pnn(add_graph(sparse_weight((6, 5), 2, 0.5, seed=4), 2)))]
    files += list(hostile_files(valid)) + list(fuzz_files(valid, count=100))
    paths = []
    for i, (_label, data) in enumerate(files):
        path = tmp_path / f"{i:05d}.pnn"
        path.write_bytes(data)
        paths.append(str(path))
    lines = run_sanitized(loader, paths).stdout.splitlines()
    assert len(lines) == len(files)
    assert lines[0].endswith("run ok") or "load unsupported" in lines[0] and "sparse_conv" in lines[0], lines[0]
    assert "load unsupported" in lines[1] and "add_sparse" in lines[1], lines[1]
    for (label, data), line in zip(files, lines):
        if not python_accepts(data):
            assert ": load malformed file" in line, f"{label}: {line}"


# ------------------------------------------------------------ s8 values (format 1.3)


def qgemm_graph(w: np.ndarray, group: int) -> Graph:
    """QGemm(x u8, W s8 [M, K] group-sparse): the integer op that reads such weights."""
    m, k = w.shape
    t = {
        "x": Tensor("x", DType.U8, (1, k)),
        "w": Tensor("w", DType.S8, w.shape, w, sparse_group=group),
        "b": Tensor("b", DType.S32, (m,), np.arange(m, dtype=np.int32)),
        "mult": Tensor("mult", DType.S32, (m,), np.full(m, 1 << 30, np.int32)),
        "shift": Tensor("shift", DType.S32, (m,), np.full(m, 8, np.int32)),
        "y": Tensor("y", DType.U8, (1, m)),
    }
    attrs: dict[str, int | float | list[int] | list[float]] = {"x_zero_point": 3, "y_zero_point": 100, "lo": 0, "hi": 255}
    return Graph(t, [Node("QGemm", "sparse_qgemm", ["x", "w", "b", "mult", "shift"], ["y"], attrs)], ["x"], ["y"])


def s8_weight() -> np.ndarray:
    """The base_file pattern in s8: 13 rows in groups of 4 (last partial, group 1 empty)."""
    w = np.zeros((13, 6), np.int8)
    w[0:4, 1] = [1, 0, -127, 0]
    w[2, 4] = 127
    w[8:12, [0, 2, 5]] = -5
    w[12, 3] = 7
    return w


def test_s8_round_trip_layout_and_version() -> None:
    w = s8_weight()
    data = write_pnn(qgemm_graph(w, 4))
    parsed = read_pnn(data)
    assert parsed.header.version_minor == spec.MINOR_SPARSE_S8 == 3
    t = parsed.tensor("w")
    assert t.sparse is not None and t.sparse.values.dtype == np.int8
    np.testing.assert_array_equal(t.data, w)
    start, size = blob_range(data)
    assert struct.unpack_from("<8I", data, start) == (13, 6, 4, 4, 6, int(DType.S8), 0, 0)
    values_offset = spec.sparse_layout(4, 6, 4, 1)[0]
    assert size == values_offset + 6 * 4  # one byte per value
    assert data[start + values_offset: start + values_offset + 8] == bytes([1, 0, 0x81, 0, 0, 0, 127, 0])
    # f32 sparse files keep 1.1; dense integer files keep 1.2.
    assert read_pnn(write_pnn(qgemm_graph(w, 0))).header.version_minor == 2


def s8_hostile_files(valid: bytes) -> Iterator[tuple[str, bytes]]:
    start, size = blob_range(valid)
    values = start + spec.sparse_layout(4, 6, 4, 1)[0]
    last = values + 4 * 5  # the last group's single stored column: row 12, then 3 padding rows
    for r in (1, 2, 3):
        yield f"padding row {r} = 1", patch(valid, last + r, "b", 1)
    yield "padding row = -128", patch(valid, last + 3, "b", -128)
    f = tensor_fields(valid, "w")
    for value in (size - 1, size + 1, size + 3 * 24):
        yield f"size={value}", patch(valid, f["size"], "Q", value)
    yield "dtype=u8", patch(valid, f["dtype"], "B", int(DType.U8))
    yield "dtype=s4", patch(valid, f["dtype"], "B", int(DType.S4))
    yield "dtype=f32", patch(valid, f["dtype"], "B", int(DType.F32))
    yield "value_dtype=f32", patch(valid, start + 20, "I", int(DType.F32))
    yield "version 1.2", patch(valid, 6, "H", 2)
    yield "version 1.1", patch(valid, 6, "H", 1)


def test_s8_hostile_files_are_refused(native: object) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    valid = write_pnn(qgemm_graph(s8_weight(), 4))
    assert_loads(native, valid)
    for label, data in s8_hostile_files(valid):
        with pytest.raises(PnnFormatError):
            read_pnn(data)
            pytest.fail(f"{label} accepted by the reader")
        loaded = c_load(native, data, offset=len(label) % 3)
        assert loaded.status == lib.PNN_ERR_FORMAT, f"{label}: status {loaded.status}: {loaded.message}"
        assert '"w"' in loaded.message, (label, loaded.message)


def test_c_refuses_s8_sparse_weights_of_a_float_conv(native: object) -> None:
    lib = native.lib  # type: ignore[attr-defined]
    g = conv_graph(np.zeros((4, 2, 1, 1), np.float32), 2)
    w = np.array([1, 0, 0, 2, 0, 3, 4, 0], np.int8).reshape(4, 2, 1, 1)
    g.tensors["w"] = Tensor("w", DType.S8, w.shape, w, sparse_group=2)
    loaded = c_load(native, write_pnn(g))
    assert loaded.status != lib.PNN_OK
    assert "sparse_conv" in loaded.message, loaded.message
