r"""Two-proportion z-test for conversion-type metrics, with intervals for the difference and lift.

With :math:`\hat p_A = x_A/n_A`, :math:`\hat p_B = x_B/n_B` and the pooled rate
:math:`\hat p = (x_A + x_B)/(n_A + n_B)`:

* the test statistic uses the pooled standard error, which is the standard error under the
  null hypothesis :math:`p_A = p_B`:

  .. math:: z = \frac{\hat p_B - \hat p_A}{\sqrt{\hat p(1-\hat p)(1/n_A + 1/n_B)}}

  (``statsmodels.stats.proportion.proportions_ztest``; equivalently the score test of
  ``test_proportions_2indep(method="score", correction=False)``);
* the interval for the difference uses the unpooled (Wald) standard error, because it
  describes the data under the alternative:
  :math:`\hat p_B - \hat p_A \pm z_{1-\alpha/2}\sqrt{\hat p_A(1-\hat p_A)/n_A +
  \hat p_B(1-\hat p_B)/n_B}` (``confint_proportions_2indep(method="wald")``);
* the relative lift :math:`L = \hat p_B/\hat p_A - 1` gets a delta-method interval
  :math:`L \pm z_{1-\alpha/2}\,\mathrm{se}(L)` with

  .. math:: \mathrm{se}(L)^2 = \frac{\mathrm{Var}(\hat p_B)}{\hat p_A^2}
            + \frac{\hat p_B^2\,\mathrm{Var}(\hat p_A)}{\hat p_A^4},

  the first-order Taylor expansion of :math:`\hat p_B/\hat p_A` about the true rates with
  independent arms (statsmodels' ``NonlinearDeltaCov`` gives the same number). It is
  symmetric and can reach below -100%; it is the interval GrowthBook and Eppo report.

Intervals are always two-sided at level :math:`1 - \alpha`; ``alternative`` only changes the
p-value.

Degenerate data, defined rather than left to 0/0:

* **No variation at all** (both arms all failures, or both all successes): the pooled
  standard error is 0 and the observed rates are equal. statsmodels returns NaN (0/0);
  here :math:`z = 0` and the p-value is 1, since there is no evidence of any difference,
  and the Wald interval is the point ``(0, 0)``.
* **Zero conversions in A** (:math:`\hat p_A = 0`): the lift and its interval are NaN (a
  lift over nothing is undefined); the test and the difference interval are unaffected.
* **A single trial** per arm is allowed (the rates are 0 or 1); an arm with no trials
  raises ``ValueError``, as do counts outside ``0 <= successes <= trials``.
* Rates of 0 or 1 make the Wald variance of that arm 0, so its interval can be a point;
  that is the known weakness of the Wald interval, kept because it is what the engines
  report and what the references compute.

References
----------
J. L. Fleiss, B. Levin and M. C. Paik (2003), *Statistical Methods for Rates and
Proportions*, 3rd ed., Wiley, §2.
A. Deng, U. Knoblich and J. Lu (2018), "Applying the delta method in metric analytics",
*KDD* (the variance of a ratio of means).

Examples
--------
>>> result = two_proportion_ztest(100, 1000, 130, 1000)
>>> round(result.statistic, 6), round(result.p_value, 6)
(2.102741, 0.035488)
>>> [round(bound, 6) for bound in result.difference_ci]
[0.002068, 0.057932]
"""

from __future__ import annotations

import math

import msgspec

from actors.statistics.alternatives import Alternative, check_alternative, tail_p_value
from actors.statistics.distributions import normal_cdf, normal_isf, normal_sf

__all__ = ["ProportionTest", "two_proportion_ztest"]


class ProportionTest(msgspec.Struct, frozen=True, kw_only=True):
    """The result of :func:`two_proportion_ztest`; the effect is always B minus A."""

    rate_a: float
    rate_b: float
    difference: float
    r""":math:`\hat p_B - \hat p_A`."""
    statistic: float
    """The pooled z statistic."""
    p_value: float
    difference_ci: tuple[float, float]
    """Wald interval for the difference at level ``1 - alpha``."""
    relative_lift: float
    r""":math:`\hat p_B / \hat p_A - 1`; NaN when A has no conversions."""
    lift_ci: tuple[float, float]
    """Delta-method interval for the lift; NaN when A has no conversions."""
    alpha: float
    alternative: Alternative


def _check_counts(successes: int, trials: int, arm: str) -> None:
    if trials < 1:
        raise ValueError(f"arm {arm} needs at least one trial, got trials={trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"arm {arm} needs 0 <= successes <= trials, got {successes}/{trials}")


def two_proportion_ztest(
    successes_a: int,
    trials_a: int,
    successes_b: int,
    trials_b: int,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> ProportionTest:
    """Test whether B's conversion rate differs from A's, with intervals for difference and lift.

    ``alpha`` sets the level of both intervals; ``alternative`` the sidedness of the p-value.
    """
    alternative = check_alternative(alternative)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    _check_counts(successes_a, trials_a, "A")
    _check_counts(successes_b, trials_b, "B")
    rate_a = successes_a / trials_a
    rate_b = successes_b / trials_b
    difference = rate_b - rate_a

    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    pooled_se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / trials_a + 1.0 / trials_b))
    if pooled_se > 0.0:
        statistic = difference / pooled_se
        p_value = tail_p_value(statistic, normal_cdf, normal_sf, alternative)
    else:  # no variation in either arm: identical rates, nothing to detect
        statistic, p_value = 0.0, 1.0

    z = normal_isf(alpha / 2.0)
    var_a = rate_a * (1.0 - rate_a) / trials_a
    var_b = rate_b * (1.0 - rate_b) / trials_b
    half_width = z * math.sqrt(var_a + var_b)
    difference_ci = (difference - half_width, difference + half_width)

    if rate_a > 0.0:
        lift = rate_b / rate_a - 1.0
        ratio = rate_b / rate_a
        lift_se = math.sqrt(var_b + ratio * ratio * var_a) / rate_a
        lift_ci = (lift - z * lift_se, lift + z * lift_se)
    else:
        lift, lift_ci = math.nan, (math.nan, math.nan)

    return ProportionTest(
        rate_a=rate_a,
        rate_b=rate_b,
        difference=difference,
        statistic=statistic,
        p_value=p_value,
        difference_ci=difference_ci,
        relative_lift=lift,
        lift_ci=lift_ci,
        alpha=alpha,
        alternative=alternative,
    )
