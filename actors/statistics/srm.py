r"""Sample-ratio mismatch: does the traffic split match the configured weights?

A 50/50 experiment that logged 50,000 and 48,500 units has a broken assignment, logging or
filtering path, and its metrics cannot be trusted however significant they look. The check
is Pearson's chi-square goodness-of-fit test of the observed counts :math:`o_k` against the
expected counts :math:`e_k = N w_k / \sum_j w_j`:

.. math:: \chi^2 = \sum_k \frac{(o_k - e_k)^2}{e_k}, \qquad
          p = P(\chi^2_{K-1} > \chi^2),

equal to ``scipy.stats.chisquare(observed, expected)``. The alarm threshold defaults to
p < 0.001, as GrowthBook, Optimizely, Statsig and Eppo use: with an SRM check on every
experiment and every refresh, a 5% threshold would raise false alarms daily.

Defined edge cases: no units at all gives :math:`\chi^2 = 0`, p = 1 and no alarm; an arm
with weight 0 is left out of the test (and of the degrees of freedom) while it has no
units, and any unit in it makes :math:`\chi^2 = \infty`, p = 0, an alarm.

References
----------
Z. Zhao, M. Chen, D. Matheson and M. Stone (2019), "Online experimentation diagnosis and
troubleshooting beyond AA validation", *DSAA*.
R. Kohavi, D. Tang and Y. Xu (2020), *Trustworthy Online Controlled Experiments*, ch. 21.

Examples
--------
>>> result = sample_ratio_mismatch([50_000, 48_500], [0.5, 0.5])
>>> round(result.statistic, 4), result.mismatch
(22.8426, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec

from actors.statistics.distributions import chi2_sf

__all__ = ["SRM_THRESHOLD", "SampleRatioTest", "sample_ratio_mismatch"]

SRM_THRESHOLD = 0.001
"""The default p-value below which a split is flagged as mismatched."""


class SampleRatioTest(msgspec.Struct, frozen=True, kw_only=True):
    """The result of :func:`sample_ratio_mismatch`."""

    statistic: float
    df: int
    p_value: float
    expected: tuple[float, ...]
    """Expected counts per arm, in the order given."""
    threshold: float
    mismatch: bool
    """Whether ``p_value < threshold``: the split does not match the weights."""


def sample_ratio_mismatch(
    observed: Sequence[int],
    weights: Sequence[float],
    *,
    threshold: float = SRM_THRESHOLD,
) -> SampleRatioTest:
    """Chi-square test of the observed counts per arm against the configured weights."""
    if len(observed) != len(weights) or len(observed) < 2:
        raise ValueError("need at least two arms, with one weight per observed count")
    if any(count < 0 for count in observed):
        raise ValueError(f"counts must be non-negative: {list(observed)}")
    if any(not (w >= 0.0 and math.isfinite(w)) for w in weights) or sum(weights) <= 0.0:
        raise ValueError(f"weights must be finite, non-negative and not all 0: {list(weights)}")
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    total = sum(observed)
    weight_sum = math.fsum(weights)
    expected = tuple(total * w / weight_sum for w in weights)
    tested = [(o, e) for o, e, w in zip(observed, expected, weights, strict=True) if w > 0.0]
    df = len(tested) - 1
    if any(o > 0 for o, w in zip(observed, weights, strict=True) if w == 0.0):
        statistic, p_value = math.inf, 0.0
    elif total == 0 or df < 1:
        statistic, p_value = 0.0, 1.0
    else:
        statistic = math.fsum((o - e) ** 2 / e for o, e in tested)
        p_value = chi2_sf(statistic, df)
    return SampleRatioTest(
        statistic=statistic,
        df=df,
        p_value=p_value,
        expected=expected,
        threshold=threshold,
        mismatch=p_value < threshold,
    )
