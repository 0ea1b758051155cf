"""Encoding 5 (format 1.10): a b1 constant's rows stored as a forest of xor deltas
(docs/FORMAT.md, "Binary tree-delta encoding"; runtime/src/b1_delta.c is the C reader).

A row of `row_words` 64-bit words is either stored whole (a root) or as its parent row
xor a few words: (u32 word index, u64 xor word) pairs. The tree is the minimum spanning
tree over word differences (pocketnn.binary.mst), cut wherever a delta would not be
shorter than the row, and the writer keeps the encoding only when the blob is smaller
than the dense rows.
"""
from __future__ import annotations

import math
import struct

import numpy as np
from numpy.typing import NDArray


# rows, row_words, roots, total_words, 4 reserved (8 x u32)
HEADER = struct.Struct("<8I")
# Per child: its order entry, parent and count (3 x u32); per delta word 4 + 8 bytes;
# per root its order entry and the row.
CHILD_BYTES = 12
DELTA_WORD_BYTES = 12
# The tree costs O(rows^2 * row_words) to build: larger layers stay dense.
MAX_TREE_WORK = 2**26


class DeltaFormatError(ValueError):
    """A malformed encoding-5 blob (the reader re-raises it as PnnFormatError)."""


def row_words(shape: tuple[int, ...]) -> int | None:
    """64-bit words per row of a b1 tensor of `shape` (rank >= 2, rows along dim 0), or
    None when its rows are not whole words (the encoding cannot hold it)."""
    row_bits = math.prod(int(d) for d in shape) // int(shape[0])
    return None if row_bits % 64 else row_bits // 64


def layout(rows: int, roots: int, total_words: int, row_words: int) -> tuple[int, int, int]:
    """(offset of the word indices, of the xor words, of the root rows) and the size."""
    words_at = HEADER.size + 4 * (rows + 2 * (rows - roots))
    xor_at = -(-(words_at + 4 * total_words) // 8) * 8
    roots_at = xor_at + 8 * total_words
    return words_at, xor_at, roots_at + 8 * roots * row_words


def encode(rows: NDArray[np.uint64]) -> bytes | None:
    """The encoding-5 blob of `rows` ([M, kw] uint64), or None when it is not smaller
    than the dense rows (or the tree would be too costly to build)."""
    rows = np.ascontiguousarray(rows, dtype=np.uint64)
    count, kw = rows.shape
    # a delta of n words pays off against a whole row when CHILD_BYTES + 12 n < 8 kw
    most = (8 * kw - CHILD_BYTES - 1) // DELTA_WORD_BYTES
    if count < 2 or most < 0 or count * count * kw > MAX_TREE_WORK:
        return None
    # Imported here: the tree needs scipy, which the runtime-only install (reading
    # files) does not have.
    from pocketnn.binary.mst import build_plan

    plan = build_plan(rows, 64 * kw, max_touched=most / kw)
    roots = plan.roots
    if roots == count:
        return None
    children = plan.order[roots:]
    parents = plan.parent[children]
    counts = np.array([len(plan.delta_words[c]) for c in children], dtype=np.uint32)
    words = np.concatenate([np.zeros(0, np.int64), *(plan.delta_words[c] for c in children)])
    owners = np.repeat(children, counts)
    xors = rows[owners, words] ^ rows[np.repeat(parents, counts), words]
    words_at, xor_at, size = layout(count, roots, len(words), kw)
    if size >= rows.nbytes:
        return None
    blob = bytearray(size)
    HEADER.pack_into(blob, 0, count, kw, roots, len(words), 0, 0, 0, 0)
    tables = np.concatenate([plan.order, parents, counts, words]).astype("<u4")
    blob[HEADER.size:HEADER.size + tables.nbytes] = tables.tobytes()
    blob[xor_at:xor_at + 8 * len(words)] = xors.astype("<u8").tobytes()
    blob[xor_at + 8 * len(words):] = rows[plan.order[:roots]].astype("<u8").tobytes()
    return bytes(blob)


def decode(blob: bytes, rows: int, row_words: int) -> NDArray[np.uint64]:
    """The [rows, row_words] plain rows of an encoding-5 blob, checked as the C loader
    checks it; DeltaFormatError names the first broken rule."""
    if len(blob) < HEADER.size:
        raise DeltaFormatError(f"{len(blob)} data bytes, the header needs {HEADER.size}")
    count, kw, roots, total, *reserved = HEADER.unpack_from(blob)
    if any(reserved):
        raise DeltaFormatError("reserved header words are not 0")
    if (count, kw) != (rows, row_words):
        raise DeltaFormatError(f"header says {count} rows of {kw} words, the shape has {rows} of {row_words}")
    if not 1 <= roots <= rows:
        raise DeltaFormatError(f"{roots} roots of {rows} rows")
    children = rows - roots
    if total > children * row_words:
        raise DeltaFormatError(f"{total} delta words, {children} children of {row_words} words hold at most "
                               f"{children * row_words}")
    words_at, xor_at, size = layout(rows, roots, total, row_words)
    if len(blob) != size:
        raise DeltaFormatError(f"{len(blob)} data bytes, its header implies {size}")
    if any(blob[words_at + 4 * total:xor_at]):
        raise DeltaFormatError("padding bytes are not 0")
    tables = np.frombuffer(blob, "<u4", count=rows + 2 * children + total, offset=HEADER.size).astype(np.int64)
    order, parent = tables[:rows], tables[rows:rows + children]
    counts, words = tables[rows + children:rows + 2 * children], tables[rows + 2 * children:]
    xors = np.frombuffer(blob, "<u8", count=total, offset=xor_at).astype(np.uint64)
    root_rows = np.frombuffer(blob, "<u8", count=roots * row_words, offset=xor_at + 8 * total)
    if np.any(order >= rows) or len(np.unique(order)) != rows:
        raise DeltaFormatError("order is not a permutation of the rows")
    position = np.empty(rows, np.int64)
    position[order] = np.arange(rows)
    if np.any(parent >= rows) or np.any(position[np.minimum(parent, rows - 1)] >= np.arange(roots, rows)):
        raise DeltaFormatError("a child's parent does not come before it")
    if np.any(counts > row_words) or int(counts.sum()) != total:
        raise DeltaFormatError(f"the children's delta words do not add up to {total}")
    ends = np.cumsum(counts)
    starts = ends - counts
    if np.any(words >= row_words) or np.any(xors == 0):
        raise DeltaFormatError("a delta word is out of range or 0")
    rising = np.ones(total, bool)
    rising[1:] = words[1:] > words[:-1]
    rising[starts[counts > 0]] = True
    if not rising.all():
        raise DeltaFormatError("a child's delta words are not strictly ascending")
    out = np.zeros((rows, row_words), np.uint64)
    out[order[:roots]] = root_rows.reshape(roots, row_words)
    for i, child in enumerate(order[roots:]):
        out[child] = out[parent[i]]
        k = words[starts[i]:ends[i]]
        out[child, k] ^= xors[starts[i]:ends[i]]
    return out
