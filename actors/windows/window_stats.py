"""What one window of one key knows: moments, error count, cost total and a quantile sketch.

Every part merges exactly (counts) or by Chan et al. (moments), so session windows that merge
and panes combined into a window give what a single pass over the same events gives.
"""

from __future__ import annotations

import msgspec

from actors.windows.moments import RunningMoments
from actors.windows.observation import Observation
from actors.windows.quantile_sketch import QuantileSketch

QUANTILES = (0.5, 0.95, 0.99)


class WindowStats(msgspec.Struct, frozen=True, kw_only=True):
    """The features a closed (or updated) window publishes; None where undefined."""

    count: int
    """Observations in the window (with or without a value)."""
    value_count: int
    total: float
    mean: float | None
    low: float | None
    high: float | None
    std: float | None
    error_rate: float | None
    cost_total: float
    p50: float | None
    p95: float | None
    p99: float | None


class WindowAccumulator(msgspec.Struct, kw_only=True):
    """The mutable state behind :class:`WindowStats`."""

    count: int = 0
    errors: int = 0
    cost_total: float = 0.0
    moments: RunningMoments = msgspec.field(default_factory=RunningMoments)
    sketch: QuantileSketch = msgspec.field(default_factory=QuantileSketch)

    @classmethod
    def with_alpha(cls, alpha: float) -> WindowAccumulator:
        return cls(sketch=QuantileSketch(alpha=alpha))

    def add(self, obs: Observation) -> None:
        self.count += 1
        if obs.error:
            self.errors += 1
        if obs.cost is not None:
            self.cost_total += obs.cost
        if obs.value is not None:
            self.moments.add(obs.value)
            self.sketch.add(obs.value)

    def merge(self, other: WindowAccumulator) -> None:
        self.count += other.count
        self.errors += other.errors
        self.cost_total += other.cost_total
        self.moments.merge(other.moments)
        self.sketch.merge(other.sketch)

    def stats(self) -> WindowStats:
        m = self.moments
        p50, p95, p99 = (self.sketch.quantile(q) for q in QUANTILES)
        return WindowStats(
            count=self.count,
            value_count=m.count,
            total=m.total,
            mean=m.mean if m.count else None,
            low=m.low,
            high=m.high,
            std=m.std,
            error_rate=self.errors / self.count if self.count else None,
            cost_total=self.cost_total,
            p50=p50,
            p95=p95,
            p99=p99,
        )
