"""GPTQ weight rounding and bias correction (quantization.gptq, quantization.rounding):
the algorithm against least squares and brute force on linear layers, and on the real
digits (tests/fixtures) against round-to-nearest, bit-exact in the runtime."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pocketnn
import pytest
from pocketnn.format.writer import write_pnn
from pocketnn.quantization.activations import QuantizationError
from pocketnn.quantization.gptq import gptq_round, gptq_round_groups, output_mean_shift
from pocketnn.quantization.quantize_graph import calibrate, quantize_graph, quantize_static, weight_bits
from pocketnn.quantization.rounding import InputStatistics, WeightRounding, resolve_rounding
from pocketnn.quantization.simulate_graph import simulate_graph
from support import digits_float_setup

FIXTURES = Path(__file__).resolve().parent / "fixtures"
RNG = np.random.default_rng(7)


def _correlated_inputs(k: int, samples: int, rank: int = 6) -> np.ndarray:
    """[k, samples]: inputs on a few shared directions plus a little noise, as layer
    inputs are (neighbouring pixels and channels move together)."""
    basis = RNG.standard_normal((k, rank))
    return basis @ RNG.standard_normal((rank, samples)) + 0.05 * RNG.standard_normal((k, samples))


def _rtn(w: np.ndarray, scales: np.ndarray, qmax: int) -> np.ndarray:
    return np.clip(np.rint(w / scales[:, None]), -qmax, qmax)


def _output_error(w: np.ndarray, q: np.ndarray, scales: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum(((w - q * scales[:, None]) @ x) ** 2))


@pytest.mark.parametrize("qmax", [127, 7])
def test_gptq_beats_round_to_nearest_on_correlated_inputs(qmax: int) -> None:
    x = _correlated_inputs(48, 3000)
    w = RNG.standard_normal((24, 48))
    scales = np.abs(w).max(axis=1) / qmax
    q = gptq_round(w, 2 * x @ x.T / x.shape[1], scales, qmax, block=16)
    assert q.dtype == np.int8 and np.abs(q).max() <= qmax
    rtn, gptq = _output_error(w, _rtn(w, scales, qmax), scales, x), _output_error(w, q, scales, x)
    print(f"qmax {qmax}: output error RTN {rtn:.4g}, GPTQ {gptq:.4g}")
    assert gptq < 0.5 * rtn


def test_gptq_is_near_the_brute_force_optimum_of_a_small_layer() -> None:
    """Every integer vector within three steps of RTN's, searched exhaustively (7^6):
    GPTQ, a greedy method, lands between that optimum and RTN, and close to the optimum."""
    qmax, k = 7, 6
    x = _correlated_inputs(k, 500, rank=3)
    w = RNG.standard_normal((1, k))
    scales = np.abs(w).max(axis=1) / qmax
    rtn = _rtn(w, scales, qmax)
    steps = np.array(list(itertools.product(range(-3, 4), repeat=k)), dtype=np.float64)
    candidates = np.clip(rtn + steps, -qmax, qmax)  # [7^k, k]
    gram = x @ x.T
    residual = w - candidates * scales[0]
    best = float(np.min(np.einsum("ci,ij,cj->c", residual, gram, residual)))
    gptq = _output_error(w, gptq_round(w, 2 * x @ x.T / x.shape[1], scales, qmax).astype(np.float64), scales, x)
    rtn_error = _output_error(w, rtn, scales, x)
    print(f"optimum {best:.4g}, GPTQ {gptq:.4g}, RTN {rtn_error:.4g}")
    assert best <= gptq <= rtn_error and gptq - best <= 0.5 * (rtn_error - best)


def test_uncorrelated_inputs_give_round_to_nearest() -> None:
    """With a diagonal Hessian no column's error can be compensated by another: GPTQ is RTN."""
    w = RNG.standard_normal((16, 40))
    scales = np.abs(w).max(axis=1) / 7
    hessian = np.diag(RNG.uniform(0.5, 2.0, 40))
    assert np.array_equal(gptq_round(w, hessian, scales, 7, block=8), _rtn(w, scales, 7))


def test_groups_are_rounded_as_separate_layers() -> None:
    """A grouped (depthwise) conv's groups rounded at once give what each alone gives."""
    xs = [_correlated_inputs(9, 400, rank=3) for _ in range(5)]
    hessians = np.stack([2 * x @ x.T / x.shape[1] for x in xs])
    w = RNG.standard_normal((5, 2, 9))
    scales = np.abs(w).max(axis=2) / 7
    together = gptq_round_groups(w, hessians, scales, 7, block=4)
    for g in range(5):
        assert np.array_equal(together[g], gptq_round(w[g], hessians[g], scales[g], 7, block=4))


def test_pruned_weights_stay_zero_and_dead_inputs_are_handled() -> None:
    x = _correlated_inputs(32, 1000)
    x[5] = 0.0  # a dead input column
    w = RNG.standard_normal((8, 32))
    w[:, ::3] = 0.0
    scales = np.abs(w).max(axis=1) / 7
    q = gptq_round(w, 2 * x @ x.T / x.shape[1], scales, 7)
    assert np.all(q[:, ::3] == 0)
    assert _output_error(w, q, scales, x) < _output_error(w, _rtn(w, scales, 7), scales, x)


