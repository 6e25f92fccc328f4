r"""Adjusted p-values for many comparisons: Holm (family-wise error) and Benjamini-Hochberg (FDR).

An experiment with several variants and several metrics makes many comparisons; at 5% each,
some will look significant by chance. With :math:`p_{(1)} \le \ldots \le p_{(m)}` sorted:

* **Holm** (1979) controls the family-wise error rate, the chance of any false rejection,
  under any dependence: :math:`\tilde p_{(i)} = \max_{j \le i} \min(1, (m - j + 1) p_{(j)})`.
  It is uniformly more powerful than Bonferroni. Use it for decisions that must not be wrong
  (promoting a challenger, guardrails).
* **Benjamini-Hochberg** (1995) controls the false discovery rate, the expected share of
  false rejections among all rejections, for independent or positively dependent tests:
  :math:`\tilde p_{(i)} = \min_{j \ge i} \min(1, m\,p_{(j)}/j)`. Use it to screen many
  metrics.

A hypothesis is rejected at level :math:`\alpha` when its adjusted p-value is at most
:math:`\alpha`. Equal to ``statsmodels.stats.multitest.multipletests`` with ``"holm"`` and
``"fdr_bh"``. The adjusted values come back in the order given; ties get equal values.
NaN p-values (from an undefined test) are rejected with ``ValueError`` rather than silently
treated as 1: leave the undefined comparison out of the family.

References
----------
S. Holm (1979), "A simple sequentially rejective multiple test procedure", *Scandinavian
Journal of Statistics* 6(2).
Y. Benjamini and Y. Hochberg (1995), "Controlling the false discovery rate: a practical and
powerful approach to multiple testing", *JRSS B* 57(1).

Examples
--------
>>> holm([0.01, 0.04, 0.03])
(0.03, 0.06, 0.06)
>>> benjamini_hochberg([0.01, 0.04, 0.03])
(0.03, 0.04, 0.04)
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["benjamini_hochberg", "holm"]


def _sorted_indices(p_values: Sequence[float]) -> list[int]:
    for p in p_values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1] (NaN is not allowed): {list(p_values)}")
    return sorted(range(len(p_values)), key=lambda i: p_values[i])


def holm(p_values: Sequence[float]) -> tuple[float, ...]:
    """Holm's step-down adjusted p-values, in the order given."""
    order = _sorted_indices(p_values)
    m = len(order)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return tuple(adjusted)


def benjamini_hochberg(p_values: Sequence[float]) -> tuple[float, ...]:
    """Benjamini-Hochberg step-up adjusted p-values, in the order given."""
    order = _sorted_indices(p_values)
    m = len(order)
    adjusted = [0.0] * m
    running = 1.0
    for rank in range(m - 1, -1, -1):
        index = order[rank]
        running = min(running, m * p_values[index] / (rank + 1))
        adjusted[index] = running
    return tuple(adjusted)
