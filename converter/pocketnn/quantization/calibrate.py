"""Observers that choose a u8 activation range from calibration batches.

Each observer takes batches through ``observe(array)``; ``range()`` is the chosen
[lo, hi] and ``qparams()`` the (scale, zero point) of it (arith.activation_qparams,
which widens the range to include 0).

- ``minmax``: the smallest and the largest value seen.
- ``percentile``: each tail clipped on its own, lo = the (100 - p)th and hi = the pth
  percentile of the values (default p = 99.99). Not a percentile of |x|: u8 ranges are
  asymmetric, and a ReLU output has a single tail.
- ``mse``: the range whose measured quantization MSE over the values is smallest
  (MseObserver describes the search).

Percentiles and the MSE need the values themselves. Those observers keep a bounded
summary: the extreme values of each side exactly and a uniform random sample of the
rest (_StreamSummary).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike

from pocketnn.quantization.arith import (
    activation_qparams,
    dequantize_linear,
    quantize_linear,
)


def _finite_values(values: ArrayLike) -> np.ndarray:
    data = np.asarray(values, dtype=np.float32).reshape(-1)
    if not np.isfinite(data).all():
        raise ValueError("calibration values must be finite")
    return data


class Observer(ABC):
    """Accumulates calibration batches of one activation tensor."""

    @abstractmethod
    def observe(self, values: ArrayLike) -> None: ...

    @abstractmethod
    def range(self) -> tuple[float, float]:
        """The clip range [lo, hi] chosen from the values observed so far."""

    def qparams(self) -> tuple[float, int]:
        """(scale, zero point) of range() widened to include 0."""
        return activation_qparams(*self.range())


class MinMaxObserver(Observer):
    def __init__(self) -> None:
        self._lo = np.inf
        self._hi = -np.inf

    def observe(self, values: ArrayLike) -> None:
        data = _finite_values(values)
        if data.size:
            self._lo = min(self._lo, float(data.min()))
            self._hi = max(self._hi, float(data.max()))

    def range(self) -> tuple[float, float]:
        if self._lo > self._hi:
            raise ValueError("no calibration values were observed")
        return self._lo, self._hi


def _append(kept: tuple[np.ndarray, ...], new: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(np.concatenate(pair) for pair in zip(kept, new))


def _keep_smallest(order: np.ndarray, count: int, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The entries of ``arrays`` at the ``count`` smallest values of ``order``."""
    if order.size <= count:
        return arrays
    kept = np.argpartition(order, count - 1)[:count]
    return tuple(a[kept] for a in arrays)