def test_bias_correction_removes_the_mean_output_shift() -> None:
    x = _correlated_inputs(20, 4000) + 1.5  # inputs with a non-zero mean, as after a ReLU
    w = RNG.standard_normal((10, 20))
    scales = np.abs(w).max(axis=1) / 7
    q = _rtn(w, scales, 7)
    shift = output_mean_shift(w, q, scales, x.mean(axis=1))
    error = (w - q * scales[:, None]) @ x  # exact minus quantized output
    assert np.allclose(shift, error.mean(axis=1))
    assert np.abs((error - shift[:, None]).mean(axis=1)).max() < 1e-9


def test_nearest_with_bias_correction_keeps_its_integers_and_corrects_the_mean() -> None:
    x = _correlated_inputs(12, 3000) + 1.5
    w = RNG.standard_normal((6, 12))
    scales = np.abs(w).max(axis=1) / 7
    q = _rtn(w, scales, 7).astype(np.int8)
    stats = {"layer": InputStatistics((x @ x.T)[None], x.sum(axis=1)[None], x.shape[1])}
    integers, shift = WeightRounding(stats, bias_correction=True, gptq=False).round("layer", w, q, scales, 4)
    assert np.array_equal(integers, q)
    corrected = q * scales[:, None] @ x + shift[:, None]  # the quantized layer, bias corrected
    assert np.allclose(corrected.mean(axis=1), (w @ x).mean(axis=1))
    assert not np.any(WeightRounding(stats, bias_correction=False, gptq=False).round("layer", w, q, scales, 4)[1])


def test_auto_rounding_and_unknown_rounding() -> None:
    assert resolve_rounding("auto", may_be_int4=True) == "gptq"
    assert resolve_rounding("auto", may_be_int4=False) == "nearest"
    assert resolve_rounding("nearest", may_be_int4=True) == "nearest"
    with pytest.raises(ValueError, match="unknown rounding 'best'"):
        resolve_rounding("best", may_be_int4=True)


# ---- The digits CNN ----------------------------------------------------------------


@pytest.fixture(scope="module")
def digits() -> dict:
    setup = digits_float_setup(FIXTURES)
    graph, calib = setup["graph"], {"input": setup["calib"]}
    graphs = {}
    for rounding in ("nearest", "gptq"):
        qparams, weight_rounding = calibrate(graph, calib, "percentile", rounding, may_be_int4=True)
        for scheme in ("int8", "int4"):
            count = sum(node.op in ("Conv", "Gemm", "MatMul") for node in graph.nodes)
            bits = [weight_bits(scheme, index, count) for index in range(count)]
            graphs[scheme, rounding] = quantize_graph(graph, qparams, layer_bits=bits, rounding=weight_rounding)
    return {**setup, "graphs": graphs}


def _accuracy(graph, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(simulate_graph(graph, {"input": images})["logits"].argmax(1) == labels))


def test_gptq_keeps_int4_accuracy_on_real_digits(digits) -> None:
    """int4 (first/last int8) on 1000 held-out digits: RTN loses about 1.3 points, GPTQ
    is within half a point of float (docs/QUANTIZATION.md)."""
    images, labels, reference = digits["images"], digits["labels"], digits["float_accuracy"]
    acc = {key: _accuracy(graph, images, labels) for key, graph in digits["graphs"].items()}
    print(f"digits float {reference:.3f}: " + ", ".join(f"{s} {r} {a:.3f}" for (s, r), a in acc.items()))
    assert acc["int4", "gptq"] >= reference - 0.005
    assert acc["int4", "gptq"] > acc["int4", "nearest"]
    assert acc["int8", "gptq"] >= reference - 0.005


@pytest.mark.parametrize("scheme", ["int8", "int4"])
def test_gptq_models_run_exactly_as_simulated(digits, scheme) -> None:
    graph = digits["graphs"][scheme, "gptq"]
    images = digits["images"][:100]
    expected = simulate_graph(graph, {"input": images})["logits"]
    model = pocketnn.Model(write_pnn(graph))
    logits = np.concatenate([model.run({"input": images[i:i + 1]})["logits"] for i in range(len(images))])
    assert np.array_equal(logits, expected)


def test_gptq_changes_integers_not_scales(digits) -> None:
    nearest, gptq = digits["graphs"]["int4", "nearest"], digits["graphs"]["int4", "gptq"]
    layers = [(a, b) for a, b in zip(nearest.nodes, gptq.nodes) if a.op in ("QConv", "QGemm")]
    changed = 0
    for a, b in layers:
        assert np.array_equal(nearest.tensors[a.inputs[3]].data, gptq.tensors[b.inputs[3]].data)  # multipliers
        changed += int(not np.array_equal(nearest.tensors[a.inputs[1]].data, gptq.tensors[b.inputs[1]].data))
    assert changed >= len(layers) - 1


def test_unknown_rounding_is_a_quantization_error(digits) -> None:
    with pytest.raises(QuantizationError, match="unknown rounding"):
        quantize_static(digits["graph"], {"input": digits["calib"][:4]}, "int8", rounding="best")
