"""sparsity.subset_solve: solves and kernel-sized diagonal blocks of A_SS^-1 against numpy's
explicit inverse of the submatrix, on both paths (direct Cholesky, Schur downdate from the
full inverse), every subset size from one column to all."""

from __future__ import annotations

import numpy as np
import pytest
from pocketnn.sparsity.subset_solve import SubsetSolver

RNG = np.random.default_rng(5)


def _spd(n: int) -> np.ndarray:
    x = RNG.standard_normal((n, 2 * n)) * RNG.uniform(0.1, 3.0, (n, 1))
    return x @ x.T + 0.01 * np.eye(n)


@pytest.mark.parametrize(("channels", "kernel", "kept"), [(40, 1, 38), (40, 1, 5), (40, 1, 40), (12, 9, 11),
                                                          (12, 9, 2), (7, 4, 1), (1, 1, 1)])
@pytest.mark.parametrize("extra", [0, 1])
def test_subset_solve_matches_the_explicit_inverse(channels: int, kernel: int, kept: int, extra: int) -> None:
    """extra: a trailing column (the bias) always kept and outside the kernel blocks."""
    n = channels * kernel + extra
    a = _spd(n)
    solver = SubsetSolver(a)
    units = np.sort(RNG.choice(channels, kept, replace=False))
    s = (units[:, None] * kernel + np.arange(kernel)).reshape(-1)
    s = np.append(s, np.arange(channels * kernel, n))
    rhs = RNG.standard_normal((3, len(s)))
    x, blocks = solver.solve(s, rhs, kernel, kept * kernel)
    reference = np.linalg.inv(a[np.ix_(s, s)])
    scale = np.max(np.abs(reference))
    tolerance = 1e-9 * scale * np.max(np.abs(rhs))
    assert np.allclose(x, rhs @ reference, rtol=1e-7, atol=tolerance)
    assert np.allclose(solver.solve(s, rhs)[0], rhs @ reference, rtol=1e-7, atol=tolerance)  # no blocks asked
    for i in range(kept):
        block = reference[i * kernel:(i + 1) * kernel, i * kernel:(i + 1) * kernel]
        assert np.allclose(blocks[i], block, rtol=1e-7, atol=1e-9 * scale)


def test_both_paths_are_taken() -> None:
    """Few pruned columns go through the downdate, few kept ones through the direct factor."""
    solver = SubsetSolver(_spd(50))
    assert solver._use_downdate(45)
    assert not solver._use_downdate(10)
