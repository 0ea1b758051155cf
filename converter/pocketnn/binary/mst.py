"""Minimum-spanning-tree output-channel reordering of a binary layer (MST-compression,
Vo et al., ICCV 2023), measured in the kernels' unit: 64-bit words.

The packed weight rows of a layer (one row of `kw` words per output channel, the layout of
pnn_b1_pack_conv_weights) form a complete graph whose edge cost is the number of words in
which two rows differ. A child channel's popcount m_c = popcount(x xor w_c) follows from
its parent's over only those words (the tree-delta kernel, kernels_c/b1-bgemm/):

    m_c = m_p + d - 2 * popcount((x xor w_p) and D),  D = w_p xor w_c, d = popcount(D),

because a bit set in D flips x xor w: it adds 1 where (x xor w_p) was 0 and removes 1 where
it was 1. The tree is rooted at its centre (least depth); its breadth-first order (parents
before children) is the order the kernel computes channels in. An edge that differs in
more than `max_touched` of the words saves nothing on SIMD (the delta costs at least what
the plain row does), so such a child becomes a root of its own: the plan is a forest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree, shortest_path

ROOT = -1  # parent of a root


@dataclass(frozen=True)
class MstPlan:
    """The tree-delta plan of one layer (channels index the layer's output channels)."""
    order: NDArray[np.int64]          # every channel once, roots first, parents before children
    parent: NDArray[np.int64]         # per channel, ROOT for a root
    delta_words: list[NDArray[np.int64]]  # per channel: the word indices where it differs from its parent
    delta_bits: NDArray[np.int64]     # per channel: d = popcount(w_parent xor w_child); 0 for a root
    words: int                        # kw, words per row
    bits: int                         # real bits per row (K)

    @property
    def roots(self) -> int:
        return int(np.count_nonzero(self.parent == ROOT))

    @property
    def words_touched(self) -> float:
        """Words the tree-delta kernel reads per pixel over the plain kernel's M * kw."""
        touched = sum(self.words if p == ROOT else len(d) for p, d in zip(self.parent, self.delta_words))
        return touched / (len(self.parent) * self.words)

    @property
    def bitop_saving(self) -> float:
        """The paper's measure: 1 - (K per root + d per edge) / (M * K), bit operations."""
        cost = int(np.sum(np.where(self.parent == ROOT, self.bits, self.delta_bits)))
        return 1.0 - cost / (len(self.parent) * self.bits)


def popcount64(words: NDArray[np.uint64]) -> NDArray[np.int64]:
    as_bytes = np.ascontiguousarray(words).view(np.uint8)
    counts = np.unpackbits(as_bytes).reshape(words.shape + (64,)).sum(axis=-1)
    return counts.astype(np.int64)


def word_distances(packed: NDArray[np.uint64]) -> NDArray[np.int64]:
    """[M, M] number of 64-bit words in which rows i and j of `packed` ([M, kw]) differ."""
    rows = np.asarray(packed, dtype=np.uint64)
    return (rows[:, None, :] != rows[None, :, :]).sum(axis=2, dtype=np.int64)


def _centre(tree: csr_matrix) -> int:
    """The node of least eccentricity (hop count) of a connected tree."""
    hops = shortest_path(tree, directed=False, unweighted=True)
    return int(np.argmin(hops.max(axis=1)))


def build_plan(packed: NDArray[np.uint64], bits: int, max_touched: float | None = 1.0) -> MstPlan:
    """The MST plan of a layer's packed rows ([M, kw] uint64, K = `bits` real bits a row).

    Children whose edge touches more than `max_touched * kw` words (or all of them) become
    roots: they run as plain rows. `max_touched=None` keeps the whole tree (the paper's)."""
    rows = np.asarray(packed, dtype=np.uint64)
    count, kw = rows.shape
    distance = word_distances(rows)
    # +1 keeps identical rows connected (csgraph treats 0 as no edge); every spanning tree
    # has count - 1 edges, so the shift does not change which tree is minimal.
    tree = minimum_spanning_tree(csr_matrix(distance + 1 - np.eye(count, dtype=np.int64)))
    tree = (tree + tree.T).tocsr()
    order, predecessors = breadth_first_order(tree, _centre(tree) if count > 1 else 0, directed=False)
    parent = np.where(predecessors < 0, ROOT, predecessors).astype(np.int64)
    limit = np.inf if max_touched is None else min(max_touched * kw, kw - 1)
    for child in range(count):
        if parent[child] != ROOT and distance[child, parent[child]] > limit:
            parent[child] = ROOT
    # Roots first (each still before its own subtree), then the rest in breadth-first order.
    is_root = parent[order] == ROOT
    order = np.concatenate([order[is_root], order[~is_root]]).astype(np.int64)
    delta_words = []
    delta_bits = np.zeros(count, dtype=np.int64)
    for child in range(count):
        if parent[child] == ROOT:
            delta_words.append(np.zeros(0, dtype=np.int64))
            continue
        diff = rows[child] ^ rows[parent[child]]
        delta_words.append(np.flatnonzero(diff).astype(np.int64))
        delta_bits[child] = int(popcount64(diff).sum())
    return MstPlan(order, parent, delta_words, delta_bits, kw, bits)


def tree_popcounts(plan: MstPlan, packed: NDArray[np.uint64], x: NDArray[np.uint64]) -> NDArray[np.int64]:
    """[N, M] popcount(x_n xor w_m) computed the tree-delta way (x: [N, kw] packed pixels or
    im2col rows): a model of the C kernel, for tests."""
    rows = np.asarray(packed, dtype=np.uint64)
    x = np.asarray(x, dtype=np.uint64)
    out = np.zeros((x.shape[0], rows.shape[0]), dtype=np.int64)
    for m in plan.order:
        p = plan.parent[m]
        if p == ROOT:
            out[:, m] = popcount64(x ^ rows[m]).sum(axis=1)
            continue
        k = plan.delta_words[m]
        mask = rows[m, k] ^ rows[p, k]
        flipped = popcount64((x[:, k] ^ rows[p, k]) & mask).sum(axis=1)
        out[:, m] = out[:, p] + plan.delta_bits[m] - 2 * flipped
    return out


@dataclass(frozen=True)
class FlatPlan:
    """pnn_b1_mst_plan's arrays (pnn_kernels_b1.h)."""
    roots: int
    order: NDArray[np.uint32]
    parent: NDArray[np.uint32]        # a root is its own parent
    delta_bits: NDArray[np.int32]
    delta_begin: NDArray[np.uint32]   # M + 1 offsets
    delta_word: NDArray[np.uint32]
    delta_mask: NDArray[np.uint64]


def flatten(plan: MstPlan, packed: NDArray[np.uint64]) -> FlatPlan:
    rows = np.asarray(packed, dtype=np.uint64)
    channels = np.arange(len(plan.parent))
    parent = np.where(plan.parent == ROOT, channels, plan.parent)
    begin = np.zeros(len(parent) + 1, dtype=np.uint32)
    begin[1:] = np.cumsum([len(d) for d in plan.delta_words])
    words = np.concatenate([np.zeros(0, dtype=np.int64), *plan.delta_words])
    owner = np.repeat(channels, [len(d) for d in plan.delta_words])
    mask = rows[owner, words] ^ rows[parent[owner], words]
    return FlatPlan(plan.roots, plan.order.astype(np.uint32), parent.astype(np.uint32),
                    plan.delta_bits.astype(np.int32), begin, words.astype(np.uint32), mask)
