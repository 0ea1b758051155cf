"""GPTQ weight rounding (Frantar et al., 2022) and bias correction.

Round-to-nearest (RTN) rounds every weight on its own. GPTQ rounds the columns of a
layer's weight matrix W [M, K] one at a time and spreads each column's rounding error
over the columns not rounded yet, weighted by the inverse Hessian of the layer's
reconstruction error ||W X - Q X||^2 on its calibration inputs X [K, samples]:
H = 2 X X^T / samples, in the OBS sweep of pocketnn.obs (columns in descending order
of diag H, "act order"; blocks of BLOCK columns) with
q_i = s clip(round(w_i / s), -qmax, qmax). The scales s (per output channel) are
RTN's (arith.quantize_weights), so the integer contract, and bit-exactness with the C kernels, is unchanged;
only which integers are stored differs. Dampening adds DAMP x mean(diag H) to the
diagonal; an input column that never varies from 0 (dead) has its weights rounded as
they are. Weights that are exactly zero (pruned) stay zero; their drift is
compensated like a rounding error (as in SparseGPT).

Bias correction: the rounding error still shifts the mean of each output by
(W - s Q) E[x]; it is added back to the bias.
"""

from __future__ import annotations

import numpy as np

from pocketnn.obs import inverse_cholesky, sweep

BLOCK = 128
DAMP = 0.01


def gptq_round(weights: np.ndarray, hessian: np.ndarray, scales: np.ndarray, qmax: int,
               block: int = BLOCK, damp: float = DAMP) -> np.ndarray:
    """Integer weights [M, K] (int8 values in [-qmax, qmax]) for float weights [M, K]
    with per-row `scales` [M], rounded against `hessian` [K, K] (module doc)."""
    return gptq_round_groups(weights[None], hessian[None], np.asarray(scales)[None], qmax, block, damp)[0]


def gptq_round_groups(weights: np.ndarray, hessians: np.ndarray, scales: np.ndarray, qmax: int,
                      block: int = BLOCK, damp: float = DAMP) -> np.ndarray:
    """gptq_round of G independent groups at once: weights [G, R, K], hessians
    [G, K, K], scales [G, R] (a grouped conv's groups see different inputs; a depthwise
    conv has one row per group, rounded together rather than one by one)."""
    w = np.array(weights, dtype=np.float64)
    h = np.array(hessians, dtype=np.float64)
    scale = np.asarray(scales, dtype=np.float64)
    cols = w.shape[2]
    diagonal_index = np.arange(cols)
    diagonal = h[:, diagonal_index, diagonal_index]
    diagonal = np.where(diagonal > 0, diagonal, 1.0)  # a dead input: its weights round alone
    h[:, diagonal_index, diagonal_index] = diagonal + damp * diagonal.mean(axis=1, keepdims=True)
    order = np.argsort(-diagonal, axis=1, kind="stable")
    w = np.take_along_axis(w, order[:, None, :], axis=2)
    pruned = w == 0
    h = np.take_along_axis(np.take_along_axis(h, order[:, :, None], axis=1), order[:, None, :], axis=2)
    q = np.zeros(w.shape, dtype=np.float64)

    def round_column(i: int, column: np.ndarray) -> np.ndarray:
        q[:, :, i] = np.where(pruned[:, :, i], 0.0, np.clip(np.rint(column / scale), -qmax, qmax))
        return q[:, :, i] * scale

    sweep(w, inverse_cholesky(h), round_column, block)
    result = np.empty_like(q)
    np.put_along_axis(result, np.broadcast_to(order[:, None, :], q.shape), q, axis=2)
    return result.astype(np.int8)


def output_mean_shift(weights: np.ndarray, integers: np.ndarray, scales: np.ndarray,
                      input_mean: np.ndarray) -> np.ndarray:
    """(W - s Q) E[x] per output row: what rounding takes from each output's mean
    (weights, integers [..., R, K], scales [..., R], input_mean [..., K])."""
    restored = integers.astype(np.float64) * np.asarray(scales, dtype=np.float64)[..., None]
    error = np.asarray(weights, dtype=np.float64) - restored
    return np.einsum("...rk,...k->...r", error, np.asarray(input_mean, dtype=np.float64))