class _StreamSummary:
    """All observed values, summarized as weighted points for order statistics and
    means: the ``tail`` smallest and ``tail`` largest values exactly (where clipping
    decisions are made, and where a sample is thinnest), and a uniform random sample of
    ``capacity`` values (each value gets a random key; the smallest keys stay) standing
    for the others. While everything observed fits in the sample, the points are
    exactly the values.

    Calibrating a 224x224 CNN streams about 10^7 values per sample through each
    observer, so a batch costs a comparison pass per tail plus work on the few values
    that can enter. Only keys below a threshold can enter the sample (the largest kept
    key once it is full; before, a cutoff leaving about twice the room): the batch
    draws how many of its keys fall below it (binomial), which values have them
    (uniformly) and the keys (uniform below it) - the distribution of a key per value,
    without drawing n keys. The sample is cut back to ``capacity`` only when it holds
    twice that (points() cuts it first); the threshold of the last cut stays valid
    meanwhile, as it can only be above the current one."""

    def __init__(self, capacity: int, tail: int, seed: int) -> None:
        if not 0 < 2 * tail < capacity:
            raise ValueError(f"the sample ({capacity}) must hold more than both tails (2 x {tail})")
        self.count = 0
        self._capacity = capacity
        self._tail = tail
        self._rng = np.random.default_rng(seed)
        self._threshold = 1.0  # keys at or above it never enter the sample
        empty_values, empty_ids = np.empty(0, np.float32), np.empty(0, np.int64)
        # (values, stream ids[, random keys])
        self._sample: tuple[np.ndarray, ...] = (empty_values, empty_ids, np.empty(0, np.float64))
        self._low: tuple[np.ndarray, ...] = (empty_values, empty_ids)
        self._high: tuple[np.ndarray, ...] = (empty_values, empty_ids)

    def _draw_keys(self, size: int, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
        """(positions, keys) of the keys below `cutoff` among `size` uniform keys."""
        if cutoff >= 1.0:
            return np.arange(size), self._rng.random(size)
        count = int(self._rng.binomial(size, cutoff))
        return self._rng.choice(size, size=count, replace=False), self._rng.random(count) * cutoff

    def _add_to_sample(self, data: np.ndarray, start: int) -> None:
        keys = self._sample[2]
        room = self._capacity - keys.size
        cutoff = self._threshold
        if room > 0 and data.size > 4 * room:
            cutoff = 2 * room / data.size
        positions, new_keys = self._draw_keys(data.size, cutoff)
        if cutoff < self._threshold and np.count_nonzero(keys < cutoff) + new_keys.size < self._capacity:
            # Too few keys below the cutoff to fill the sample (rare): draw all of them.
            positions, new_keys = self._draw_keys(data.size, self._threshold)
        self._sample = _append(self._sample, (data[positions], positions + start, new_keys))
        if self._sample[2].size > 2 * self._capacity or (room > 0 and self._sample[2].size > self._capacity):
            self._cut_sample()

    def _cut_sample(self) -> None:
        self._sample = _keep_smallest(self._sample[2], self._capacity, *self._sample)
        if self._sample[2].size >= self._capacity:
            self._threshold = float(self._sample[2].max())

    def _add_to_tail(self, kept: tuple[np.ndarray, ...], data: np.ndarray, start: int,
                     smallest: bool) -> tuple[np.ndarray, ...]:
        """The `tail` smallest (or largest) of kept and data: a new value enters only
        past the kept tail's boundary once the tail is full, or past the tail-th
        extreme of the batch itself (ties at it taken in stream order)."""
        signed = data if smallest else -data
        if kept[0].size >= self._tail:
            boundary = kept[0].max() if smallest else -kept[0].min()
            positions = np.flatnonzero(signed < boundary)
        elif data.size > self._tail:
            boundary = np.partition(signed, self._tail - 1)[self._tail - 1]
            below = np.flatnonzero(signed < boundary)
            positions = np.concatenate([below, np.flatnonzero(signed == boundary)[:self._tail - below.size]])
        else:
            positions = np.arange(data.size)
        merged = _append(kept, (data[positions], positions + start))
        return _keep_smallest(merged[0] if smallest else -merged[0], self._tail, *merged)

    def add(self, data: np.ndarray) -> None:
        start = self.count
        self.count += data.size
        self._add_to_sample(data, start)
        self._low = self._add_to_tail(self._low, data, start, smallest=True)
        self._high = self._add_to_tail(self._high, data, start, smallest=False)

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """(values, weights): the tails with weight 1, then the sampled values in no
        tail, each weighing (values in no tail) / (sampled values in no tail). The
        weights sum to count. Stream ids keep a value seen in both a tail and the
        sample (or in both tails) from counting twice."""
        if self.count == 0:
            raise ValueError("no calibration values were observed")
        self._cut_sample()
        tail_ids, first = np.unique(np.concatenate([self._low[1], self._high[1]]), return_index=True)
        tail_values = np.concatenate([self._low[0], self._high[0]])[first]
        sample_values, sample_ids, _ = self._sample
        body = sample_values[~np.isin(sample_ids, tail_ids)]
        body_weight = (self.count - tail_values.size) / body.size if body.size else 0.0
        return (np.concatenate([tail_values, body]),
                np.concatenate([np.ones(tail_values.size), np.full(body.size, body_weight)]))


class _SampledObserver(Observer):
    def __init__(self, capacity: int, tail: int, seed: int) -> None:
        self._summary = _StreamSummary(capacity, tail, seed)

    def observe(self, values: ArrayLike) -> None:
        self._summary.add(_finite_values(values))


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, percents: tuple[float, ...]
                          ) -> list[float]:
    """For each percent, the smallest value whose cumulative weight reaches percent of
    the total (the inverted CDF; with unit weights, numpy's method="inverted_cdf")."""
    order = np.argsort(values, kind="stable")
    cumulative = np.cumsum(weights[order])
    indices = np.searchsorted(cumulative, np.array(percents) / 100 * cumulative[-1], side="left")
    return [float(values[order][min(int(index), values.size - 1)]) for index in indices]


