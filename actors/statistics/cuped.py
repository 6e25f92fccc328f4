r"""CUPED: variance reduction by regression on a covariate measured before assignment.

Deng, Xu, Kohavi & Walker (2013) replace each unit's metric :math:`Y` by
:math:`Y - \theta(X - \bar X)`, where :math:`X` is a covariate fixed before the unit was
assigned (for LLM traffic: input tokens, the user's past quality or cost). Because
assignment is random, :math:`X` has the same distribution in every arm, so the adjustment
removes no effect, only noise: the variance falls by the factor :math:`1 - \rho^2`, with
:math:`\rho` the correlation of :math:`Y` and :math:`X`.

Here :math:`\theta` is pooled within arms,

.. math:: \theta = \frac{\sum_k \sum_{i \in k} (x_i - \bar x_k)(y_i - \bar y_k)}
                        {\sum_k \sum_{i \in k} (x_i - \bar x_k)^2},

the slope of the regression :math:`Y \sim \text{arm} + X`. With it the adjusted difference
of two arms, :math:`(\bar y_B - \bar y_A) - \theta(\bar x_B - \bar x_A)`, is exactly that
regression's arm coefficient (ANCOVA), which the tests check against statsmodels' OLS.
(Deng et al. pool over all units ignoring the arm; under randomisation the two slopes
differ by :math:`O(1/n)`, and the within-arm one does not absorb the treatment effect
into :math:`\theta`.) Each arm's adjusted mean is :math:`\bar y_k - \theta(\bar x_k - \bar x)`
with :math:`\bar x` the mean of :math:`X` over all units, and its adjusted unit variance
:math:`(S_{yy,k} - 2\theta S_{xy,k} + \theta^2 S_{xx,k})/(n_k - 1)`; the results are
:class:`SampleSummary` values that go straight into :func:`welch_ttest` or the sequential
test. As in the paper (and the engines), :math:`\theta` is treated as known: its own
estimation error is :math:`O(1/n)` and ignored.

The reported ``variance_factor`` is :math:`1 - \rho^2` with the pooled within-arm
correlation :math:`\rho^2 = S_{xy}^2/(S_{xx} S_{yy})`: the residual sum of squares of
:math:`Y \sim \text{arm} + X` over that of :math:`Y \sim \text{arm}`. A covariate with no
spread gives :math:`\theta = 0` and no adjustment.

References
----------
A. Deng, Y. Xu, R. Kohavi and T. Walker (2013), "Improving the sensitivity of online
controlled experiments by utilizing pre-experiment data", *WSDM*.

Examples
--------
>>> a = CovariateSummary.from_values(y=[1.0, 2.0, 3.5], x=[0.0, 1.0, 2.0])
>>> b = CovariateSummary.from_values(y=[2.5, 3.0, 4.5], x=[0.5, 1.0, 2.0])
>>> adjusted = cuped([a, b])
>>> round(adjusted.theta, 6), round(adjusted.variance_factor, 6)
(1.289474, 0.012747)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import msgspec

from actors.statistics.summary import SampleSummary

__all__ = ["CovariateSummary", "CupedAdjustment", "cuped"]


class CovariateSummary(msgspec.Struct, frozen=True, kw_only=True):
    r"""One arm's sufficient statistics for CUPED: means and centred (co)moment sums.

    ``ss_y``, ``ss_x`` and ``sp_xy`` are :math:`\sum (y - \bar y)^2`,
    :math:`\sum (x - \bar x)^2` and :math:`\sum (x - \bar x)(y - \bar y)`, which stay
    well defined (zero) for a single observation.
    """

    n: int
    mean_y: float
    mean_x: float
    ss_y: float
    ss_x: float
    sp_xy: float

    @classmethod
    def from_values(cls, y: Iterable[float], x: Iterable[float]) -> CovariateSummary:
        """Summarise paired observations (metric ``y``, covariate ``x``) with two-pass sums."""
        ys = [float(v) for v in y]
        xs = [float(v) for v in x]
        if len(ys) != len(xs) or not ys:
            raise ValueError("y and x must be non-empty and of equal length")
        n = len(ys)
        my, mx = math.fsum(ys) / n, math.fsum(xs) / n
        return cls(
            n=n,
            mean_y=my,
            mean_x=mx,
            ss_y=math.fsum((v - my) ** 2 for v in ys),
            ss_x=math.fsum((v - mx) ** 2 for v in xs),
            sp_xy=math.fsum((u - mx) * (v - my) for u, v in zip(xs, ys, strict=True)),
        )

    @classmethod
    def from_sums(
        cls,
        n: int,
        sum_y: float,
        sum_x: float,
        sum_yy: float,
        sum_xx: float,
        sum_xy: float,
    ) -> CovariateSummary:
        """Summarise from the running raw sums an actor keeps (subject to cancellation when
        the means are large compared with the spreads; squared sums are clamped at 0)."""
        if n < 1:
            raise ValueError(f"need at least one observation, got n={n}")
        my, mx = sum_y / n, sum_x / n
        return cls(
            n=n,
            mean_y=my,
            mean_x=mx,
            ss_y=max(0.0, sum_yy - sum_y * my),
            ss_x=max(0.0, sum_xx - sum_x * mx),
            sp_xy=sum_xy - sum_x * my,
        )


class CupedAdjustment(msgspec.Struct, frozen=True, kw_only=True):
    """The result of :func:`cuped`: the slope, adjusted arms and the variance reduction."""

    theta: float
    arms: tuple[SampleSummary, ...]
    """Each arm's adjusted mean and adjusted unit variance, in the order given."""
    covariate_mean: float
    r""":math:`\bar x` over all units, the point the covariate is centred on."""
    correlation: float
    r"""Pooled within-arm correlation :math:`\rho` of metric and covariate."""
    variance_factor: float
    r""":math:`1 - \rho^2`: adjusted variance over unadjusted variance."""

    @property
    def variance_reduction(self) -> float:
        r""":math:`\rho^2`, the fraction of the metric's variance the covariate removes."""
        return 1.0 - self.variance_factor


def cuped(arms: Sequence[CovariateSummary]) -> CupedAdjustment:
    """Adjust every arm's mean and variance for the covariate, with a slope pooled within arms."""
    if len(arms) < 1:
        raise ValueError("need at least one arm")
    s_xx = math.fsum(arm.ss_x for arm in arms)
    s_yy = math.fsum(arm.ss_y for arm in arms)
    s_xy = math.fsum(arm.sp_xy for arm in arms)
    theta = s_xy / s_xx if s_xx > 0.0 else 0.0
    total_n = sum(arm.n for arm in arms)
    covariate_mean = math.fsum(arm.n * arm.mean_x for arm in arms) / total_n
    if s_xx > 0.0 and s_yy > 0.0:
        correlation = max(-1.0, min(1.0, s_xy / math.sqrt(s_xx * s_yy)))
        residual = max(0.0, s_yy - s_xy * s_xy / s_xx)
        variance_factor = residual / s_yy
    else:
        correlation, variance_factor = 0.0, 1.0
    adjusted = tuple(
        SampleSummary(
            n=arm.n,
            mean=arm.mean_y - theta * (arm.mean_x - covariate_mean),
            variance=(
                max(0.0, arm.ss_y - 2.0 * theta * arm.sp_xy + theta * theta * arm.ss_x)
                / (arm.n - 1)
                if arm.n > 1
                else math.nan
            ),
        )
        for arm in arms
    )
    return CupedAdjustment(
        theta=theta,
        arms=adjusted,
        covariate_mean=covariate_mean,
        correlation=correlation,
        variance_factor=variance_factor,
    )
