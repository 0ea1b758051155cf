"""GPTQ weight rounding (Frantar et al., 2022) and bias correction.

Round-to-nearest (RTN) rounds every weight on its own. GPTQ rounds the columns of a
layer's weight matrix W [M, K] one at a time and spreads each column's rounding error
over the columns not rounded yet, weighted by the inverse Hessian of the layer's
reconstruction error ||W X - Q X||^2 on its calibration inputs X [K, samples]:
H = 2 X X^T / samples. With U the upper Cholesky factor of H^-1 (columns in
descending order of diag H, "act order"), for column i:

    q_i = clip(round(w_i / s), -qmax, qmax),  e = (w_i - s q_i) / U_ii,
    w_j -= e U_ij  for the columns j after i,

lazily: within a block of BLOCK columns at once, and to the columns after the block
in one matrix product. The scales s (per output channel) are RTN's (arith.quantize_
weights), so the integer contract, and bit-exactness with the C kernels, is unchanged;
only which integers are stored differs. Dampening adds DAMP x mean(diag H) to the
diagonal; an input column that never varies from 0 (dead) has its weights rounded as
they are. Weights that are exactly zero (pruned) stay zero; their drift is
compensated like a rounding error (as in SparseGPT).

Bias correction: the rounding error still shifts the mean of each output by
(W - s Q) E[x]; it is added back to the bias.
"""

from __future__ import annotations

import numpy as np

BLOCK = 128
DAMP = 0.01


def _upper_inverse_cholesky(hessian: np.ndarray) -> np.ndarray:
    """U with U^T U = H^-1 (H dampened and positive definite)."""
    inverse = np.linalg.inv(hessian)
    inverse = (inverse + inverse.T) / 2
    return np.linalg.cholesky(inverse).T


def gptq_round(weights: np.ndarray, hessian: np.ndarray, scales: np.ndarray, qmax: int,
               block: int = BLOCK, damp: float = DAMP) -> np.ndarray:
    """Integer weights [M, K] (int8 values in [-qmax, qmax]) for float weights [M, K]
    with per-row `scales` [M], rounded against `hessian` [K, K] (module doc)."""
    w = np.array(weights, dtype=np.float64)
    h = np.array(hessian, dtype=np.float64)
    rows, cols = w.shape
    scale = np.asarray(scales, dtype=np.float64).reshape(rows, 1)
    pruned = w == 0
    dead = np.diag(h) <= 0
    h[dead, dead] = 1.0
    diagonal = np.diag(h)
    h[np.diag_indices(cols)] += damp * float(np.mean(diagonal))
    order = np.argsort(-diagonal, kind="stable")
    w, h, pruned = w[:, order], h[np.ix_(order, order)], pruned[:, order]
    u = _upper_inverse_cholesky(h)
    q = np.zeros((rows, cols), dtype=np.float64)
    for start in range(0, cols, block):
        end = min(start + block, cols)
        errors = np.zeros((rows, end - start))
        for i in range(start, end):
            column = w[:, i]
            rounded = np.where(pruned[:, i], 0.0, np.clip(np.rint(column / scale[:, 0]), -qmax, qmax))
            q[:, i] = rounded
            error = (column - rounded * scale[:, 0]) / u[i, i]
            w[:, i + 1:end] -= np.outer(error, u[i, i + 1:end])
            errors[:, i - start] = error
        w[:, end:] -= errors @ u[start:end, end:]
    result = np.empty_like(q)
    result[:, order] = q
    return result.astype(np.int8)


def output_mean_shift(weights: np.ndarray, integers: np.ndarray, scales: np.ndarray,
                      input_mean: np.ndarray) -> np.ndarray:
    """(W - s Q) E[x] per output row: what rounding takes from each output's mean."""
    restored = integers.astype(np.float64) * np.asarray(scales, dtype=np.float64).reshape(-1, 1)
    return (np.asarray(weights, dtype=np.float64) - restored) @ np.asarray(input_mean, dtype=np.float64)