class PercentileObserver(_SampledObserver):
    """lo = the (100 - percentile)th, hi = the percentile-th percentile of the values
    (inverted CDF): exact while they fall among the ``tail`` extremes of either side,
    from the sample otherwise."""

    def __init__(self, percentile: float = 99.99, capacity: int = 1 << 16, tail: int = 1 << 12,
                 seed: int = 0) -> None:
        if not 50 < percentile <= 100:
            raise ValueError(f"percentile must be in (50, 100], not {percentile}")
        super().__init__(capacity, tail, seed)
        self.percentile = percentile

    def range(self) -> tuple[float, float]:
        values, weights = self._summary.points()
        lo, hi = _weighted_percentiles(values, weights, (100 - self.percentile, self.percentile))
        return lo, hi


class MseObserver(_SampledObserver):
    """The clip range that minimizes the mean squared error between the values and
    their quantized-then-dequantized versions (arith.quantize_linear /
    dequantize_linear with each candidate's qparams, so clipping and rounding error are
    both measured as deployed), estimated on the summary's weighted points: the
    extremes, whose clipping error dominates with heavy tails, count exactly.

    Search: start from the min/max range widened to include 0; then ``rounds`` times,
    choose hi among the candidates max * 2^(-j / steps_per_octave) for
    j = 0 .. octaves * steps_per_octave (with lo fixed), then lo among the same
    fractions of min (with hi fixed). A side that does not reach below or above 0 stays
    at 0. Geometric candidates reach the small clip ranges of heavy tails in few
    evaluations; each round costs 2 * (octaves * steps_per_octave + 1) evaluations over
    at most capacity + 2 * tail points."""

    def __init__(self, capacity: int = 1 << 16, tail: int = 1 << 12, seed: int = 0, rounds: int = 2,
                 steps_per_octave: int = 8, octaves: int = 12) -> None:
        super().__init__(capacity, tail, seed)
        self.rounds = rounds
        self._fractions = 2.0 ** (-np.arange(octaves * steps_per_octave + 1) / steps_per_octave)

    def range(self) -> tuple[float, float]:
        values, weights = self._summary.points()
        full_lo, full_hi = min(float(values.min()), 0.0), max(float(values.max()), 0.0)
        lo, hi = full_lo, full_hi

        def mse(candidate_lo: float, candidate_hi: float) -> float:
            scale, zero_point = activation_qparams(candidate_lo, candidate_hi)
            restored = dequantize_linear(quantize_linear(values, scale, zero_point), scale, zero_point)
            return float(np.average((restored.astype(np.float64) - values) ** 2, weights=weights))

        for _ in range(self.rounds):
            if full_hi > 0:
                hi = min((full_hi * f for f in self._fractions), key=lambda c: mse(lo, c))
            if full_lo < 0:
                lo = min((full_lo * f for f in self._fractions), key=lambda c: mse(c, hi))
        return float(lo), float(hi)


_OBSERVERS: dict[str, type[Observer]] = {
    "minmax": MinMaxObserver,
    "percentile": PercentileObserver,
    "mse": MseObserver,
}


def make_observer(method: str, **options: float) -> Observer:
    """A new observer: "minmax", "percentile" or "mse" (options go to its constructor)."""
    factory = _OBSERVERS.get(method)
    if factory is None:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {', '.join(_OBSERVERS)}")
    return factory(**options)
