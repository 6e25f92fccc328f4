"""Interquartile-range (Tukey fence) anomaly detector over a sliding window."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from actors.drift.anomaly_window import AnomalyWindow
from actors.parameters import positive


class IQR(AnomalyWindow):
    r"""Flags :math:`x` outside Tukey's fences :math:`[Q_1 - k\,\mathrm{IQR},\ Q_3 +
    k\,\mathrm{IQR}]` of the previous ``window`` observations (Tukey 1977, *Exploratory Data
    Analysis*).

    The score is the distance beyond the nearer quartile in IQRs,
    :math:`\max(Q_1 - x, x - Q_3, 0) / \mathrm{IQR}`, so the alarm level is :math:`k`:
    1.5 marks Tukey's "outside" values (0.7 % of a Gaussian stream), 3.0 (the default) his
    "far out" ones (about 2 in a million). Quartiles use linear interpolation (numpy's
    default). A window with IQR 0 flags any value outside :math:`[Q_1, Q_3]`.

    Examples
    --------
    >>> detector = IQR(window=100, min_samples=10)
    >>> [detector.update(float(x)) for x in range(20)].count(None)
    20
    >>> detector.update(100.0).statistic > 3.0
    True
    """

    name: ClassVar[str] = "iqr"

    def __init__(self, k: float = 3.0, window: int = 500, min_samples: int = 30) -> None:
        self.k = positive("k", k)
        super().__init__(window, min_samples)

    @property
    def limit(self) -> float:
        return self.k

    def score(self, history: np.ndarray, x: float) -> tuple[float, float]:
        q1, median, q3 = (float(q) for q in np.quantile(history, [0.25, 0.5, 0.75]))
        beyond = max(q1 - x, x - q3, 0.0)
        iqr = q3 - q1
        if iqr == 0.0:
            return (0.0 if beyond == 0.0 else math.inf), median
        return beyond / iqr, median
