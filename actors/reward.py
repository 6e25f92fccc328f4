r"""The composite reward of an outcome: quality, cost and latency (and optionally user feedback).

The spec's reward is

.. math:: r = 0.5\,q + 0.3\,(1 - \hat c) + 0.2\,(1 - \hat \ell)

with :math:`q` the quality score and :math:`\hat c`, :math:`\hat \ell` the cost and latency
normalised to [0, 1]. :class:`RewardSpec` makes every part of it configurable per experiment,
and adds an optional user-feedback term :math:`\hat f`:

.. math::

    r = \frac{w_q\,\hat q + w_c\,(1 - \hat c) + w_\ell\,(1 - \hat \ell) + w_f\,\hat f}
             {w_q + w_c + w_\ell + w_f},
    \qquad \hat x = \operatorname{clip}\left(\frac{x - x_{\min}}{x_{\max} - x_{\min}}, 0, 1\right)

**Why the bounds are per experiment.** Normalisation is linear between the experiment's own
bounds and clipped outside them. A cost of $0.01 is the most expensive call of a
classification service that routes between small models and the cheapest call of a
long-document service that routes between GPT-4-class models. Global bounds would squash one
experiment's arms into a sliver near 0 (no difference between them for the policy to learn)
and clip the other's at 1 (all equally "too expensive"). The bounds should bracket the range
the experiment's arms actually span: ``cost_max_usd`` near the priciest arm's typical call,
``latency_max_ms`` near the latency SLA.

**Why the weights are renormalised.** Dividing by the weight sum makes the reward a weighted
mean of scores in [0, 1], so it lies in [0, 1] whatever weights an experiment writes
(``5/3/2`` means the same as ``0.5/0.3/0.2``); the Beta-Thompson policies accept nothing else.
It also gives the rule for a missing term (``missing="renormalise"``, the default): a term the
outcome does not report leaves both sums, and the reward is the weighted mean of the terms it
does report. Scoring a missing term as 0 instead (``missing="zero"``) would make every outcome
without a quality score look worse than a judged one, and so penalise the arms whose outcomes
happen to be judged less often; it is offered for experiments that want exactly that
pessimism.

**Missing quality.** With ``feedback_for_quality=True`` (the default), an outcome with user
feedback but no quality score uses the normalised feedback as its quality score: user feedback
is the quality signal most applications have. Only when neither is reported does the
``missing`` rule apply to the quality term.

**Failed calls** (``error=True``) score ``error_reward`` whatever else they report: a failed call
produced no answer, so its cost and latency say nothing about the arm's worth.

An outcome's explicit ``reward`` field is not read here: whether an application-supplied
reward overrides the composite is the caller's decision.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from events.schema import OutcomeObserved

MissingRule = Literal["renormalise", "zero"]

__all__ = ["MissingRule", "RewardSpec", "composite_reward"]


class RewardSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Weights and normalisation bounds of one experiment's composite reward.

    Weights need not sum to 1 (they are renormalised, see the module docstring), but each must
    be finite and >= 0 and at least one must be positive. Every ``*_max`` must exceed its
    ``*_min``. Construction (and decoding) raises ``ValueError`` naming the offending field.
    """

    quality_weight: float = 0.5
    cost_weight: float = 0.3
    latency_weight: float = 0.2
    feedback_weight: float = 0.0

    quality_min: float = 0.0
    quality_max: float = 1.0
    """Bounds of the quality score (e.g. 1 and 10 for an MT-Bench judge)."""
    cost_min_usd: float = 0.0
    cost_max_usd: float = 0.05
    """A call costing this much or more scores 0 on cost."""
    latency_min_ms: float = 0.0
    latency_max_ms: float = 10_000.0
    """A call taking this long or longer scores 0 on latency."""
    feedback_min: float = -1.0
    feedback_max: float = 1.0
    """Feedback in [feedback_min, feedback_max] maps linearly to [0, 1]."""

    error_reward: float = 0.0
    """The reward of a failed call (``error=True``), in [0, 1]."""
    missing: MissingRule = "renormalise"
    """A term the outcome does not report: drop it and renormalise, or score it 0."""
    feedback_for_quality: bool = True
    """Use the normalised feedback as the quality score when the outcome has no quality."""

    def __post_init__(self) -> None:
        weights = ("quality_weight", "cost_weight", "latency_weight", "feedback_weight")
        for name in weights:
            value = getattr(self, name)
            _require_finite(name, value)
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if not any(getattr(self, name) > 0 for name in weights):
            raise ValueError(f"at least one of {', '.join(weights)} must be positive")
        for low, high in (
            ("quality_min", "quality_max"),
            ("cost_min_usd", "cost_max_usd"),
            ("latency_min_ms", "latency_max_ms"),
            ("feedback_min", "feedback_max"),
        ):
            lo, hi = getattr(self, low), getattr(self, high)
            _require_finite(low, lo)
            _require_finite(high, hi)
            if hi <= lo:
                raise ValueError(f"{high} must exceed {low}, got {hi!r} <= {lo!r}")
            if not math.isfinite(hi - lo):
                raise ValueError(f"{high} - {low} must be finite, got {hi!r} - {lo!r}")
        _require_finite("error_reward", self.error_reward)
        if not 0.0 <= self.error_reward <= 1.0:
            raise ValueError(f"error_reward must lie in [0, 1], got {self.error_reward!r}")
        if self.missing not in ("renormalise", "zero"):
            raise ValueError(f"missing must be 'renormalise' or 'zero', got {self.missing!r}")


