"""pocketnn.quantization.calibrate: ranges, zero points, and the MSE choice measured."""

from __future__ import annotations

import numpy as np
import pytest
from pocketnn.quantization import arith
from pocketnn.quantization.calibrate import (
    MinMaxObserver,
    MseObserver,
    PercentileObserver,
    make_observer,
)

RNG = np.random.default_rng(3)
METHODS = ["minmax", "percentile", "mse"]


def quantization_mse(values: np.ndarray, qparams: tuple[float, int]) -> float:
    restored = arith.dequantize_linear(arith.quantize_linear(values, *qparams), *qparams)
    return float(np.mean((restored.astype(np.float64) - values) ** 2))


def batches(data: np.ndarray, count: int) -> list[np.ndarray]:
    return np.array_split(data.reshape(-1), count)


def with_outliers(size: int, outliers: tuple[float, ...] = (150.0, -140.0, 120.0)) -> np.ndarray:
    data = RNG.standard_normal(size).astype(np.float32)
    data[RNG.choice(size, len(outliers), replace=False)] = outliers
    return data


def test_minmax_over_batches() -> None:
    observer = MinMaxObserver()
    for batch in ([1.0, 2.0], np.array([[-3.0, 0.5]]), np.empty(0), [7.0]):
        observer.observe(batch)
    assert observer.range() == (-3.0, 7.0)
    assert observer.qparams() == arith.activation_qparams(-3.0, 7.0)


@pytest.mark.parametrize("method", METHODS)
def test_zero_point_rules(method: str) -> None:
    relu = np.maximum(RNG.standard_normal(20000), 0).astype(np.float32)
    negative = -np.abs(RNG.standard_normal(20000)).astype(np.float32) - 0.5
    mixed = RNG.standard_normal(20000).astype(np.float32) + 0.5
    for data, check in ((relu, lambda z: z == 0), (negative, lambda z: z == 255), (mixed, lambda z: 0 < z < 255)):
        observer = make_observer(method)
        for batch in batches(data, 4):
            observer.observe(batch)
        scale, zero_point = observer.qparams()
        assert scale > 0 and isinstance(zero_point, int) and check(zero_point), (method, zero_point)


def test_percentile_clips_each_tail() -> None:
    data = with_outliers(200001)  # 0.01% of it is not a whole count: no rounding tie
    observer = PercentileObserver(99.99)
    for batch in batches(data, 10):
        observer.observe(batch)
    lo, hi = observer.range()
    # ranks within the summary's exact tails: exact although the sample holds a third
    assert [lo, hi] == np.percentile(data, [0.01, 99.99], method="inverted_cdf").tolist()
    assert -6 < lo < -3 and 3 < hi < 6  # the outliers are cut
    one_sided = PercentileObserver(99.0)
    one_sided.observe(np.abs(data))
    assert one_sided.range()[0] == np.percentile(np.abs(data), 1.0, method="inverted_cdf")


def test_sampled_percentile_tracks_the_full_data() -> None:
    """Percentiles beyond the exact tails come from the sample, spread evenly over
    batches of different ranges."""
    data = np.concatenate([RNG.uniform(i, i + 1, 5000) for i in range(40)]).astype(np.float32)
    observer = PercentileObserver(95.0, capacity=4000, tail=100)
    for i in range(40):
        observer.observe(data[i * 5000:(i + 1) * 5000])
    lo, hi = observer.range()
    assert lo == pytest.approx(2.0, abs=0.3) and hi == pytest.approx(38.0, abs=0.3)


def test_summary_points() -> None:
    data = RNG.standard_normal(3000).astype(np.float32)
    small = PercentileObserver(capacity=4000, tail=100)
    small.observe(data[:1000])
    small.observe(data[1000:])
    values, weights = small._summary.points()
    assert sorted(values.tolist()) == sorted(data.tolist()) and np.all(weights == 1)  # all kept, once
    large = PercentileObserver(capacity=1000, tail=100)
    for batch in batches(data, 6):
        large.observe(batch)
    values, weights = large._summary.points()
    assert 1000 <= values.size <= 1200 and np.all(weights[:200] == 1)
    assert np.allclose(weights[200:], (3000 - 200) / (values.size - 200)) and weights.sum() == pytest.approx(3000)
    ordered = np.sort(data)
    assert sorted(values[:200].tolist()) == ordered[:100].tolist() + ordered[-100:].tolist()


