"""Count, sum, mean, min, max and variance of a stream, in one pass and mergeable.

The mean and the sum of squared deviations ``m2`` follow Welford (1962)::

    n += 1;  d = x - mean;  mean += d / n;  m2 += d * (x - mean)

which does not cancel catastrophically the way ``sum(x**2) - n * mean**2`` does on values with a
large common offset (latencies near 1e9 ns, timestamps). Two partial states merge by Chan, Golub
and LeVeque (1979, "Updating formulae and a pairwise algorithm for computing sample variances")::

    n = na + nb;  d = mean_b - mean_a
    mean = mean_a + d * nb / n
    m2 = m2_a + m2_b + d**2 * na * nb / n

so a window built from panes, or from shards, equals one built in a single pass up to rounding.
"""

from __future__ import annotations

import math

import msgspec


class RunningMoments(msgspec.Struct, kw_only=True, array_like=True):
    """Welford's running moments; ``array_like`` keeps the encoded state small."""

    count: int = 0
    total: float = 0.0
    mean: float = 0.0
    m2: float = 0.0
    low: float | None = None
    high: float | None = None

    def add(self, x: float) -> None:
        x = float(x)
        self.count += 1
        self.total += x
        delta = x - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (x - self.mean)
        if self.low is None or x < self.low:
            self.low = x
        if self.high is None or x > self.high:
            self.high = x

    def merge(self, other: RunningMoments) -> None:
        """Fold ``other`` into this one (Chan et al.); ``other`` is left unchanged."""
        if other.count == 0:
            return
        if self.count == 0:
            self.count, self.total, self.mean, self.m2 = (
                other.count,
                other.total,
                other.mean,
                other.m2,
            )
            self.low, self.high = other.low, other.high
            return
        n = self.count + other.count
        delta = other.mean - self.mean
        self.mean += delta * other.count / n
        self.m2 += other.m2 + delta * delta * self.count * other.count / n
        self.count = n
        self.total += other.total
        if other.low is not None and (self.low is None or other.low < self.low):
            self.low = other.low
        if other.high is not None and (self.high is None or other.high > self.high):
            self.high = other.high

    @property
    def variance(self) -> float | None:
        """The sample variance ``m2 / (n - 1)`` (Bessel-corrected), None below two values."""
        return self.m2 / (self.count - 1) if self.count > 1 else None

    @property
    def std(self) -> float | None:
        variance = self.variance
        return None if variance is None else math.sqrt(max(variance, 0.0))
