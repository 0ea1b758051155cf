"""Optimal Brain Surgeon column sweeps, shared by GPTQ rounding (quantization.gptq) and
SparseGPT pruning (sparsity.sparsegpt).

Both change a layer's weights W [R, K] one column at a time and keep its output on the
calibration inputs X [K, samples]: with H = X X^T (dampened) and U the upper Cholesky
factor of H^-1 (H^-1 = U^T U), replacing column i by q_i costs ||w_i - q_i||^2 / U_ii^2
and is best compensated by

    e = (w_i - q_i) / U_ii,   w_j -= e U_ij  for the columns j after i,

lazily: within a block of columns at once, and to the columns after the block in one
matrix product. GPTQ's q_i is the rounded column; SparseGPT's the column with its
pruned weights set to zero, the mask chosen at the start of each block.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import lapack

# Replaces column `i` ([G, R], the current weights) by the values it keeps.
ColumnFix = Callable[[int, np.ndarray], np.ndarray]
# Called with (weights [G, R, K], start, end) before the columns [start, end) are swept.
BlockStart = Callable[[np.ndarray, int, int], None]


def spd_inverse(matrices: np.ndarray) -> np.ndarray:
    """The inverse of each symmetric positive definite matrix in [..., K, K], exactly
    symmetric: LAPACK's Cholesky and its inverse (potrf + potri), half the flops of a
    general inverse. The one inverse of GPTQ's and the sparsity refit's Hessians."""
    a = np.asarray(matrices, dtype=np.float64)
    out = np.empty_like(a)
    for index in np.ndindex(a.shape[:-2]):
        factor, info = lapack.dpotrf(a[index], lower=1, clean=1)
        if info == 0:
            factor, info = lapack.dpotri(factor, lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dpotrf/dpotri failed ({info}): not positive definite")
        lower = np.tril(factor)
        out[index] = lower + np.tril(lower, -1).T
    return out


def inverse_cholesky(hessians: np.ndarray) -> np.ndarray:
    """Upper U [..., K, K] with hessians^-1 = U^T U (hessians already dampened)."""
    return upper_cholesky(spd_inverse(hessians))


def upper_cholesky(inverse: np.ndarray) -> np.ndarray:
    """Upper U [..., K, K] with inverse = U^T U (symmetrized first: rounding)."""
    return np.linalg.cholesky((inverse + np.swapaxes(inverse, -1, -2)) / 2).swapaxes(-1, -2)


def sweep(weights: np.ndarray, upper: np.ndarray, fix: ColumnFix, block: int,
          block_start: BlockStart | None = None) -> None:
    """The OBS sweep (module doc) over weights [G, R, K] in place, with upper [G, K, K]
    from inverse_cholesky; afterwards each column holds what `fix` returned for it."""
    cols = weights.shape[2]
    for start in range(0, cols, block):
        end = min(start + block, cols)
        if block_start is not None:
            block_start(weights, start, end)
        errors = np.zeros(weights.shape[:2] + (end - start,))
        for i in range(start, end):
            column = weights[:, :, i].copy()
            kept = fix(i, column)
            error = (column - kept) / upper[:, i, i][:, None]
            weights[:, :, i] = kept
            weights[:, :, i + 1:end] -= error[:, :, None] * upper[:, i, None, i + 1:end]
            errors[:, :, i - start] = error
        weights[:, :, end:] -= errors @ upper[:, start:end, end:]
