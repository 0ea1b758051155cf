"""pocketnn.obs: the one symmetric positive definite inverse (GPTQ's and the sparsity
refit's) and the upper factor of the inverse, against numpy's general inverse."""

from __future__ import annotations

import numpy as np
import pytest
from pocketnn.obs import inverse_cholesky, spd_inverse

RNG = np.random.default_rng(3)


def _spd(*shape: int) -> np.ndarray:
    n = shape[-1]
    x = RNG.standard_normal((*shape[:-1], n, 2 * n)) * RNG.uniform(0.1, 3.0, (*shape[:-1], n, 1))
    return x @ np.swapaxes(x, -1, -2) + 0.01 * np.eye(n)


@pytest.mark.parametrize("shape", [(1,), (7,), (3, 9), (2, 2, 33)])
def test_spd_inverse_matches_the_general_inverse(shape: tuple[int, ...]) -> None:
    a = _spd(*shape, shape[-1]) if len(shape) == 1 else _spd(*shape)
    inverse = spd_inverse(a)
    assert np.array_equal(inverse, np.swapaxes(inverse, -1, -2))  # exactly symmetric
    reference = np.linalg.inv(a)
    assert np.allclose(inverse, reference, rtol=1e-8, atol=1e-10 * np.max(np.abs(reference)))


def test_inverse_cholesky_is_the_upper_factor_of_the_inverse() -> None:
    a = _spd(4, 20)
    upper = inverse_cholesky(a)
    assert np.all(np.tril(upper, -1) == 0)
    assert np.allclose(np.swapaxes(upper, -1, -2) @ upper, np.linalg.inv(a), rtol=1e-8, atol=1e-10)


def test_spd_inverse_refuses_an_indefinite_matrix() -> None:
    with pytest.raises(np.linalg.LinAlgError):
        spd_inverse(np.diag([1.0, -1.0]))
