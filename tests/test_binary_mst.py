"""pocketnn.binary.mst: the MST plan over a binary layer's output channels.

The tree-delta popcounts are checked against a direct popcount of x xor w written here,
the tree against scipy-independent facts (a spanning forest, parents before children, the
root of least eccentricity, the edge costs), and the savings against hand-counted cases.
The C kernels' tree-delta path is tested against the plain kernel in
tests/c/test_kernels_b1.c; bench/b1/bench_mst.py times it."""
from __future__ import annotations

import numpy as np
import pytest

from pocketnn.binary import mst
from pocketnn.binary.simulate import pack_conv_weights


def direct_popcounts(packed: np.ndarray, x: np.ndarray) -> np.ndarray:
    bits = np.unpackbits((x[:, None, :] ^ packed[None, :, :]).view(np.uint8), axis=-1)
    return bits.reshape(x.shape[0], packed.shape[0], -1).sum(axis=2)


def near_copies(rng: np.random.Generator, channels: int, inputs: int, taps: int, flip: float) -> np.ndarray:
    """OIHW weights where each channel copies a random earlier one with `flip` of its signs
    redrawn (the first is random): edges of every cost."""
    w = rng.choice([-1.0, 1.0], size=(channels, inputs, taps, taps)).astype(np.float32)
    for m in range(1, channels):
        redraw = rng.random(w[m].shape) < flip
        w[m] = np.where(redraw, w[m], w[rng.integers(m)])
    return w


def check_structure(plan: mst.MstPlan, packed: np.ndarray) -> None:
    count = packed.shape[0]
    assert sorted(plan.order.tolist()) == list(range(count))
    position = {int(m): i for i, m in enumerate(plan.order)}
    assert all(plan.parent[plan.order[:plan.roots]] == mst.ROOT)
    for m in range(count):
        p = plan.parent[m]
        if p == mst.ROOT:
            assert position[m] < plan.roots and len(plan.delta_words[m]) == 0
            continue
        assert position[p] < position[m]
        diff = packed[m] ^ packed[p]
        assert plan.delta_words[m].tolist() == np.flatnonzero(diff).tolist()
        assert plan.delta_bits[m] == int(np.unpackbits(diff.view(np.uint8)).sum())


@pytest.mark.parametrize("channels,inputs,taps,flip", [
    (1, 3, 3, 0.0), (2, 64, 1, 0.0), (7, 65, 3, 0.02), (33, 16, 3, 0.3), (64, 130, 1, 0.01), (20, 5, 5, 1.0)])
def test_tree_popcounts_equal_direct(channels: int, inputs: int, taps: int, flip: float) -> None:
    rng = np.random.default_rng(channels * 1000 + inputs)
    packed, _ = pack_conv_weights(near_copies(rng, channels, inputs, taps, flip))
    x = rng.integers(0, 2**64, size=(11, packed.shape[1]), dtype=np.uint64, endpoint=False)
    for max_touched in (None, 1.0, 0.3):
        plan = mst.build_plan(packed, inputs * taps * taps, max_touched)
        check_structure(plan, packed)
        np.testing.assert_array_equal(mst.tree_popcounts(plan, packed, x), direct_popcounts(packed, x))


def test_tree_is_minimal_and_rooted_at_centre() -> None:
    rng = np.random.default_rng(5)
    packed, _ = pack_conv_weights(near_copies(rng, 7, 64, 3, 0.05))
    plan = mst.build_plan(packed, 64 * 9, max_touched=None)
    assert plan.roots == 1
    distance = mst.word_distances(packed)
    edges = [(m, int(p)) for m, p in enumerate(plan.parent) if p != mst.ROOT]
    cost = sum(distance[a, b] for a, b in edges)
    # Brute force over every spanning tree of 7 nodes is too many; Prim's by hand instead.
    inside, best = {0}, 0
    while len(inside) < 7:
        c, node = min((distance[a, b], b) for a in inside for b in range(7) if b not in inside)
        inside.add(node)
        best += c
    assert cost == best
    neighbours: dict[int, set[int]] = {m: set() for m in range(7)}
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)

    def eccentricity(start: int) -> int:
        seen, frontier, depth = {start}, [start], 0
        while frontier:
            frontier = [n for f in frontier for n in neighbours[f] if n not in seen]
            seen.update(frontier)
            depth += bool(frontier)
        return depth

    root = int(plan.order[0])
    assert eccentricity(root) == min(eccentricity(m) for m in range(7))


def test_savings_hand_counted() -> None:
    # 3 channels of 2 words (K = 128): B differs from A in one bit of word 0, C from A in
    # word 1 (two bits) and from B in both words; the tree is B - A - C (or A at the centre).
    a = np.array([0, 0], dtype=np.uint64)
    b = np.array([1, 0], dtype=np.uint64)
    c = np.array([0, 6], dtype=np.uint64)
    packed = np.stack([a, b, c])
    plan = mst.build_plan(packed, 128, max_touched=None)
    assert int(plan.order[0]) == 0 and plan.roots == 1
    assert plan.words_touched == pytest.approx((2 + 1 + 1) / 6)
    assert plan.bitop_saving == pytest.approx(1 - (128 + 1 + 2) / (3 * 128))
    forest = mst.build_plan(packed, 128, max_touched=0.4)  # an edge may touch no word of 2
    assert forest.roots == 3 and forest.words_touched == 1.0 and forest.bitop_saving == 0.0


def test_edge_touching_every_word_becomes_a_root() -> None:
    packed = np.array([[0, 0], [3, 5], [3, 4]], dtype=np.uint64)
    plan = mst.build_plan(packed, 128)
    assert plan.roots == 2  # {0} and {1, 2}: 1-2 differ in one word, 0-x in both
    assert plan.words_touched == pytest.approx((2 + 2 + 1) / 6)


def test_flatten_matches_plan() -> None:
    rng = np.random.default_rng(9)
    packed, _ = pack_conv_weights(near_copies(rng, 12, 70, 3, 0.05))
    plan = mst.build_plan(packed, 70 * 9)
    flat = mst.flatten(plan, packed)
    assert flat.roots == plan.roots and flat.delta_begin[-1] == len(flat.delta_word) == len(flat.delta_mask)
    for m in range(12):
        begin, end = flat.delta_begin[m], flat.delta_begin[m + 1]
        assert flat.delta_word[begin:end].tolist() == plan.delta_words[m].tolist()
        p = flat.parent[m]
        assert (p == m) == (plan.parent[m] == mst.ROOT)
        np.testing.assert_array_equal(flat.delta_mask[begin:end],
                                      packed[m, flat.delta_word[begin:end]] ^ packed[p, flat.delta_word[begin:end]])
