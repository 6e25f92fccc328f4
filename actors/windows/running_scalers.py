"""Normalisation with statistics learnt from the stream itself: z-score and min-max.

A feature served to a policy is often more useful on a common scale than in its own units
(latency in ms next to an error rate). The statistics are running ones, updated in event
order inside a fold, so a replay reproduces every transformed value exactly:

* z-score ``(x - mean) / sd`` with Welford's mean and sample standard deviation
  (:class:`~actors.windows.moments.RunningMoments`); undefined (None) until two values with
  a positive spread have been seen, because dividing by a zero spread means nothing;
* min-max ``(x - min) / (max - min)`` over every value seen so far, clipped into ``[0, 1]``
  for a value outside the range seen; None until the range is non-empty.

Both merge (Chan et al. for the moments, min/max for the range), so per-shard scalers combine.
"""

from __future__ import annotations

import msgspec

from actors.windows.moments import RunningMoments


class RunningZScore(msgspec.Struct, kw_only=True):
    moments: RunningMoments = msgspec.field(default_factory=RunningMoments)

    def update(self, x: float) -> None:
        self.moments.add(x)

    def merge(self, other: RunningZScore) -> None:
        self.moments.merge(other.moments)

    def transform(self, x: float) -> float | None:
        sd = self.moments.std
        if sd is None or sd == 0.0:
            return None
        return (x - self.moments.mean) / sd


class RunningMinMax(msgspec.Struct, kw_only=True, array_like=True):
    low: float | None = None
    high: float | None = None

    def update(self, x: float) -> None:
        x = float(x)
        if self.low is None or x < self.low:
            self.low = x
        if self.high is None or x > self.high:
            self.high = x

    def merge(self, other: RunningMinMax) -> None:
        if other.low is not None:
            self.update(other.low)
        if other.high is not None:
            self.update(other.high)

    def transform(self, x: float) -> float | None:
        if self.low is None or self.high is None or self.high == self.low:
            return None
        return min(max((x - self.low) / (self.high - self.low), 0.0), 1.0)
