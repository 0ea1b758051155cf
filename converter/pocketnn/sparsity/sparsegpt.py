"""SparseGPT pruning (Frantar & Alistarh, 2023) in G-channel group masks.

A layer's reconstruction objective ||W Xp - W0 Xd||^2 + lambda ||W||^2 (reconstruct.py)
equals (W - W*) Hd (W - W*)^T plus a constant, with Hd = Xp Xp^T + lambda I and W* its
dense least-squares optimum. So pruning W* against Hd is an Optimal Brain Surgeon
problem: the OBS sweep of pocketnn.obs goes over the columns (channel-major, kh*kw per
input channel; the bias column last, never pruned), and at the start of each block of
about BLOCK columns chooses the block's pruned units. A unit is G output rows x one
input channel (all its kernel columns): removing it from row r costs
||U_SS^-T w_rS||^2 with S the unit's columns and U_SS their diagonal block of the
Cholesky factor (w_j^2 / U_jj^2 for a single column, SparseGPT's score), summed over
the group's rows. The remaining weights then absorb each pruned column's error.

How many units each block prunes: the blocks' shares of the layer-wide lowest OBS
saliencies of the dense weights (w_S^T [H^-1]_SS^-1 w_S), so channels that matter
little lose more than a uniform share would take from them.
"""

from __future__ import annotations

import numpy as np

from pocketnn.obs import sweep
from pocketnn.sparsity.layers import Layer
from pocketnn.sparsity.prune import keep_count, n_groups
from pocketnn.sparsity.subset_solve import SubsetSolver

BLOCK = 128


def _group_sum(per_row: np.ndarray, group: int) -> np.ndarray:
    """[rows, channels] -> [n_groups, channels], summed over each group's rows."""
    rows, channels = per_row.shape
    padded = np.zeros((n_groups(rows, group) * group, channels))
    padded[:rows] = per_row
    return padded.reshape(-1, group, channels).sum(axis=1)


def unit_costs(weights: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """[rows, channels]: w_rS^T B_c^-1 w_rS for weights [rows, channels, k] and the
    per-channel symmetric positive blocks [channels, k, k]."""
    if weights.shape[2] == 1:  # 1x1 blocks: no batched solve of scalars
        return weights[:, :, 0] ** 2 / blocks[:, 0, 0]
    solved = np.linalg.solve(blocks, weights.transpose(1, 2, 0))  # [channels, k, rows]
    return np.einsum("rck,ckr->rc", weights, solved)


def _block_quotas(weights: np.ndarray, inverse: np.ndarray, layer: Layer, group: int, sparsity: float,
                  channels_per_block: int) -> list[int]:
    """Pruned units per block: where the layer-wide lowest OBS saliencies fall."""
    k, channels = layer.kernel, layer.channels
    index = np.arange(channels * k).reshape(channels, k)
    blocks = inverse[index[:, :, None], index[:, None, :]]
    saliency = _group_sum(unit_costs(weights[:, :channels * k].reshape(-1, channels, k), blocks), group)
    units = saliency.size
    pruned = np.zeros(units, dtype=bool)
    pruned[np.argsort(saliency.reshape(-1), kind="stable")[:units - keep_count(units, sparsity)]] = True
    per_channel = pruned.reshape(saliency.shape).sum(axis=0)
    return [int(per_channel[c:c + channels_per_block].sum()) for c in range(0, channels, channels_per_block)]


def sparsegpt_prune(target: np.ndarray, hessian: SubsetSolver, layer: Layer, group: int,
                    sparsity: float) -> tuple[np.ndarray, np.ndarray]:
    """(kept units [n_groups, channels], pruned weights like `target`) for the layer's
    dense optimum `target` [rows, cols (+1 bias column)] and the dampened Hessian of the
    same width (module doc; its solver caches the inverse and the inverse's Cholesky
    factor for every sparsity tried). Exactly keep_count(units, sparsity) units are kept."""
    k, channels, rows = layer.kernel, layer.channels, layer.rows
    cols = channels * k
    channels_per_block = max(1, BLOCK // k)
    quotas = _block_quotas(target, hessian.inverse(), layer, group, sparsity, channels_per_block)
    upper = hessian.inverse_upper()[None]
    weights = np.array(target, dtype=np.float64)[None]
    keep = np.ones(target.shape, dtype=bool)
    mask = np.ones((n_groups(rows, group), channels), dtype=bool)

    def choose_block(w: np.ndarray, start: int, end: int) -> None:
        first, last = start // k, min(end, cols) // k
        if first >= last:
            return  # the bias column alone
        index = np.arange(first * k, last * k).reshape(last - first, k)
        diagonal_blocks = upper[0][index[:, :, None], index[:, None, :]]  # upper triangular [n, k, k]
        # ||U_SS^-T w||^2 = w^T (U_SS^T U_SS)^-1 w
        costs = unit_costs(w[0][:, first * k:last * k].reshape(rows, -1, k),
                            diagonal_blocks.transpose(0, 2, 1) @ diagonal_blocks)
        scores = _group_sum(costs, group)
        drop = np.argsort(scores.reshape(-1), kind="stable")[:quotas[first // channels_per_block]]
        block_mask = np.ones(scores.size, dtype=bool)
        block_mask[drop] = False
        mask[:, first:last] = block_mask.reshape(scores.shape)
        rowwise = np.repeat(mask[:, first:last], group, axis=0)[:rows]
        keep[:, first * k:last * k] = np.repeat(rowwise, k, axis=1)

    sweep(weights, upper, lambda i, column: np.where(keep[:, i], column, 0.0), channels_per_block * k,
          choose_block)
    return mask, weights[0]
