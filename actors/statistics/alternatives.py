"""Which alternative hypothesis a p-value answers, and the p-value of a statistic under it.

Every test in this package compares a variant B with a control A and states its effect as
B minus A, so ``"larger"`` means "B is larger than A" and ``"smaller"`` the opposite. The
words are statsmodels'; scipy calls them ``"greater"`` and ``"less"``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal, get_args

Alternative = Literal["two-sided", "larger", "smaller"]
"""The alternative hypothesis about the effect B - A: nonzero, positive or negative."""

ALTERNATIVES: tuple[Alternative, ...] = get_args(Alternative)


def check_alternative(alternative: str) -> Alternative:
    """Return ``alternative`` if it is one of :data:`ALTERNATIVES`, else raise ``ValueError``."""
    for known in ALTERNATIVES:
        if alternative == known:
            return known
    raise ValueError(f"alternative must be one of {ALTERNATIVES}, not {alternative!r}")


def tail_p_value(
    statistic: float,
    cdf: Callable[[float], float],
    sf: Callable[[float], float],
    alternative: Alternative,
) -> float:
    r"""The p-value of ``statistic`` under a null distribution given by its ``cdf`` and ``sf``.

    ``"larger"``: :math:`P(S \ge s)`; ``"smaller"``: :math:`P(S \le s)`; ``"two-sided"``:
    :math:`\min(1, 2\min(P(S \le s), P(S \ge s)))`, which for a symmetric null is
    :math:`2 P(S \ge |s|)` as in scipy and statsmodels. NaN stays NaN.
    """
    if math.isnan(statistic):
        return math.nan
    if alternative == "larger":
        return sf(statistic)
    if alternative == "smaller":
        return cdf(statistic)
    return min(1.0, 2.0 * min(cdf(statistic), sf(statistic)))
