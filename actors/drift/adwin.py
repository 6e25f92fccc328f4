"""ADWIN: adaptive windowing, which keeps the longest recent window with no change in mean."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from actors.drift.base import Alarm, Detector, at_least, observation, probability


class ADWIN(Detector):
    r"""ADWIN2 (Bifet & Gavaldà 2007): a window that drops its old part when the old and the
    new parts have different means.

    The window is kept as an exponential histogram: level :math:`i` holds at most
    ``max_buckets`` buckets of :math:`2^i` observations each (their total and the sum of
    squared deviations from their mean), so :math:`W` observations take
    :math:`O(\log W)` memory. Every ``clock`` observations each split of the window at a
    bucket boundary into an old part :math:`W_0` (:math:`n_0` observations, mean
    :math:`\hat\mu_0`) and a recent part :math:`W_1` is tested, and the oldest bucket is
    dropped while some split has

    .. math::

        |\hat\mu_0 - \hat\mu_1| > \varepsilon_{cut} =
        \sqrt{\frac{2}{m}\,\sigma^2_W \ln\frac{2}{\delta'}} + \frac{2}{3m}\ln\frac{2}{\delta'},
        \qquad \frac1m = \frac{1}{n_0 - c + 1} + \frac{1}{n_1 - c + 1},
        \quad \delta' = \frac{\delta}{\ln W},

    with :math:`\sigma^2_W` the window's variance and :math:`c` = ``min_window_length``
    (the paper's Theorem 3.1 and its variance-based bound of section 3.3, in the form River
    uses). A cut is an alarm, after which the detector starts an empty window, as River's
    ``ADWIN`` does: ADWIN proper would drop the old buckets one by one and keep cutting for
    the same change at later checks, one alarm per check, where a monitor wants one alarm
    per change. With the same parameters it raises River's alarms at the same observations
    (``scripts/bench_drift.py`` checks this). :math:`\delta` bounds the false-alarm
    probability of one check; ``actors.drift.calibration.adwin_delta`` sets it from a target
    rate.

    ADWIN is scale-free already (the bound uses the window's own variance), so unlike CUSUM
    and Page-Hinkley it needs no warm-up.

    Parameters
    ----------
    delta
        Confidence :math:`\delta \in (0, 1)`; smaller means fewer false alarms and slower
        detection.
    clock
        Check for a cut every ``clock`` observations.
    max_buckets
        Buckets per level before the two oldest merge (River's default 5).
    min_window_length
        Neither part of a split may be shorter.
    grace_period
        No check before the window holds this many observations.

    References
    ----------
    A. Bifet and R. Gavaldà (2007), "Learning from time-changing data with adaptive
    windowing", *Proceedings of the 2007 SIAM International Conference on Data Mining*.

    Examples
    --------
    >>> adwin = ADWIN(delta=0.002, clock=1)
    >>> stream = [0.0, 1.0] * 100 + [3.0, 4.0] * 100
    >>> first = next(i for i, x in enumerate(stream) if adwin.update(x))
    >>> 200 <= first < 230
    True
    >>> adwin.width
    0
    """

    name: ClassVar[str] = "adwin"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        self.delta = probability("delta", delta)
        self.clock = at_least("clock", clock, 1)
        self.max_buckets = at_least("max_buckets", max_buckets, 2)
        self.min_window_length = at_least("min_window_length", min_window_length, 1)
        self.grace_period = at_least("grace_period", grace_period, 1)
        self.reset()

    def reset(self) -> None:
        self.totals: list[list[float]] = []
        """``totals[i]`` are the totals of the buckets of level ``i`` (size ``2**i``), oldest
        first; ``variances[i]`` their sums of squared deviations."""
        self.variances: list[list[float]] = []
        self.width = 0
        self.total = 0.0
        self.variance = 0.0
        """Sum of squared deviations from the window's mean (``width`` times its variance)."""
        self.tick = 0
        self.samples = 0

    @property
    def estimation(self) -> float:
        """The mean of the current window."""
        return self.total / self.width if self.width else 0.0

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        self._insert(v)
        self.tick += 1
        if self.tick % self.clock != 0 or self.width <= self.grace_period:
            return None
        return self._detect()

    def _insert(self, v: float) -> None:
        if self.width:
            mean = self.total / self.width
            self.variance += self.width * (v - mean) ** 2 / (self.width + 1)
        self.width += 1
        self.total += v
        if not self.totals:
            self.totals.append([])
            self.variances.append([])
        self.totals[0].append(v)
        self.variances[0].append(0.0)
        level = 0
        while len(self.totals[level]) > self.max_buckets:
            size = 1 << level
            t1, t2 = self.totals[level][0], self.totals[level][1]
            v1, v2 = self.variances[level][0], self.variances[level][1]
            merged_var = v1 + v2 + size * size * (t1 / size - t2 / size) ** 2 / (2 * size)
            del self.totals[level][:2]
            del self.variances[level][:2]
            if level + 1 == len(self.totals):
                self.totals.append([])
                self.variances.append([])
            self.totals[level + 1].append(t1 + t2)
            self.variances[level + 1].append(merged_var)
            level += 1

    def _detect(self) -> Alarm | None:
        n0, u0 = 0, 0.0
        for level in range(len(self.totals) - 1, -1, -1):
            size = 1 << level
            for t in self.totals[level]:
                n0 += size
                u0 += t
                n1 = self.width - n0
                if n1 < self.min_window_length:
                    return None
                if n0 < self.min_window_length:
                    continue
                diff = (self.total - u0) / n1 - u0 / n0
                eps = self._epsilon(n0, n1)
                if abs(diff) > eps:
                    alarm = Alarm(
                        detector=self.name,
                        statistic=abs(diff),
                        threshold=eps,
                        samples=self.samples,
                        window=self.width,
                        direction="up" if diff > 0 else "down",
                    )
                    self.reset()
                    return alarm
        return None

    def _epsilon(self, n0: int, n1: int) -> float:
        c = self.min_window_length
        m_recip = 1.0 / (n0 - c + 1) + 1.0 / (n1 - c + 1)
        log_term = math.log(2.0 * math.log(self.width) / self.delta)
        var = self.variance / self.width
        return math.sqrt(2.0 * m_recip * var * log_term) + 2.0 / 3.0 * log_term * m_recip

    def state(self) -> dict[str, Any]:
        return {
            "totals": [list(level) for level in self.totals],
            "variances": [list(level) for level in self.variances],
            "width": self.width,
            "total": self.total,
            "variance": self.variance,
            "tick": self.tick,
            "samples": self.samples,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        totals = [[float(t) for t in level] for level in state["totals"]]
        variances = [[float(v) for v in level] for level in state["variances"]]
        if [len(level) for level in totals] != [len(level) for level in variances]:
            raise ValueError("ADWIN state: totals and variances do not have the same buckets")
        width = sum(len(level) << i for i, level in enumerate(totals))
        if width != int(state["width"]):
            raise ValueError(
                f"ADWIN state: buckets hold {width} values, width says {state['width']}"
            )
        self.totals, self.variances = totals, variances
        self.width = width
        self.total = float(state["total"])
        self.variance = float(state["variance"])
        self.tick = int(state["tick"])
        self.samples = int(state["samples"])
