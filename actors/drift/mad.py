"""Median-absolute-deviation (modified z-score) anomaly detector over a sliding window."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from actors.drift.anomaly_window import AnomalyWindow
from actors.parameters import positive

MAD_TO_SD = 1.4826
"""1 / Phi^-1(3/4): the MAD of a Gaussian times this is its standard deviation."""
MEANAD_TO_SD = 1.253314
"""sqrt(pi / 2): the mean absolute deviation of a Gaussian times this is its standard
deviation; the fallback scale when more than half the window equals its median."""


class MAD(AnomalyWindow):
    r"""Flags :math:`x` when its modified z-score
    :math:`M = |x - \tilde x| / (1.4826\,\mathrm{MAD})` exceeds ``threshold``, with
    :math:`\tilde x` the median and MAD the median absolute deviation of the previous
    ``window`` observations (Iglewicz & Hoaglin 1993, who recommend 3.5).

    Median and MAD have a 50 % breakdown point, so earlier outliers in the window do not mask
    the next one, unlike :class:`~actors.drift.zscore.ZScore`. When the MAD is 0 (more than
    half the window at one value, e.g. an error indicator) the scale falls back to the mean
    absolute deviation times :math:`\sqrt{\pi/2}`; if that is 0 too the window is constant
    and any other value scores :math:`\infty`.

    References
    ----------
    B. Iglewicz and D. C. Hoaglin (1993), *How to Detect and Handle Outliers*, ASQC Quality
    Press.

    Examples
    --------
    >>> detector = MAD(window=100, min_samples=10)
    >>> [detector.update(x) for x in [0.0, 1.0, 2.0] * 5].count(None)
    15
    >>> detector.update(50.0).direction
    'up'
    """

    name: ClassVar[str] = "mad"

    def __init__(self, threshold: float = 3.5, window: int = 500, min_samples: int = 30) -> None:
        self.threshold = positive("threshold", threshold)
        super().__init__(window, min_samples)

    @property
    def limit(self) -> float:
        return self.threshold

    def score(self, history: np.ndarray, x: float) -> tuple[float, float]:
        median = float(np.median(history))
        deviations = np.abs(history - median)
        scale = MAD_TO_SD * float(np.median(deviations))
        if scale == 0.0:
            scale = MEANAD_TO_SD * float(deviations.mean())
        if scale == 0.0:
            return (0.0 if x == median else math.inf), median
        return abs(x - median) / scale, median
