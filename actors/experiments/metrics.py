"""Per-variant running metrics an experiment is judged on: quality, cost and latency.

Means need only running sums (:class:`MetricSums`, summarised as
:class:`~actors.statistics.SampleSummary`). A latency percentile needs the distribution, so
latency goes into a log-bucketed histogram (:class:`LatencyHistogram`): bucket :math:`k`
holds latencies in :math:`[g^k, g^{k+1})` ms with growth :math:`g = 1.02`, so any quantile is
known within 2% relative error in bounded memory (the idea of DDSketch, Masson, Rim & Lee
2019, without its collapsing). All state is plain msgspec structs: it lives inside the
experiment aggregate and folds deterministically.
"""

from __future__ import annotations

import math

import msgspec

from actors.statistics import SampleSummary

__all__ = ["ArmMetrics", "LatencyHistogram", "MetricSums"]

GROWTH = 1.02
"""Relative width of a latency bucket."""
_LOG_GROWTH = math.log(GROWTH)
MIN_LATENCY_MS = 0.01
"""Latencies below this (and zero) share the lowest bucket."""


class MetricSums(msgspec.Struct, kw_only=True):
    """Count, sum and sum of squares of one metric in one variant."""

    n: int = 0
    total: float = 0.0
    total_squares: float = 0.0

    def add(self, value: float) -> None:
        self.n += 1
        self.total += value
        self.total_squares += value * value

    def summary(self) -> SampleSummary:
        return SampleSummary.from_sums(self.n, self.total, self.total_squares)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else math.nan


def _bucket(latency_ms: float) -> int:
    return math.floor(math.log(max(latency_ms, MIN_LATENCY_MS)) / _LOG_GROWTH)


def _lower_edge(bucket: int) -> float:
    return math.exp(bucket * _LOG_GROWTH)


class LatencyHistogram(msgspec.Struct, kw_only=True):
    """Counts of latencies per log bucket (bucket index -> count), and their number."""

    counts: dict[int, int] = msgspec.field(default_factory=dict)
    n: int = 0

    def add(self, latency_ms: float) -> None:
        if not math.isfinite(latency_ms) or latency_ms < 0.0:
            raise ValueError(f"latency must be a finite number >= 0 ms, got {latency_ms}")
        bucket = _bucket(latency_ms)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self.n += 1

    def quantile(self, q: float) -> float:
        """The ``q`` quantile: the geometric midpoint of the bucket holding rank ``ceil(q n)``.

        NaN when empty. Within a factor :math:`\\sqrt{g}` (1%) of an exact sample quantile.
        """
        if not 0.0 < q <= 1.0:
            raise ValueError(f"q must be in (0, 1], got {q}")
        if self.n == 0:
            return math.nan
        rank = max(1, math.ceil(q * self.n))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= rank:
                return _lower_edge(bucket) * math.sqrt(GROWTH)
        raise AssertionError("counts do not add up to n")  # pragma: no cover

    def share_above(self, threshold_ms: float) -> float:
        """The share of latencies in buckets that lie entirely above ``threshold_ms``."""
        if self.n == 0:
            return math.nan
        first = _bucket(threshold_ms) + 1
        return sum(c for b, c in self.counts.items() if b >= first) / self.n


class ArmMetrics(msgspec.Struct, kw_only=True):
    """The guardrail metrics of one variant."""

    quality: MetricSums = msgspec.field(default_factory=MetricSums)
    cost: MetricSums = msgspec.field(default_factory=MetricSums)
    latency: LatencyHistogram = msgspec.field(default_factory=LatencyHistogram)

    def observe(
        self, *, quality: float | None, cost_usd: float | None, latency_ms: float | None
    ) -> None:
        """Add one outcome's metrics; a missing one is simply not counted."""
        if quality is not None and math.isfinite(quality):
            self.quality.add(quality)
        if cost_usd is not None and math.isfinite(cost_usd):
            self.cost.add(cost_usd)
        if latency_ms is not None and math.isfinite(latency_ms) and latency_ms >= 0.0:
            self.latency.add(latency_ms)
