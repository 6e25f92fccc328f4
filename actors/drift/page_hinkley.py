"""Two-sided Page-Hinkley test on the standardised stream."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from actors.drift.base import Alarm, Detector, at_least, observation
from actors.drift.calibration import cusum_threshold, side_thresholds
from actors.drift.reference import Reference
from actors.parameters import non_negative, positive


class PageHinkley(Detector):
    r"""Two-sided Page-Hinkley test (Page 1954; Hinkley 1971), on the stream's own scale.

    Where CUSUM measures departures from a reference mean, Page-Hinkley measures them from
    the running mean :math:`\bar z_t` of everything since the test (re)started, so it needs no
    known in-control mean. On :math:`z_t = x_t/\sigma_0` (``sd``, or the standard deviation of
    the first ``warmup`` observations; the warm-up also starts the running mean):

    .. math::

        m^+_T = \sum_{t \le T} (z_t - \bar z_t - \delta),\quad
        m^-_T = \sum_{t \le T} (z_t - \bar z_t + \delta),

    and the test alarms upward when :math:`m^+_T - \min_{t \le T} m^+_t > \lambda` and
    downward when :math:`\max_{t \le T} m^-_t - m^-_T > \lambda`. This is River's
    ``PageHinkley`` without its forgetting factor and with :math:`\delta, \lambda` in standard
    deviations instead of the stream's units, which is what lets one setting serve streams of
    any scale. :math:`\lambda` is given (``threshold``) or set from ``arl0`` by the CUSUM
    approximation with :math:`k = \delta` (after the warm-up the running mean is nearly fixed
    and the test is a CUSUM around it): Gaussian for a known ``sd``, else one threshold per
    side from the warm-up sample (:func:`~actors.drift.calibration.side_thresholds`), so a
    skewed stream keeps the target rate (``tests/unit/drift/test_calibration.py`` measures
    the realised rate).

    After an alarm the test restarts from a new warm-up.

    Parameters
    ----------
    delta
        Tolerated drift :math:`\delta` in standard deviations (half the shift to detect).
    threshold
        :math:`\lambda` in standard deviations; ``None`` derives it from ``arl0``.
    arl0
        Target mean number of samples between false alarms.
    sd
        A known standard deviation; ``None`` estimates it from the warm-up.
    warmup
        Observations before the test starts.

    References
    ----------
    E. S. Page (1954), "Continuous inspection schemes", *Biometrika* 41(1/2), 100-115.
    D. V. Hinkley (1971), "Inference about the change-point from cumulative sum tests",
    *Biometrika* 58(3), 509-523.

    Examples
    --------
    >>> test = PageHinkley(delta=0.1, threshold=5.0, sd=1.0, warmup=10)
    >>> [test.update(0.0) for _ in range(10)].count(None)
    10
    >>> alarms = [test.update(3.0) for _ in range(5)]
    >>> next(a for a in alarms if a).direction
    'up'
    """

    name: ClassVar[str] = "page_hinkley"

    def __init__(
        self,
        delta: float = 0.25,
        threshold: float | None = None,
        arl0: float = 10_000.0,
        sd: float | None = None,
        warmup: int = 500,
    ) -> None:
        self.delta = non_negative("delta", delta)
        self.arl0 = positive("arl0", arl0)
        self.threshold = None if threshold is None else positive("threshold", threshold)
        self.lam = (
            self.threshold if self.threshold is not None else cusum_threshold(arl0, self.delta)
        )
        self.sd = None if sd is None else positive("sd", sd)
        self.warmup = at_least("warmup", warmup, 2)
        self.reference = Reference(0.0, sd, warmup)
        self.reset()

    def reset(self) -> None:
        self.reference.reset()
        self.samples = 0
        self.n = 0
        self.offset = 0.0
        self.warm_sum = 0.0
        self.mean = 0.0
        self.m_up = 0.0
        self.min_up = 0.0
        self.m_down = 0.0
        self.max_down = 0.0
        self.since_min = 0
        self.since_max = 0
        self.lam_up = self.lam
        self.lam_down = self.lam

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        if self.n == 0 and self.samples == 1:
            self.offset = v
        if not self.reference.ready:
            self.reference.standardise(v - self.offset)
            self.warm_sum += v - self.offset
            if not self.reference.ready:
                return None
            self.n = self.samples
            self.mean = self.warm_sum / self.reference.sigma / self.n
            sample = self.reference.take_sample()
            if self.threshold is None:
                centred = sample - sample.mean()
                self.lam_up, self.lam_down = side_thresholds(centred, self.delta, self.arl0)
            return None
        z = (v - self.offset) / self.reference.sigma
        self.n += 1
        self.mean += (z - self.mean) / self.n
        dev = z - self.mean
        self.m_up += dev - self.delta
        self.m_down += dev + self.delta
        if self.m_up < self.min_up:
            self.min_up, self.since_min = self.m_up, 0
        else:
            self.since_min += 1
        if self.m_down > self.max_down:
            self.max_down, self.since_max = self.m_down, 0
        else:
            self.since_max += 1
        up_stat = self.m_up - self.min_up
        down_stat = self.max_down - self.m_down
        over_up = up_stat - self.lam_up
        over_down = down_stat - self.lam_down
        if over_up <= 0.0 and over_down <= 0.0:
            return None
        up = over_up >= over_down
        alarm = Alarm(
            detector=self.name,
            statistic=up_stat if up else down_stat,
            threshold=self.lam_up if up else self.lam_down,
            samples=self.samples,
            window=self.since_min if up else self.since_max,
            direction="up" if up else "down",
        )
        self.reset()
        return alarm

    def state(self) -> dict[str, Any]:
        return {
            "reference": self.reference.state(),
            "samples": self.samples,
            "n": self.n,
            "offset": self.offset,
            "warm_sum": self.warm_sum,
            "mean": self.mean,
            "m_up": self.m_up,
            "min_up": self.min_up,
            "m_down": self.m_down,
            "max_down": self.max_down,
            "since_min": self.since_min,
            "since_max": self.since_max,
            "lam_up": self.lam_up,
            "lam_down": self.lam_down,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        self.reference.load(state["reference"])
        self.samples = int(state["samples"])
        self.n = int(state["n"])
        keys = ("offset", "warm_sum", "mean", "m_up", "min_up", "m_down", "max_down")
        for key in (*keys, "lam_up", "lam_down"):
            setattr(self, key, float(state[key]))
        self.since_min = int(state["since_min"])
        self.since_max = int(state["since_max"])
