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
bisection (it is increasing in :math:`h`). The approximation is for Gaussian increments; for
a skewed stream (an error indicator) use :func:`calibrate` on a simulated or bootstrapped
stable stream instead.

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

import math
from collections.abc import Callable, Iterable
from typing import Protocol

from actors.drift.base import non_negative, positive

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
