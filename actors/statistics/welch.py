r"""Welch's t-test for a difference in means, from each arm's count, mean and variance.

With :math:`v_A = s_A^2/n_A` and :math:`v_B = s_B^2/n_B` (unbiased sample variances):

.. math:: t = \frac{\bar y_B - \bar y_A}{\sqrt{v_A + v_B}}, \qquad
          \nu = \frac{(v_A + v_B)^2}{v_A^2/(n_A - 1) + v_B^2/(n_B - 1)}

(Welch 1947; Satterthwaite 1946), and the p-value from Student's t with :math:`\nu` degrees
of freedom. The pooled :math:`n_A + n_B - 2` degrees of freedom are only right when the two
variances are equal, which for a model or prompt change is exactly what is in doubt.
Equals ``scipy.stats.ttest_ind(b, a, equal_var=False)`` (statistic, df, p-value and
``confidence_interval()``).

The interval for the difference is :math:`\bar y_B - \bar y_A \pm t_{1-\alpha/2,\nu}
\sqrt{v_A + v_B}`; the relative lift :math:`L = \bar y_B/\bar y_A - 1` gets the delta-method
interval :math:`L \pm t_{1-\alpha/2,\nu}\,\mathrm{se}(L)`,
:math:`\mathrm{se}(L)^2 = v_B/\bar y_A^2 + \bar y_B^2 v_A/\bar y_A^4` (the same Welch
degrees of freedom, so that lift and difference intervals agree on significance for large
samples).

Degenerate data, defined rather than left to 0/0:

* **Fewer than two observations** in an arm: its variance is undefined, so the statistic,
  degrees of freedom, p-value and intervals are NaN (as in scipy). The point estimates
  (difference, lift) are still reported.
* **Zero variance in both arms**: the standard error is 0. Equal means give :math:`t = 0`
  and p-value 1 (scipy: NaN); different means give :math:`t = \pm\infty` and p-value 0
  (as scipy). The intervals are the point estimate; the degrees of freedom are NaN (scipy
  reports 1.0 by convention).
* **Zero variance in one arm** is ordinary: :math:`\nu = n - 1` of the other arm.
* **Mean of A equal to 0**: the lift and its interval are NaN.

References
----------
B. L. Welch (1947), "The generalization of 'Student's' problem when several different
population variances are involved", *Biometrika* 34(1/2).
F. E. Satterthwaite (1946), "An approximate distribution of estimates of variance
components", *Biometrics Bulletin* 2(6).

Examples
--------
>>> a = SampleSummary(n=50, mean=10.0, variance=4.0)
>>> b = SampleSummary(n=80, mean=11.0, variance=9.0)
>>> result = welch_ttest(a, b)
>>> round(result.statistic, 6), round(result.df, 4), round(result.p_value, 6)
(2.279212, 127.4208, 0.024318)
"""

from __future__ import annotations

import math

import msgspec

from actors.statistics.alternatives import Alternative, check_alternative, tail_p_value
from actors.statistics.distributions import (
    normal_cdf,
    normal_sf,
    student_t_cdf,
    student_t_isf,
    student_t_sf,
)
from actors.statistics.summary import SampleSummary

__all__ = ["MeanTest", "welch_ttest"]

_NAN_PAIR = (math.nan, math.nan)


class MeanTest(msgspec.Struct, frozen=True, kw_only=True):
    """The result of :func:`welch_ttest`; the effect is always B minus A."""

    mean_a: float
    mean_b: float
    difference: float
    standard_error: float
    statistic: float
    df: float
    """Welch-Satterthwaite degrees of freedom."""
    p_value: float
    difference_ci: tuple[float, float]
    relative_lift: float
    r""":math:`\bar y_B / \bar y_A - 1`; NaN when the mean of A is 0."""
    lift_ci: tuple[float, float]
    alpha: float
    alternative: Alternative


def welch_ttest(
    a: SampleSummary,
    b: SampleSummary,
    *,
    alpha: float = 0.05,
    alternative: Alternative = "two-sided",
) -> MeanTest:
    """Welch's t-test of B's mean against A's, with intervals for the difference and the lift."""
    alternative = check_alternative(alternative)
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    for arm, summary in (("A", a), ("B", b)):
        if summary.n < 1:
            raise ValueError(f"arm {arm} needs at least one observation, got n={summary.n}")
        if summary.n >= 2 and not summary.variance >= 0.0:
            raise ValueError(f"arm {arm} has an invalid variance {summary.variance}")

    difference = b.mean - a.mean
    lift = b.mean / a.mean - 1.0 if a.mean != 0.0 else math.nan

    def result(
        standard_error: float,
        statistic: float,
        df: float,
        p_value: float,
        difference_ci: tuple[float, float],
        lift_ci: tuple[float, float],
    ) -> MeanTest:
        return MeanTest(
            mean_a=a.mean,
            mean_b=b.mean,
            difference=difference,
            standard_error=standard_error,
            statistic=statistic,
            df=df,
            p_value=p_value,
            difference_ci=difference_ci,
            relative_lift=lift,
            lift_ci=lift_ci,
            alpha=alpha,
            alternative=alternative,
        )

    if a.n < 2 or b.n < 2:
        return result(math.nan, math.nan, math.nan, math.nan, _NAN_PAIR, _NAN_PAIR)

    var_a = a.variance / a.n
    var_b = b.variance / b.n
    total = var_a + var_b
    se = math.sqrt(total)
    if total == 0.0:
        point_lift = (lift, lift)
        if difference == 0.0:
            return result(0.0, 0.0, math.nan, 1.0, (0.0, 0.0), point_lift)
        statistic = math.copysign(math.inf, difference)
        # Any continuous null distribution puts all its mass on one side of an infinite t.
        p_value = tail_p_value(statistic, normal_cdf, normal_sf, alternative)
        return result(0.0, statistic, math.nan, p_value, (difference, difference), point_lift)

    df = total * total / (var_a * var_a / (a.n - 1) + var_b * var_b / (b.n - 1))
    statistic = difference / se
    p_value = tail_p_value(
        statistic, lambda t: student_t_cdf(t, df), lambda t: student_t_sf(t, df), alternative
    )
    t_crit = student_t_isf(alpha / 2.0, df)
    difference_ci = (difference - t_crit * se, difference + t_crit * se)
    if a.mean != 0.0:
        ratio = b.mean / a.mean
        lift_se = math.sqrt(var_b + ratio * ratio * var_a) / abs(a.mean)
        lift_ci = (lift - t_crit * lift_se, lift + t_crit * lift_se)
    else:
        lift_ci = _NAN_PAIR
    return result(se, statistic, df, p_value, difference_ci, lift_ci)
