"""Two-sample Kolmogorov-Smirnov test, exact, and the detector that runs it on a stream."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from actors.drift.base import at_least, probability
from actors.drift.two_windows import TwoWindowTest

MAX_EXACT_N = 10_000
"""Largest sample the exact p-value is computed for (scipy's ``method="auto"`` switches to
the asymptotic distribution above it); the detector's windows stay below."""


def ks_2samp(
    a: Sequence[float] | npt.NDArray[np.float64], b: Sequence[float] | npt.NDArray[np.float64]
) -> tuple[float, float]:
    r"""Statistic and exact two-sided p-value of the two-sample Kolmogorov-Smirnov test.

    :math:`D = \sup_x |F_a(x) - F_b(x)|` over the empirical distribution functions. Under
    the null hypothesis every interleaving of the pooled sorted samples is equally likely, so
    :math:`P(D \ge d)` is one minus the probability that a uniformly random lattice path from
    :math:`(0, 0)` to :math:`(m, n)` stays strictly inside the band
    :math:`|i/m - j/n| < d` (Gnedenko & Korolyuk 1951; Hodges 1958). The path probability is
    propagated diagonal by diagonal with the transition probabilities of drawing without
    replacement, so no binomial coefficient is formed and nothing overflows. The band is
    tested in integers, :math:`|i\,n/g - j\,m/g| < h` with :math:`g = \gcd(m, n)` and
    :math:`h = \mathrm{round}(d \cdot \mathrm{lcm}(m, n))`, as scipy does; the result equals
    ``scipy.stats.ks_2samp(a, b)`` (whose default is exact up to 10,000 per sample) within
    1e-9 (``tests/unit/drift/test_ks.py``).

    References
    ----------
    J. L. Hodges (1958), "The significance probability of the Smirnov two-sample test",
    *Arkiv för Matematik* 3(43), 469-486.
    """
    x = np.sort(np.asarray(a, dtype=np.float64))
    y = np.sort(np.asarray(b, dtype=np.float64))
    m, n = x.size, y.size
    if m == 0 or n == 0:
        raise ValueError("ks_2samp needs two non-empty samples")
    if max(m, n) > MAX_EXACT_N:
        raise ValueError(f"ks_2samp computes exact p-values for samples of at most {MAX_EXACT_N}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("ks_2samp needs finite values")
    pooled = np.concatenate([x, y])
    diffs = (
        np.searchsorted(x, pooled, side="right") / m - np.searchsorted(y, pooled, side="right") / n
    )
    d = float(max(np.max(diffs), np.clip(-np.min(diffs), 0.0, 1.0)))
    g = math.gcd(m, n)
    lcm = (m // g) * n
    h = round(d * lcm)
    if h == 0:
        return 0.0, 1.0
    return h / lcm, min(max(_prob_outside(m, n, g, h), 0.0), 1.0)


def _prob_outside(m: int, n: int, g: int, h: int) -> float:
    """P(some point (i, j) of a random path has |i n/g - j m/g| >= h)."""
    mg, ng = m // g, n // g
    i = np.arange(m + 1)
    inside = np.zeros(m + 1)
    inside[0] = 1.0
    for s in range(1, m + n + 1):
        remaining = m + n - s + 1
        j_prev = s - 1 - i
        nxt = np.zeros(m + 1)
        nxt[1:] = inside[:-1] * (m - i[:-1]) / remaining
        nxt += np.where(j_prev >= 0, inside * (n - j_prev) / remaining, 0.0)
        j = s - i
        keep = (j >= 0) & (j <= n) & (np.abs(i * ng - j * mg) < h)
        inside = np.where(keep, nxt, 0.0)
    return 1.0 - float(inside[m])


class KSTest(TwoWindowTest):
    r"""Kolmogorov-Smirnov drift test between a reference window and the current one.

    The first ``reference_size`` observations after a (re)start are the reference; from then
    on the last ``window_size`` observations are the current window, and every ``every``
    observations (once the window is full) :func:`ks_2samp` compares the two. A p-value below
    ``alpha`` is an alarm, and the test restarts with the next observations as its new
    reference. Unlike CUSUM it sees any change in distribution (spread, shape), not only the
    mean. With ``every`` observations between tests, the false-alarm rate per sample is at
    most ``alpha / every`` (overlapping windows make successive tests positively dependent,
    so the realised rate is lower): ``alpha = rate * every`` meets a target ``rate``.

    The alarm's ``statistic`` is :math:`D` and its ``threshold`` is ``alpha``, the level the
    p-value fell below. One test costs :math:`O((m + n) \cdot m)` vectorised operations
    (about 17 ms for two windows of 500), which ``every`` spreads over that many observations.

    Parameters
    ----------
    reference_size, window_size
        Sizes of the two samples (at most 10,000 each).
    alpha
        Significance level of one test.
    every
        Observations between tests.
    """

    name: ClassVar[str] = "ks"

    def __init__(
        self,
        reference_size: int = 500,
        window_size: int = 500,
        alpha: float = 0.005,
        every: int = 50,
    ) -> None:
        self.reference_size = at_least("reference_size", reference_size, 1)
        self.window_size = at_least("window_size", window_size, 1)
        for label, size in (("reference_size", reference_size), ("window_size", window_size)):
            if size > MAX_EXACT_N:
                raise ValueError(f"{label} must be at most {MAX_EXACT_N}, got {size!r}")
        self.alpha = probability("alpha", alpha)
        self.every = at_least("every", every, 1)
        self.reset()

    def compare(self, reference: Sequence[float], current: Sequence[float]) -> float | None:
        """D, if its p-value is below ``alpha``."""
        statistic, pvalue = ks_2samp(reference, current)
        return statistic if pvalue < self.alpha else None

    @property
    def level(self) -> float:
        return self.alpha
