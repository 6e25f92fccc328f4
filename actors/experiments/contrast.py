r"""Continuous monitoring of one linear contrast between two variants with the mSPRT.

Guardrails, stopping rules and champion/challenger all ask the same question after every
batch: is :math:`\mu_B - c\,\mu_A` different from zero? With :math:`c = 1` that is "is B
different from A"; with :math:`c = 1 + m` it is "is B more than :math:`m` (relative) above A"
(a cost guardrail with :math:`m = 0.10`), and with :math:`c = 1 - m` "more than :math:`m`
below" (a quality guardrail). The estimate :math:`\bar y_B - c\,\bar y_A` has variance
:math:`s_B^2/n_B + c^2 s_A^2/n_A`, and the null (0) is fixed, so the always-valid test of
:mod:`actors.statistics.sequential` applies look by look.

The mixing variance :math:`\tau^2` must not depend on the effect. It is computed once, at the
first look where both variants have ``min_samples``, from that look's unit variance
:math:`s^2 = N V` (GrowthBook's :math:`N^*` rule, :func:`~actors.statistics.mixing_variance`),
and then frozen in the state. For normal data the sample variances are independent of the
sample means (Cochran's theorem), so fixing :math:`\tau^2` from them leaves the mixture a
martingale under the null; for other metrics it is the usual plug-in approximation, and
``tests`` check the resulting error rate by simulation.
"""

from __future__ import annotations

import math

import msgspec

from actors.statistics import SampleSummary, SequentialLook, mixing_variance, msprt

__all__ = ["ContrastMonitor", "observe_contrast"]


class ContrastMonitor(msgspec.Struct, frozen=True, kw_only=True):
    """The sequential state of one contrast: the frozen mixing variance and the last look."""

    mixing_variance: float | None = None
    look: SequentialLook | None = None

    @property
    def rejected(self) -> bool:
        return self.look is not None and self.look.reject

    @property
    def ci(self) -> tuple[float, float]:
        return (-math.inf, math.inf) if self.look is None else self.look.ci


def observe_contrast(
    monitor: ContrastMonitor,
    control: SampleSummary,
    treatment: SampleSummary,
    *,
    factor: float = 1.0,
    alpha: float,
    n_star: float,
    min_samples: int,
) -> ContrastMonitor:
    """Fold one look at :math:`\\mu_B - c\\,\\mu_A` (``c`` = ``factor``) into ``monitor``.

    Before both variants have ``min_samples`` observations (and at least 2, so variances exist)
    the monitor is unchanged: no evidence is taken from a look the design did not plan.
    """
    if control.n < max(2, min_samples) or treatment.n < max(2, min_samples):
        return monitor
    estimate = treatment.mean - factor * control.mean
    variance = treatment.variance / treatment.n + factor * factor * control.variance / control.n
    tau2 = monitor.mixing_variance
    if tau2 is None:
        unit_variance = (control.n + treatment.n) * variance
        if not unit_variance > 0.0:
            return monitor  # no variation yet: wait for a look that can fix the design
        tau2 = mixing_variance(n_star, unit_variance, alpha)
    look = msprt(estimate, variance, tau2, alpha=alpha, previous=monitor.look)
    return ContrastMonitor(mixing_variance=tau2, look=look)
