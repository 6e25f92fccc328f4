"""Population stability index between a reference window and the current one."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from actors.drift.base import Alarm, Detector, at_least, observation, positive

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


class PSI(Detector):
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

    def reset(self) -> None:
        self.reference: list[float] = []
        self.window: deque[float] = deque(maxlen=self.window_size)
        self.samples = 0
        self.since_test = 0

    def update(self, x: float) -> Alarm | None:
        v = observation(x)
        self.samples += 1
        if len(self.reference) < self.reference_size:
            self.reference.append(v)
            return None
        self.window.append(v)
        self.since_test += 1
        if len(self.window) < self.window_size or self.since_test < self.every:
            return None
        self.since_test = 0
        index = psi(self.reference, list(self.window), self.bins)
        if index <= self.threshold:
            return None
        ref_mean = math.fsum(self.reference) / len(self.reference)
        cur_mean = math.fsum(self.window) / len(self.window)
        alarm = Alarm(
            detector=self.name,
            statistic=index,
            threshold=self.threshold,
            samples=self.samples,
            window=len(self.window),
            direction="up" if cur_mean > ref_mean else "down",
        )
        self.reset()
        return alarm

    def state(self) -> dict[str, Any]:
        return {
            "reference": list(self.reference),
            "window": list(self.window),
            "samples": self.samples,
            "since_test": self.since_test,
        }

    def load(self, state: Mapping[str, Any]) -> None:
        reference = [float(v) for v in state["reference"]]
        window = [float(v) for v in state["window"]]
        if len(reference) > self.reference_size or len(window) > self.window_size:
            raise ValueError("PSI state: a window is longer than its configured size")
        self.reference = reference
        self.window = deque(window, maxlen=self.window_size)
        self.samples = int(state["samples"])
        self.since_test = int(state["since_test"])
