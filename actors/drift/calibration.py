r"""Thresholds from a target false-alarm rate, rather than fixed constants.

A sequential detector on a stable stream will alarm sooner or later; what can be chosen is
how often. The target is an in-control average run length :math:`\mathrm{ARL}_0` (samples
between false alarms): one false alarm per 10,000 samples is ``arl0=10_000``.

CUSUM and Page-Hinkley (on the standardised stream, see ``actors.drift.reference``) take
their threshold :math:`h` from Siegmund's approximation of the run length of a one-sided
CUSUM :math:`S_t = \max(0, S_{t-1} + z_t - k)` of i.i.d. :math:`z_t` with mean
:math:`\mu` and unit variance (Siegmund 1985, eq. (2.57); Montgomery, *Introduction to
Statistical Quality Control*, section 9.1.6):

.. math::

    \mathrm{ARL}(\Delta) \approx \frac{e^{-2\Delta b} + 2\Delta b - 1}{2\Delta^2},
    \qquad \Delta = \mu - k,\quad b = h + 1.166,

with :math:`\mathrm{ARL} = b^2` at :math:`\Delta = 0`. In control :math:`\mu = 0`, so
:math:`\Delta = -k`. A two-sided scheme alarms when either side does, and the two sides are
nearly independent in control, so :math:`1/\mathrm{ARL}_2 = 1/\mathrm{ARL}_+ + 1/\mathrm{ARL}_-`:
each side is set to :math:`2\,\mathrm{ARL}_0`. :func:`cusum_threshold` inverts the formula by
bisection (it is increasing in :math:`h`).

The formula is for Gaussian increments, where :math:`2k` is the root :math:`\theta^*>0` of
:math:`E[e^{\theta (z - k)}] = 1` (the Wald / Cramér-Lundberg adjustment coefficient of the
random walk). For any other in-control distribution the same approximation holds with that
root and the walk's drift :math:`d = E[z - k] < 0` (Siegmund 1985, ch. X):

.. math::

    \mathrm{ARL} \approx \frac{e^{\theta^* b} - \theta^* b - 1}{\theta^* |d|}.

:func:`side_thresholds` solves for :math:`\theta^*` on the stream's own warm-up sample (the
empirical moment generating function), one root per side, so a skewed stream such as an
error indicator at 10 % gets a higher threshold for the side its rare large values push up,
and a lower one for the other side, instead of the Gaussian threshold that would alarm two to
three times too often.

ADWIN's :math:`\delta` bounds the probability that one check cuts a stationary window
(Bifet & Gavaldà 2007, Theorem 3.1); with a check every ``clock`` samples, a rate of at most
``rate`` false alarms per sample needs :math:`\delta \le \mathrm{rate}\cdot\mathrm{clock}`
(:func:`adwin_delta`). The bound is loose, so the realised rate is lower than the target.

:func:`false_alarm_rate` and :func:`calibrate` measure and tune any detector by simulation;
the tests and ``scripts/bench_drift.py`` use them.

References
----------
D. Siegmund (1985), *Sequential Analysis: Tests and Confidence Intervals*, Springer.
A. Bifet and R. Gavaldà (2007), "Learning from time-changing data with adaptive windowing",
*SIAM International Conference on Data Mining*.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from actors.parameters import non_negative, positive

SIEGMUND_CORRECTION = 1.166
"""The overshoot correction :math:`2 \\times 0.583` of Siegmund's approximation."""


def siegmund_arl(h: float, k: float, mu: float = 0.0) -> float:
    """Average run length of a one-sided CUSUM with threshold ``h`` and reference ``k`` on
    unit-variance increments of mean ``mu`` (Siegmund's approximation)."""
    b = h + SIEGMUND_CORRECTION
    delta = mu - k
    if abs(delta) < 1e-12:
        return b * b
    x = 2.0 * delta * b
    if -x > 700.0:
        return math.inf
    return (math.exp(-x) + x - 1.0) / (2.0 * delta * delta)


def cusum_threshold(arl0: float, k: float, sides: int = 2) -> float:
    """The threshold ``h`` (in standard deviations) at which a CUSUM with reference ``k``
    has in-control average run length ``arl0`` (``sides`` = 2 for the two-sided scheme)."""
    positive("arl0", arl0)
    non_negative("k", k)
    if sides not in (1, 2):
        raise ValueError(f"sides must be 1 or 2, got {sides!r}")
    target = arl0 * sides
    if siegmund_arl(0.0, k) >= target:
        return 0.0
    low, high = 0.0, 1.0
    while siegmund_arl(high, k) < target:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if siegmund_arl(mid, k) < target:
            low = mid
        else:
            high = mid
        if high - low < 1e-12:
            break
    return high


def adjustment_coefficient(increments: npt.NDArray[np.float64]) -> float:
    """The root :math:`\\theta^* > 0` of :math:`\\frac1n \\sum_i e^{\\theta x_i} = 1` for
    increments of negative mean; ``inf`` if no increment is positive (the walk never rises)."""
    x = np.asarray(increments, dtype=np.float64)
    if x.size == 0 or not float(x.mean()) < 0.0:
        raise ValueError("the increments of an in-control CUSUM must have a negative mean")
    top = float(x.max())
    if top <= 0.0:
        return math.inf
    log_n = math.log(x.size)

    def log_mgf(theta: float) -> float:
        t = theta * x
        peak = float(t.max())
        return peak + math.log(float(np.exp(t - peak).sum())) - log_n

    low, high = 0.0, 1.0
    while log_mgf(high) < 0.0:
        high *= 2.0
    for _ in range(100):
        mid = 0.5 * (low + high)
        if log_mgf(mid) < 0.0:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * high:
            break
    return high


