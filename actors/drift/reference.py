"""The stream's own scale: a reference mean and standard deviation learnt from a warm-up.

CUSUM and Page-Hinkley thresholds are set in standard deviations of the stream, so the same
``(k, h)`` gives the same false-alarm rate whether the stream is an error indicator, a latency
in milliseconds or a cost in dollars (``actors.drift.calibration`` turns a target in-control
run length into ``h``). The reference is either given (a known target) or estimated from the
first ``warmup`` observations with Welford's update (numerically stable, and the same floats
on every replay).

Why the mean and standard deviation and not a robust pair (median, MAD): the run-length
approximations calibrate ``h`` in units of the standard deviation of the increments, and the
drift of an in-control CUSUM is zero only around the mean. For a skewed stream such as an
error indicator at 10 % the median is 0 and the MAD is 0, which would make every error look
like a 3-sigma jump. Outliers in the warm-up are the anomaly detectors' business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from actors.drift.base import at_least, observation
from actors.parameters import positive


class Reference:
    """Mean and standard deviation of a stream: given, or estimated from a warm-up.

    ``standardise(x)`` returns ``(x - mean) / sd`` once the reference is known, and ``None``
    while the warm-up is still collecting (the observation is folded into the estimate).
    A warm-up whose standard deviation is 0 (a constant stream) takes ``min_sd`` so that the
    constant gives 0 and any departure from it a very large standardised value.
    """

    def __init__(
        self,
        mean: float | None = None,
        sd: float | None = None,
        warmup: int = 200,
        min_sd: float = 1e-9,
    ) -> None:
        self.mean = None if mean is None else observation(mean)
        self.sd = None if sd is None else positive("sd", sd)
        self.warmup = at_least("warmup", warmup, 2)
        self.min_sd = positive("min_sd", min_sd)
        self.reset()

    @property
    def estimated(self) -> bool:
        """Whether a warm-up estimates any part of the reference."""
        return self.mean is None or self.sd is None

    def reset(self) -> None:
        """Forget the warm-up (a given mean and sd stay)."""
        self.n = 0
        self.values: list[float] = []
        self.running_mean = 0.0
        self.m2 = 0.0
        self.ready = not self.estimated
        self.mu = self.mean if self.mean is not None else 0.0
        self.sigma = self.sd if self.sd is not None else 1.0

    def standardise(self, x: float) -> float | None:
        if self.ready:
            return (x - self.mu) / self.sigma
        self.n += 1
        self.values.append(x)
        delta = x - self.running_mean
        self.running_mean += delta / self.n
        self.m2 += delta * (x - self.running_mean)
        if self.n >= self.warmup:
            if self.mean is None:
                self.mu = self.running_mean
            if self.sd is None:
                self.sigma = max(math.sqrt(self.m2 / (self.n - 1)), self.min_sd)
            self.ready = True
        return None

    def take_sample(self) -> npt.NDArray[np.float64]:
        """The warm-up observations, standardised by the reference they gave, once; the
        thresholds calibrated on them are the caller's to keep (the list is dropped)."""
        sample = (np.asarray(self.values, dtype=np.float64) - self.mu) / self.sigma
        self.values = []
        return sample

    def state(self) -> dict[str, Any]:
        return {
            "values": list(self.values),
            "n": self.n,
            "running_mean": self.running_mean,
            "m2": self.m2,
            "ready": self.ready,
            "mu": self.mu,
            "sigma": self.sigma,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        self.values = [float(v) for v in state["values"]]
        self.n = int(state["n"])
        self.running_mean = float(state["running_mean"])
        self.m2 = float(state["m2"])
        self.ready = bool(state["ready"])
        self.mu = float(state["mu"])
        self.sigma = float(state["sigma"])
