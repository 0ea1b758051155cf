"""Least squares on a kept subset S of a layer's columns, for many subsets of one Hessian.

The refit and the OBS saliencies (reconstruct.py) need, per group of output rows with
kept columns S, x = b A_SS^-1 and the kernel-sized diagonal blocks of A_SS^-1, with A the
dampened Hessian. Inverting every A_SS outright (one per group, per gradual step, per
allocation candidate) made wide layers take tens of minutes. Here, per subset, the
cheaper of two exact ways:

- direct: the Cholesky factor L of A_SS (s^3/3 flops) and, for the blocks, its
  inverse (s^3/3 more);
- downdate: from the full inverse A^-1 (computed once per Hessian, shared by every
  group and call) by the Schur complement: with P the pruned columns,
  A_SS^-1 = [A^-1]_SS - [A^-1]_SP ([A^-1]_PP)^-1 [A^-1]_PS, costing p^3/3 + p^2 s
  (cheap while few columns are pruned, as in the first gradual steps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import cho_factor, cho_solve, cholesky, lapack, solve_triangular

from pocketnn.obs import spd_inverse, upper_cholesky


def _lower_inverse(a: np.ndarray) -> np.ndarray:
    """L^-1 for A = L L^T (A symmetric positive definite): A^-1 = L^-T L^-1."""
    lower = cholesky(a, lower=True, check_finite=False)
    inverse, info = lapack.dtrtri(lower, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"dtrtri failed ({info})")
    return np.asarray(inverse)


def _blocks(factor: np.ndarray, kernel: int, unit_cols: int) -> np.ndarray:
    """Diagonal [kernel x kernel] blocks of factor^T factor over its first unit_cols columns."""
    split = factor[:, :unit_cols].reshape(factor.shape[0], -1, kernel).transpose(1, 2, 0)  # [units, k, rows]
    return split @ split.transpose(0, 2, 1)


@dataclass
class SubsetSolver:
    """Solves with principal submatrices of one symmetric positive definite matrix."""

    a: np.ndarray
    _inverse: np.ndarray | None = field(default=None, repr=False)
    _inverse_upper: np.ndarray | None = field(default=None, repr=False)

    def inverse(self) -> np.ndarray:
        if self._inverse is None:
            self._inverse = spd_inverse(self.a)
        return self._inverse

    def inverse_upper(self) -> np.ndarray:
        """Upper U with A^-1 = U^T U (SparseGPT's sweep; shared by its candidates)."""
        if self._inverse_upper is None:
            self._inverse_upper = upper_cholesky(self.inverse())
        return self._inverse_upper

    def _use_downdate(self, kept: int) -> bool:
        pruned = len(self.a) - kept
        return pruned ** 3 / 3 + pruned * pruned * kept < 2 * kept ** 3 / 3

    def solve(self, s: np.ndarray, rhs: np.ndarray, kernel: int = 1, unit_cols: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
        """(rhs [m, |s|] @ A_SS^-1, the [kernel x kernel] diagonal blocks of A_SS^-1 over
        its first unit_cols positions [unit_cols / kernel, k, k]) for the sorted column
        indices s."""
        n = len(self.a)
        if len(s) == n:
            inverse = self.inverse()
            return rhs @ inverse, _diagonal_blocks(inverse, s[:unit_cols], kernel)
        if not self._use_downdate(len(s)) and unit_cols == 0:  # a solve needs no inverse
            factor = cho_factor(self.a[np.ix_(s, s)], lower=True, check_finite=False)
            return cho_solve(factor, rhs.T, check_finite=False).T, np.zeros((0, kernel, kernel))
        if not self._use_downdate(len(s)):
            lower_inverse = _lower_inverse(self.a[np.ix_(s, s)])
            return (rhs @ lower_inverse.T) @ lower_inverse, _blocks(lower_inverse, kernel, unit_cols)
        inverse = self.inverse()
        p = np.setdiff1d(np.arange(n), s, assume_unique=True)
        lower = cholesky(inverse[np.ix_(p, p)], lower=True, check_finite=False)
        correction = solve_triangular(lower, inverse[np.ix_(p, s)], lower=True, check_finite=False)  # [p, s]
        scattered = np.zeros((rhs.shape[0], n))
        scattered[:, s] = rhs
        x = (scattered @ inverse)[:, s] - (rhs @ correction.T) @ correction
        return x, _diagonal_blocks(inverse, s[:unit_cols], kernel) - _blocks(correction, kernel, unit_cols)


def _diagonal_blocks(matrix: np.ndarray, columns: np.ndarray, kernel: int) -> np.ndarray:
    """matrix's [kernel x kernel] diagonal blocks at `columns`, taken kernel at a time."""
    index = columns.reshape(-1, kernel)
    return matrix[index[:, :, None], index[:, None, :]]