def general_arl(h: float, theta: float, drift: float) -> float:
    """Siegmund's run length for increments with adjustment coefficient ``theta`` and mean
    ``-drift`` (``drift`` > 0), threshold ``h`` in standard deviations (``inf`` for a walk
    that cannot rise)."""
    if math.isinf(theta):
        return math.inf
    x = theta * (h + SIEGMUND_CORRECTION)
    if x > 700.0:
        return math.inf
    return (math.exp(x) - x - 1.0) / (theta * drift)


def side_thresholds(
    sample: npt.NDArray[np.float64], k: float, arl0: float, mean_error_sd: float = 0.0
) -> tuple[float, float]:
    """``(h_up, h_down)`` giving a two-sided CUSUM with reference ``k`` an in-control run
    length of ``arl0`` on a stream distributed like ``sample`` (standardised: mean 0, sd 1).

    Each side gets run length ``2 * arl0``. ``mean_error_sd`` is the standard error of the
    reference mean the stream is standardised by (:math:`1/\\sqrt{n}` after a warm-up of
    :math:`n`): the true in-control mean then sits at an unknown :math:`\\varepsilon` from 0,
    which shortens one side's run length by more than it lengthens the other's, so the rate
    :math:`E_\\varepsilon[1/\\mathrm{ARL}(h; \\varepsilon)]` is averaged over
    :math:`\\varepsilon \\sim N(0, \\mathrm{mean\\_error\\_sd}^2)` by Gauss-Hermite quadrature
    (9 nodes) before it is matched to the target. A side whose increments cannot rise (a
    constant sample) takes the Gaussian threshold.
    """
    z = np.asarray(sample, dtype=np.float64)
    if mean_error_sd > 0.0:
        nodes, weights = np.polynomial.hermite_e.hermegauss(9)
        errors = (nodes * mean_error_sd).tolist()
        shares = (weights / weights.sum()).tolist()
    else:
        errors, shares = [0.0], [1.0]
    target_rate = 1.0 / (2.0 * arl0)
    thresholds = []
    for side in (z, -z):
        if float(np.max(side)) <= float(np.min(side)) + 1e-12:
            thresholds.append(cusum_threshold(arl0, k))
            continue
        arls: list[Callable[[float], float]] = []
        for eps in errors:
            increments = side - k + eps
            drift = -float(increments.mean())
            if drift > 1e-9:
                theta = adjustment_coefficient(increments)
                arls.append(functools.partial(general_arl, theta=theta, drift=drift))
            else:
                arls.append(functools.partial(siegmund_arl, k=k, mu=eps))

        def rate(h: float, arls: list[Callable[[float], float]] = arls) -> float:
            return math.fsum(w / arl(h) for w, arl in zip(shares, arls, strict=True))

        if rate(0.0) <= target_rate:
            thresholds.append(0.0)
            continue
        low, high = 0.0, 1.0
        while rate(high) > target_rate:
            high *= 2.0
        for _ in range(200):
            mid = 0.5 * (low + high)
            if rate(mid) > target_rate:
                low = mid
            else:
                high = mid
            if high - low < 1e-10:
                break
        thresholds.append(high)
    return thresholds[0], thresholds[1]


def adwin_delta(rate: float, clock: int = 32) -> float:
    """ADWIN's confidence ``delta`` for at most ``rate`` false alarms per sample, checking
    every ``clock`` samples (a union bound over the checks; conservative)."""
    r = positive("rate", rate)
    return min(r * clock, 0.5)


class Updatable(Protocol):
    """Anything with ``update(x)`` returning something truthy on an alarm (ours and River's
    adapters alike)."""

    def update(self, x: float) -> object: ...


def false_alarm_rate(detector: Updatable, stream: Iterable[float]) -> tuple[int, int]:
    """``(alarms, samples)`` of ``detector`` over a stream assumed stable."""
    alarms = samples = 0
    for x in stream:
        samples += 1
        if detector.update(x):
            alarms += 1
    return alarms, samples


def calibrate(
    make: Callable[[float], Updatable],
    streams: Callable[[], Iterable[Iterable[float]]],
    target_rate: float,
    low: float,
    high: float,
    *,
    increasing: bool = True,
    log_scale: bool = False,
    iterations: int = 12,
) -> float:
    """The parameter at which ``make(parameter)`` has about ``target_rate`` false alarms per
    sample on ``streams()`` (a fresh iterable of stable streams per call), by bisection.

    ``increasing`` says whether a larger parameter gives fewer alarms (a threshold) or more
    (ADWIN's ``delta``: pass ``increasing=False``); ``log_scale`` bisects the logarithm, for
    parameters that span decades. The answer errs on the side of fewer alarms.
    """
    positive("target_rate", target_rate)

    def rate(param: float) -> float:
        alarms = samples = 0
        for stream in streams():
            a, s = false_alarm_rate(make(param), stream)
            alarms += a
            samples += s
        return alarms / max(samples, 1)

    lo, hi = (math.log(low), math.log(high)) if log_scale else (low, high)
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        param = math.exp(mid) if log_scale else mid
        too_many = rate(param) > target_rate
        if too_many == increasing:
            lo = mid
        else:
            hi = mid
    safe = hi if increasing else lo
    return math.exp(safe) if log_scale else safe
