"""Conv and Gemm with group-sparse weights against onnxruntime.

The weights are pre-pruned (>= 50% zeros), so the converter stores them sparse on
its own; the runtime must then take its SpMM paths and still match onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest

import pocketnn
from support import random_feeds, run_onnxruntime, single_node_model


def pruned(shape: tuple[int, ...], density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = rng.uniform(-1.0, 1.0, shape).astype(np.float32)
    # Whole input columns (over kernel taps) are zero, as group pruning leaves them.
    keep = rng.random((shape[0], shape[1]) + (1,) * (len(shape) - 2)) < density
    return np.where(keep, w, 0.0).astype(np.float32)


CASES = {
    "conv1x1": lambda: single_node_model("Conv", [("x", (1, 32, 9, 7)), ("w", pruned((24, 32, 1, 1), 0.2, 1)),
                                                  ("b", np.ones(24, np.float32))]),
    "conv1x1_batch2_large": lambda: single_node_model("Conv", [("x", (2, 64, 20, 19)),
                                                               ("w", pruned((48, 64, 1, 1), 0.1, 2))]),
    "conv3x3_stride2": lambda: single_node_model("Conv", [("x", (1, 16, 11, 10)), ("w", pruned((20, 16, 3, 3), 0.3, 3))],
                                                 strides=[2, 2], pads=[1, 1, 1, 1]),
    "gemm_fc_batch1": lambda: single_node_model("Gemm", [("a", (1, 64)), ("b", pruned((40, 64), 0.2, 4)),
                                                         ("c", np.arange(40, dtype=np.float32))], transB=1),
    "gemm_fc_batch3": lambda: single_node_model("Gemm", [("a", (3, 64)), ("b", pruned((40, 64), 0.2, 5))], transB=1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sparse_weights_match_onnxruntime(case: str) -> None:
    model = CASES[case]()
    feeds = random_feeds(model)
    runtime = pocketnn.Model(pocketnn.convert(model, input_shapes={k: v.shape for k, v in feeds.items()}))
    assert any(n.kernel.startswith("sparse") for n in runtime.nodes), [n.kernel for n in runtime.nodes]
    expected = run_onnxruntime(model, feeds)[0]
    actual = runtime.run(feeds)[runtime.outputs[0].name]
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


def test_sparse_results_do_not_depend_on_threads() -> None:
    model = CASES["conv1x1_batch2_large"]()
    feeds = random_feeds(model)
    packed = pocketnn.convert(model, input_shapes={k: v.shape for k, v in feeds.items()})
    one = pocketnn.Model(packed).run(feeds)
    three = pocketnn.Model(packed, threads=3).run(feeds)
    for name in one:
        assert np.array_equal(one[name], three[name])
