"""The daily load curve and the arrival times it gives: a non-homogeneous Poisson process.

The rate follows the working day in UTC, ``rate(t) = mean * (1 + amplitude * cos(2 pi (h(t) -
peak_hour) / 24))`` with ``h(t)`` the hour of day: busiest at ``peak_hour``, quietest twelve
hours later. For a run of a set number of requests the arrival times are drawn given their
count: given ``N(T) = n``, the arrival times of a Poisson process of rate ``lambda(t)`` on
``[0, T)`` are ``n`` independent draws from the density ``lambda(t) / Lambda(T)``, sorted
(Ross, *Stochastic Processes*, 2nd ed., thm. 2.3.1 and its non-homogeneous form); each draw
is made by rejection from the uniform (Lewis and Shedler 1979, thinning).
"""

from __future__ import annotations

import math
from typing import Final

import msgspec
import numpy as np

START_UNIX: Final = 1_725_235_200.0
"""The simulated run starts at 2024-09-02T00:00:00Z, a Monday."""
DAY_S: Final = 86_400.0


class DailyLoad(msgspec.Struct, frozen=True, kw_only=True):
    amplitude: float = 0.6
    """Relative swing of the rate around its daily mean, in [0, 1)."""
    peak_hour: float = 14.0
    """Hour (UTC) of the busiest traffic."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.amplitude < 1.0:
            raise ValueError(f"amplitude must lie in [0, 1), got {self.amplitude}")

    def relative_rate(self, seconds: float) -> float:
        """The rate at ``seconds`` after the start, relative to the daily mean."""
        hour = (seconds % DAY_S) / 3600.0
        return 1.0 + self.amplitude * math.cos(2.0 * math.pi * (hour - self.peak_hour) / 24.0)

    def arrivals(self, rng: np.random.Generator, count: int, days: float) -> list[float]:
        """``count`` arrival times (seconds after the start) over ``days``, sorted."""
        if count < 0 or days <= 0:
            raise ValueError(f"need count >= 0 and days > 0, got {count}, {days}")
        horizon = days * DAY_S
        ceiling = 1.0 + self.amplitude
        times: list[float] = []
        while len(times) < count:
            candidates = rng.uniform(0.0, horizon, size=2 * (count - len(times)) + 16)
            accept = rng.uniform(0.0, ceiling, size=candidates.size)
            for t, u in zip(candidates.tolist(), accept.tolist(), strict=True):
                if u < self.relative_rate(t) and len(times) < count:
                    times.append(t)
        return sorted(times)
