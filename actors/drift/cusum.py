"""Two-sided CUSUM on the standardised stream: the optimal detector of a known mean shift."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from actors.drift.base import Alarm, Detector, at_least, observation
from actors.drift.calibration import cusum_threshold, side_thresholds
from actors.drift.reference import Reference
from actors.parameters import non_negative, positive


class CUSUM(Detector):
    r"""Two-sided cumulative sum control chart (Page 1954).

    On the standardised observation :math:`z_t = (x_t - \mu_0)/\sigma_0`,

    .. math::

        S^+_t = \max(0, S^+_{t-1} + z_t - k), \qquad S^-_t = \max(0, S^-_{t-1} - z_t - k),

    and the chart alarms when :math:`S^+_t > h` (the mean rose) or :math:`S^-_t > h` (it
    fell). With :math:`k` half the shift to detect (in standard deviations), CUSUM minimises
    the worst-case detection delay among detectors with the same false-alarm rate (Lorden
    1971; Moustakides 1986). :math:`\mu_0, \sigma_0` are given or estimated from the first
    ``warmup`` observations (``actors.drift.reference``); :math:`h` is given (``threshold``)
    or set from the target in-control run length ``arl0`` by Siegmund's approximation
    (``actors.drift.calibration``): for a known reference the Gaussian form, for an estimated
    one the general form on the warm-up sample, one threshold per side
    (:func:`~actors.drift.calibration.side_thresholds`), so a skewed stream keeps the
    target rate.

    After an alarm the chart restarts, and an estimated reference is learnt again from the
    next ``warmup`` observations, so the chart then watches the stream's new level.

    Parameters
    ----------
    k
        Reference value (allowance) in standard deviations: half the shift to detect.
    threshold
        :math:`h` in standard deviations; ``None`` derives it from ``arl0``.
    arl0
        Target mean number of samples between false alarms (used when ``threshold`` is None).
    mean, sd
        A known in-control mean and standard deviation; ``None`` estimates them.
    warmup
        Number of observations that estimate the reference (1000 by default: the mean's
        estimation error moves one side's drift towards zero, and the calibration averages
        over it, but a shorter warm-up needs a higher threshold for the same rate).

    References
    ----------
    E. S. Page (1954), "Continuous inspection schemes", *Biometrika* 41(1/2), 100-115.
    G. Lorden (1971), "Procedures for reacting to a change in distribution", *Ann. Math.
    Statist.* 42(6).

    Examples
    --------
    >>> chart = CUSUM(k=0.5, threshold=5.0, mean=0.0, sd=1.0)
    >>> [chart.update(0.0) for _ in range(3)]
    [None, None, None]
    >>> alarms = [chart.update(2.0) for _ in range(4)]
    >>> alarms[-1].direction, alarms[-1].samples
    ('up', 7)
    """

    name: ClassVar[str] = "cusum"

    def __init__(
        self,
        k: float = 0.25,
        threshold: float | None = None,
        arl0: float = 10_000.0,
        mean: float | None = None,
        sd: float | None = None,
        warmup: int = 1000,
    ) -> None:
        self.k = non_negative("k", k)
        self.arl0 = positive("arl0", arl0)
        self.threshold = None if threshold is None else positive("threshold", threshold)
        self.h = self.threshold if self.threshold is not None else cusum_threshold(arl0, self.k)
        """The Gaussian threshold (both sides), until a warm-up sample calibrates each side."""
        self.reference = Reference(mean, sd, warmup)
        self.mean, self.sd = self.reference.mean, self.reference.sd
        self.warmup = at_least("warmup", warmup, 2)
        self.reset()

    def reset(self) -> None:
        self.reference.reset()
        self._restart()
        self.samples = 0
        self.h_up = self.h
        self.h_down = self.h

    def _restart(self) -> None:
        self.s_up = 0.0
        self.s_down = 0.0
        self.run_up = 0
        self.run_down = 0

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        z = self.reference.standardise(v)
        if z is None:
            if self.reference.ready:
                sample = self.reference.take_sample()
                if self.threshold is None:
                    self.h_up, self.h_down = side_thresholds(
                        sample, self.k, self.arl0, mean_error_sd=1.0 / math.sqrt(sample.size)
                    )
            return None
        self.s_up = max(0.0, self.s_up + z - self.k)
        self.s_down = max(0.0, self.s_down - z - self.k)
        self.run_up = self.run_up + 1 if self.s_up > 0.0 else 0
        self.run_down = self.run_down + 1 if self.s_down > 0.0 else 0
        over_up = self.s_up - self.h_up
        over_down = self.s_down - self.h_down
        if over_up <= 0.0 and over_down <= 0.0:
            return None
        up = over_up >= over_down
        alarm = Alarm(
            detector=self.name,
            statistic=self.s_up if up else self.s_down,
            threshold=self.h_up if up else self.h_down,
            samples=self.samples,
            window=self.run_up if up else self.run_down,
            direction="up" if up else "down",
        )
        if self.reference.estimated:
            self.reset()
        else:
            self._restart()
            self.samples = 0
        return alarm

    def state(self) -> dict[str, Any]:
        return {
            "reference": self.reference.state(),
            "s_up": self.s_up,
            "s_down": self.s_down,
            "run_up": self.run_up,
            "run_down": self.run_down,
            "samples": self.samples,
            "h_up": self.h_up,
            "h_down": self.h_down,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        self.reference.load(state["reference"])
        self.s_up = float(state["s_up"])
        self.s_down = float(state["s_down"])
        self.run_up = int(state["run_up"])
        self.run_down = int(state["run_down"])
        self.samples = int(state["samples"])
        self.h_up = float(state["h_up"])
        self.h_down = float(state["h_down"])
