"""Population stability index between a reference window and the current one."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.drift.base import at_least
from actors.drift.two_windows import TwoWindowTest
from actors.parameters import positive

EMPTY_BIN_SHARE = 1e-4
"""Share given to an empty bin so its logarithm is finite (the convention of Evidently and
most PSI implementations)."""


def quantile_edges(reference: Sequence[float], bins: int) -> list[float]:
    """Interior bin edges at the reference's ``1/bins, ..., (bins-1)/bins`` quantiles, with
    repeated edges merged (a discrete stream gets one bin per value it takes)."""
    qs = np.quantile(np.asarray(reference, dtype=np.float64), np.arange(1, bins) / bins)
    return [float(e) for e in np.unique(qs)]


def bin_shares(values: Sequence[float], edges: Sequence[float]) -> np.ndarray:
    """Share of ``values`` in each bin ``(-inf, e_0], (e_0, e_1], ..., (e_last, inf)``, empty
    bins floored at :data:`EMPTY_BIN_SHARE`."""
    idx = np.searchsorted(np.asarray(edges, dtype=np.float64), np.asarray(values), side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(np.float64)
    return np.maximum(counts / max(len(values), 1), EMPTY_BIN_SHARE)


def psi(reference: Sequence[float], current: Sequence[float], bins: int = 10) -> float:
    r"""Population stability index of ``current`` against ``reference``:

    .. math:: \mathrm{PSI} = \sum_i (c_i - r_i) \ln\frac{c_i}{r_i},

    over bins at the reference's quantiles, with :math:`r_i, c_i` the shares of each sample in
    bin :math:`i` (Siddiqi 2006, *Credit Risk Scorecards*, ch. 8; Yurdakul 2018). It is the
    symmetrised Kullback-Leibler divergence :math:`KL(c\|r) + KL(r\|c)` of the binned
    distributions. Rules of thumb: below 0.1 no change, 0.1-0.2 moderate (Evidently's alarm
    level), above 0.2 significant (the usual alarm level).
    """
    if not reference or not current:
        raise ValueError("psi needs two non-empty samples")
    edges = quantile_edges(reference, bins)
    r = bin_shares(reference, edges)
    c = bin_shares(current, edges)
    return math.fsum(((c - r) * np.log(c / r)).tolist())


class PSI(TwoWindowTest):
    r"""Population-stability-index drift test between a reference window and the current one.

    The first ``reference_size`` observations after a (re)start are the reference, binned at
    its quantiles (:func:`psi`); from then on the last ``window_size`` observations are the
    current window, and every ``every`` observations (once it is full) an index above
    ``threshold`` is an alarm, after which the test restarts with a new reference.
    ``threshold`` is configurable because practice differs: 0.1 is Evidently's default alarm
    level, 0.2 the common one. Like KS it sees a change of shape or spread, not only of the
    mean; unlike KS it has no sampling distribution, so its false-alarm rate depends on the
    window sizes (with 10 bins and windows of 500, a stable stream's PSI is about
    :math:`(B-1)(1/n_r + 1/n_c) \approx 0.036`).

    Parameters
    ----------
    threshold
        Alarm level of the index (0.2 by default; 0.1 is Evidently's).
    bins
        Number of quantile bins of the reference.
    reference_size, window_size, every
        Window sizes and observations between tests.
    """

    name: ClassVar[str] = "psi"

    def __init__(
        self,
        threshold: float = 0.2,
        bins: int = 10,
        reference_size: int = 500,
        window_size: int = 500,
        every: int = 50,
    ) -> None:
        self.threshold = positive("threshold", threshold)
        self.bins = at_least("bins", bins, 2)
        self.reference_size = at_least("reference_size", reference_size, bins)
        self.window_size = at_least("window_size", window_size, 1)
        self.every = at_least("every", every, 1)
        self.reset()

    def compare(self, reference: Sequence[float], current: Sequence[float]) -> float | None:
        """The index, if above ``threshold``."""
        index = psi(reference, current, self.bins)
        return index if index > self.threshold else None

    @property
    def level(self) -> float:
        return self.threshold
