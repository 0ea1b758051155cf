"""Magnitude pruning in groups of G consecutive output channels sharing one input mask.

Per layer, each (group, input channel) unit is scored by the RMS of the group's weights
of that channel (over kernel positions too), and the top ``(1 - s)`` fraction of units
is kept, layer-wide. RMS rather than the plain norm so a partial last group (fewer
rows) is not penalized for its size.
"""

from __future__ import annotations

import math

import numpy as np

from pocketnn.sparsity.recipe import GROUP_SIZES


def n_groups(rows: int, group: int) -> int:
    return -(-rows // group)


def group_scores(scores: np.ndarray, group: int) -> np.ndarray:
    """[rows, channels] unit norms -> [n_groups, channels] RMS over each group's rows."""
    rows, channels = scores.shape
    ng = n_groups(rows, group)
    padded = np.zeros((ng * group, channels))
    padded[:rows] = scores * scores
    counts = np.minimum(group, rows - np.arange(ng) * group)[:, None]
    return np.sqrt(padded.reshape(ng, group, channels).sum(axis=1) / counts)


def keep_count(units: int, sparsity: float) -> int:
    return round((1.0 - sparsity) * units)


def group_mask(scores: np.ndarray, group: int, sparsity: float) -> np.ndarray:
    """[n_groups, channels] bool: units kept at `sparsity`. Ties (e.g. many zero units)
    are broken by position, so the count is exact."""
    gs = group_scores(scores, group)
    keep = keep_count(gs.size, sparsity)
    mask = np.zeros(gs.size, dtype=bool)
    if keep > 0:
        order = np.argsort(-gs.reshape(-1), kind="stable")
        mask[order[:keep]] = True
    return mask.reshape(gs.shape)


def expand_mask(mask: np.ndarray, rows: int, group: int, kernel: int) -> np.ndarray:
    """[n_groups, channels] -> [rows, channels*kernel] element mask."""
    rowwise = np.repeat(mask, group, axis=0)[:rows]
    return np.repeat(rowwise, kernel, axis=1)


def apply_mask(matrix: np.ndarray, mask: np.ndarray, group: int, kernel: int) -> np.ndarray:
    """The matrix with every pruned unit set to exactly +0.0."""
    keep = expand_mask(mask, matrix.shape[0], group, kernel)
    return np.where(keep, matrix, np.float32(0.0)).astype(np.float32)


def retained_energy(scores: np.ndarray, group: int, sparsity: float) -> float:
    """Sum of squared weights kept by group pruning, relative to what pruning each row
    on its own (G = 1) keeps at the same sparsity: 1.0 means the groups cost nothing.
    The measure of how well a channel order suits grouping."""
    sq = scores * scores
    ng = n_groups(scores.shape[0], group)
    kept_g = expand_mask(group_mask(scores, group, sparsity), ng * group, group, 1)[:scores.shape[0]]
    kept_1 = group_mask(scores, 1, sparsity)
    best = float(np.sum(sq[kept_1]))
    return float(np.sum(sq[kept_g])) / best if best > 0 else 1.0


def exact_group(matrix: np.ndarray) -> int:
    """The largest G whose group mask stores no extra zeros: every group's rows are zero
    at exactly the same columns (1 when no G > 1 fits). For pre-pruned weights."""
    nonzero = matrix != 0
    rows = matrix.shape[0]
    best = 1
    for g in GROUP_SIZES[1:]:
        ng = n_groups(rows, g)
        padded = np.zeros((ng * g, matrix.shape[1]), dtype=bool)
        padded[:rows] = nonzero
        blocks = padded.reshape(ng, g, -1)
        union = blocks.any(axis=1)
        # Rows of a partial last group beyond `rows` do not need values (they are padding).
        real = np.minimum(g, rows - np.arange(ng) * g)
        stored = int(np.sum(union.sum(axis=1) * real))
        if stored == int(nonzero.sum()):
            best = g
        else:
            break
    return best


def sparsity_of(matrix: np.ndarray) -> float:
    return float(np.count_nonzero(matrix == 0)) / max(1, math.prod(matrix.shape))
