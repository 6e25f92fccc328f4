r"""Guardrails: metrics a variant may not harm beyond a limit, watched continuously.

A guardrail bounds the relative change of a metric in the treatment against the control:
quality may not drop by more than 5%, cost may not rise by more than 10%, p95 latency may not
rise by more than 20% (the defaults, all configurable). Each is a one-sided question asked
after every batch, so each is an always-valid test (:mod:`actors.experiments.contrast`), and a
guardrail is *breached* only when the confidence sequence excludes the allowed region:

* a rise limit :math:`m` on a mean (cost): breached when the interval for
  :math:`\mu_B - (1+m)\mu_A` lies entirely above 0;
* a drop limit :math:`m` on a mean (quality): breached when the interval for
  :math:`\mu_B - (1-m)\mu_A` lies entirely below 0;
* a rise limit on p95 latency: :math:`q_{95}(B) > (1+m)\,q_{95}(A)` exactly when more than 5%
  of B lies above :math:`t = (1+m)\,\hat q_{95}(A)`; so the contrast is the share of B above
  :math:`t` minus the share of A above :math:`\hat q_{95}(A)` (both from the same histogram
  buckets, each a Bernoulli mean), breached when its interval lies above 0. The threshold is
  itself estimated from A; its error enters the second share's variance, which is the
  first-order (Bahadur) correction, so the guarantee is approximate for this guardrail.

Because the confidence sequence holds at every look, a guardrail that is not truly breached
raises a false alarm with probability at most ``alpha`` however long the canary is watched.
A breach carries the action the definition chose (``pause`` the experiment or ``rollback`` to
the control) and a reason that names the metric, the limit and the evidence.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from actors.experiments.contrast import ContrastMonitor, observe_contrast
from actors.experiments.metrics import ArmMetrics
from actors.statistics import SampleSummary

__all__ = [
    "DEFAULT_GUARDRAILS",
    "Guardrail",
    "GuardrailBreach",
    "GuardrailMonitor",
    "check_guardrails",
]

GuardrailMetric = Literal["quality", "cost", "latency_p95"]
GuardrailAction = Literal["pause", "rollback"]

_HIGHER_IS_BETTER: dict[str, bool] = {"quality": True, "cost": False, "latency_p95": False}
_QUANTILE = 0.95


class Guardrail(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``metric`` may not get worse than ``limit`` (relative, e.g. 0.05 = 5%) against control."""

    metric: GuardrailMetric
    limit: float
    action: GuardrailAction = "pause"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit) and self.limit >= 0.0):
            raise ValueError(f"guardrail {self.metric}: limit must be >= 0, got {self.limit}")
        if self.metric == "quality" and self.limit >= 1.0:
            raise ValueError(f"guardrail quality: a drop limit must be < 1, got {self.limit}")

    @property
    def factor(self) -> float:
        """:math:`c` in the contrast :math:`\\mu_B - c\\,\\mu_A`."""
        return 1.0 - self.limit if _HIGHER_IS_BETTER[self.metric] else 1.0 + self.limit

    def describe(self) -> str:
        verb = "drop" if _HIGHER_IS_BETTER[self.metric] else "rise"
        return f"{self.metric} may not {verb} more than {100 * self.limit:g}%"


DEFAULT_GUARDRAILS: tuple[Guardrail, ...] = (
    Guardrail(metric="quality", limit=0.05),
    Guardrail(metric="cost", limit=0.10),
    Guardrail(metric="latency_p95", limit=0.20),
)


class GuardrailBreach(msgspec.Struct, frozen=True, kw_only=True):
    """A guardrail whose always-valid interval excludes the allowed region."""

    metric: str
    action: GuardrailAction
    reason: str


class GuardrailMonitor(msgspec.Struct, frozen=True, kw_only=True):
    """Per guardrail metric: the sequential state of its contrast."""

    contrasts: dict[str, ContrastMonitor] = msgspec.field(default_factory=dict)


def _bernoulli(share: float, n: int) -> SampleSummary:
    """A share as the summary of 0/1 observations (unbiased variance, divisor n - 1)."""
    variance = share * (1.0 - share) * n / (n - 1) if n > 1 else math.nan
    return SampleSummary(n, share, variance)


def _summaries(
    guardrail: Guardrail, control: ArmMetrics, treatment: ArmMetrics
) -> tuple[SampleSummary, SampleSummary, float] | None:
    """(control, treatment, factor) for the guardrail's contrast, or None without data."""
    if guardrail.metric == "quality":
        return control.quality.summary(), treatment.quality.summary(), guardrail.factor
    if guardrail.metric == "cost":
        return control.cost.summary(), treatment.cost.summary(), guardrail.factor
    if control.latency.n < 2 or treatment.latency.n < 2:
        return None
    q95 = control.latency.quantile(_QUANTILE)
    threshold = guardrail.factor * q95
    share_a = control.latency.share_above(q95)
    share_b = treatment.latency.share_above(threshold)
    return _bernoulli(share_a, control.latency.n), _bernoulli(share_b, treatment.latency.n), 1.0


def _breached(guardrail: Guardrail, monitor: ContrastMonitor) -> bool:
    low, high = monitor.ci
    return high < 0.0 if _HIGHER_IS_BETTER[guardrail.metric] else low > 0.0


def _reason(guardrail: Guardrail, control: ArmMetrics, treatment: ArmMetrics, alpha: float) -> str:
    if guardrail.metric == "latency_p95":
        a, b = control.latency.quantile(_QUANTILE), treatment.latency.quantile(_QUANTILE)
    elif guardrail.metric == "quality":
        a, b = control.quality.mean, treatment.quality.mean
    else:
        a, b = control.cost.mean, treatment.cost.mean
    change = (b / a - 1.0) if a else math.nan
    return (
        f"guardrail breached: {guardrail.describe()}; treatment {b:.6g} vs control {a:.6g} "
        f"({100 * change:+.1f}%); the always-valid {100 * (1 - alpha):g}% interval "
        "excludes every change within the limit"
    )


def check_guardrails(
    guardrails: tuple[Guardrail, ...],
    monitor: GuardrailMonitor,
    control: ArmMetrics,
    treatment: ArmMetrics,
    *,
    alpha: float = 0.05,
    n_star: float = 5000.0,
    min_samples: int = 100,
) -> tuple[GuardrailMonitor, list[GuardrailBreach]]:
    """Fold one look at every guardrail; return the new state and the breaches, in order.

    A breach stays a breach (the interval only narrows), so callers act on the first one and
    record it; asking again after acting reports it again, which keeps this function pure.
    """
    contrasts = dict(monitor.contrasts)
    breaches: list[GuardrailBreach] = []
    for guardrail in guardrails:
        current = contrasts.get(guardrail.metric, ContrastMonitor())
        summaries = _summaries(guardrail, control, treatment)
        if summaries is not None:
            a, b, factor = summaries
            current = observe_contrast(
                current, a, b, factor=factor, alpha=alpha, n_star=n_star, min_samples=min_samples
            )
        contrasts[guardrail.metric] = current
        if current.look is not None and _breached(guardrail, current):
            breaches.append(
                GuardrailBreach(
                    metric=guardrail.metric,
                    action=guardrail.action,
                    reason=_reason(guardrail, control, treatment, alpha),
                )
            )
    return GuardrailMonitor(contrasts=contrasts), breaches
