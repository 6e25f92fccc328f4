"""The sufficient statistics of one arm's metric: count, mean and sample variance.

An experiment actor keeps running sums per arm; the tests here need only these three numbers,
so they never see the individual observations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import msgspec


class SampleSummary(msgspec.Struct, frozen=True):
    """Count ``n``, ``mean`` and unbiased sample ``variance`` (divisor ``n - 1``) of a sample.

    With ``n < 2`` the variance is undefined; it is then stored as given (NaN by the
    constructors below) and the tests that need it report NaN.

    >>> SampleSummary.from_values([1.0, 2.0, 4.0])
    SampleSummary(n=3, mean=2.3333333333333335, variance=2.3333333333333335)
    """

    n: int
    mean: float
    variance: float

    @classmethod
    def from_values(cls, values: Iterable[float]) -> SampleSummary:
        """Summarise observations with two-pass sums (exact mean, then squared deviations)."""
        data = [float(v) for v in values]
        n = len(data)
        if n == 0:
            return cls(0, math.nan, math.nan)
        mean = math.fsum(data) / n
        if n < 2:
            return cls(n, mean, math.nan)
        return cls(n, mean, math.fsum((v - mean) ** 2 for v in data) / (n - 1))

    @classmethod
    def from_sums(cls, n: int, total: float, total_squares: float) -> SampleSummary:
        r"""Summarise from running sums :math:`\sum x` and :math:`\sum x^2`.

        :math:`s^2 = (\sum x^2 - (\sum x)^2/n)/(n - 1)` loses about
        :math:`\log_{10}(\bar x^2 / s^2)` digits to cancellation when the mean is large
        compared with the spread; it is clamped at zero so rounding never makes it negative.
        """
        if n <= 0:
            return cls(0, math.nan, math.nan)
        mean = total / n
        if n < 2:
            return cls(n, mean, math.nan)
        return cls(n, mean, max(0.0, (total_squares - total * mean) / (n - 1)))

    @property
    def standard_error_squared(self) -> float:
        r"""The squared standard error of the mean, :math:`s^2/n`."""
        return self.variance / self.n if self.n > 0 else math.nan
