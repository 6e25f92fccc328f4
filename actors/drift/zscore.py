"""Z-score anomaly detector over a sliding window."""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import ClassVar

import numpy as np

from actors.drift.anomaly_window import AnomalyWindow
from actors.drift.base import probability
from actors.parameters import positive


class ZScore(AnomalyWindow):
    r"""Flags :math:`x` when :math:`|x - \bar x| / s > z`, with :math:`\bar x, s` the mean and
    sample standard deviation of the previous ``window`` observations.

    ``threshold`` is :math:`z`; left ``None`` it is set from the target false-alarm ``rate``
    per observation of a Gaussian stream, :math:`z = \Phi^{-1}(1 - \mathrm{rate}/2)`
    (3.89 for one in 10,000). A window with :math:`s = 0` flags any value other than its
    constant (score :math:`\infty`). Sensitive to outliers in the window itself; see
    :class:`~actors.drift.mad.MAD` for the robust version.

    Examples
    --------
    >>> detector = ZScore(window=50, min_samples=10)
    >>> [detector.update(x) for x in [0.0, 1.0] * 10].count(None)
    20
    >>> detector.update(10.0).direction
    'up'
    """

    name: ClassVar[str] = "zscore"

    def __init__(
        self,
        threshold: float | None = None,
        rate: float = 1e-4,
        window: int = 500,
        min_samples: int = 30,
    ) -> None:
        self.threshold = None if threshold is None else positive("threshold", threshold)
        self.rate = probability("rate", rate)
        self.z = (
            self.threshold
            if self.threshold is not None
            else NormalDist().inv_cdf(1.0 - self.rate / 2.0)
        )
        super().__init__(window, min_samples)

    @property
    def limit(self) -> float:
        return self.z

    def score(self, history: np.ndarray, x: float) -> tuple[float, float]:
        mean = float(history.mean())
        sd = float(history.std(ddof=1))
        if sd == 0.0:
            return (0.0 if x == mean else math.inf), mean
        return abs(x - mean) / sd, mean