def test_mse_clips_outliers_and_lowers_the_error() -> None:
    data = with_outliers(200000)
    mse, minmax, percentile = MseObserver(), MinMaxObserver(), PercentileObserver()
    for batch in batches(data, 5):
        for observer in (mse, minmax, percentile):
            observer.observe(batch)
    lo, hi = mse.range()
    assert -0.8 * 140 < lo < -4 and 4 < hi < 0.8 * 150
    assert percentile.range()[1] < hi
    assert quantization_mse(data, mse.qparams()) < 0.8 * quantization_mse(data, minmax.qparams())


def test_mse_keeps_outliers_whose_clipping_costs_more() -> None:
    """Two values near 1000 among 200000: clipping them adds more squared error than
    the finer step saves, and they are counted exactly although the sample may miss
    them."""
    data = with_outliers(200000, (1000.0, -900.0))
    observer = MseObserver(capacity=1 << 12, tail=64)
    for batch in batches(data, 4):
        observer.observe(batch)
    assert observer.range() == (-900.0, 1000.0)


@pytest.mark.parametrize("name, sampler", [
    ("student_t3", lambda n: RNG.standard_t(3, n)),
    ("laplace_relu", lambda n: np.maximum(RNG.laplace(0, 1, n), 0)),
    ("lognormal", lambda n: RNG.lognormal(0, 1.5, n) - 1),
])
def test_mse_beats_minmax_on_heavy_tails(name: str, sampler) -> None:
    data = sampler(200000).astype(np.float32)
    mse, minmax = MseObserver(), MinMaxObserver()
    for batch in batches(data, 8):
        mse.observe(batch)
        minmax.observe(batch)
    # measured on all the data, not on the observer's summary
    assert quantization_mse(data, mse.qparams()) < 0.95 * quantization_mse(data, minmax.qparams()), name


def test_mse_keeps_the_range_of_uniform_data() -> None:
    data = RNG.uniform(-1, 3, 50000).astype(np.float32)
    observer = MseObserver()
    observer.observe(data)
    lo, hi = observer.range()
    assert lo < -0.85 and hi > 2.6
    assert quantization_mse(data, observer.qparams()) <= quantization_mse(data, arith.activation_qparams(-1, 3)) * 1.05


def test_observers_are_deterministic() -> None:
    data = with_outliers(50000)
    results = []
    for _ in range(2):
        observer = MseObserver(capacity=5000, tail=500)
        for batch in batches(data, 7):
            observer.observe(batch)
        results.append(observer.qparams())
    assert results[0] == results[1]


def test_observer_errors() -> None:
    with pytest.raises(ValueError, match="unknown calibration method"):
        make_observer("entropy")
    for method in METHODS:
        with pytest.raises(ValueError, match="no calibration values"):
            make_observer(method).qparams()
    with pytest.raises(ValueError, match="finite"):
        MinMaxObserver().observe([1.0, np.nan])
    with pytest.raises(ValueError):
        PercentileObserver(30.0)
    with pytest.raises(ValueError, match="tails"):
        MseObserver(capacity=100, tail=50)
    assert isinstance(make_observer("percentile", percentile=99.9), PercentileObserver)


def test_large_batches_keep_a_uniform_sample_and_exact_tails() -> None:
    """Batches much larger than the sample take the thinned paths (a cutoff on the first
    batch, the sample's threshold after): the sample stays uniform over the whole
    stream, its weights sum to the count, and the tails stay exact."""
    data = np.concatenate([RNG.uniform(i, i + 1, 50000) for i in range(12)]).astype(np.float32)
    observer = PercentileObserver(90.0, capacity=2000, tail=50)
    for i in range(12):
        observer.observe(data[i * 50000:(i + 1) * 50000])
    values, weights = observer._summary.points()
    assert 2000 <= values.size <= 2100 and weights.sum() == pytest.approx(data.size)
    ordered = np.sort(data)
    assert sorted(values[:100].tolist()) == ordered[:50].tolist() + ordered[-50:].tolist()
    body = values[100:]
    assert np.histogram(body, bins=12, range=(0, 12))[0].min() > 2000 / 12 * 0.7  # every batch sampled
    lo, hi = observer.range()
    assert lo == pytest.approx(1.2, abs=0.3) and hi == pytest.approx(10.8, abs=0.3)