def composite_reward(
    outcome: OutcomeObserved, spec: RewardSpec, *, cost_usd: float | None = None
) -> float | None:
    """The composite reward of ``outcome`` under ``spec``, in [0, 1], or None if unscoreable.

    ``cost_usd`` is the caller's estimate (tokens times the arm's prices) for an outcome that
    reports tokens but no cost; a cost the outcome reports itself takes precedence. A NaN field
    counts as not reported; infinities clip like any other out-of-bounds value.

    Returns None when the outcome is not an error and reports no term with a positive weight
    (no quality, feedback, cost or latency that the spec weighs), so the caller can count it
    as unscored instead of folding a made-up reward.

    >>> from events.schema import OutcomeObserved
    >>> o = OutcomeObserved(event_id="o", entity_id="e", at=0.0, decision_id="d",
    ...                     quality=0.8, cost_usd=0.01, latency_ms=2_000.0)
    >>> round(composite_reward(o, RewardSpec()), 6)  # 0.5*0.8 + 0.3*0.8 + 0.2*0.8
    0.8
    """
    if outcome.error:
        return spec.error_reward

    feedback = _normalised(outcome.feedback, spec.feedback_min, spec.feedback_max)
    quality = _normalised(outcome.quality, spec.quality_min, spec.quality_max)
    if quality is None and spec.feedback_for_quality:
        quality = feedback
    cost = _normalised(
        outcome.cost_usd if _reported(outcome.cost_usd) else cost_usd,
        spec.cost_min_usd,
        spec.cost_max_usd,
    )
    latency = _normalised(outcome.latency_ms, spec.latency_min_ms, spec.latency_max_ms)

    terms = (
        (spec.quality_weight, quality),
        (spec.cost_weight, None if cost is None else 1.0 - cost),
        (spec.latency_weight, None if latency is None else 1.0 - latency),
        (spec.feedback_weight, feedback),
    )
    total = weight_sum = 0.0
    scored = False
    for weight, score in terms:
        if weight <= 0:
            continue
        if score is not None:
            scored = True
            total += weight * score
            weight_sum += weight
        elif spec.missing == "zero":
            weight_sum += weight
    if not scored:
        return None
    return min(1.0, max(0.0, total / weight_sum))


def _reported(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def _normalised(value: float | None, low: float, high: float) -> float | None:
    """``value`` mapped linearly from [low, high] to [0, 1] and clipped; None if unreported."""
    if value is None or math.isnan(value):
        return None
    return min(1.0, max(0.0, (value - low) / (high - low)))


def _require_finite(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
