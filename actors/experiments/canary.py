"""Canary rollout: the challenger gets 5%, then 25%, 50% and 100% of traffic, if it stays healthy.

At each stage the challenger serves the first ``fraction`` of units by hash position
(:func:`~actors.experiments.assignment.in_fraction`, monotone, so a user exposed at 5% stays
exposed as the canary grows). The health check is the guardrails' always-valid test
(:mod:`actors.experiments.guardrails`), evaluated after every batch:

* any breach rolls the canary back at once (fraction 0, everyone on the champion), with the
  breach as the reason; a rollback is final for this rollout;
* otherwise, once the challenger has served ``min_samples_per_stage`` outcomes in the current
  stage, the canary advances to the next stage; after the last stage (100%) it is complete.

The machine is pure: :func:`step_canary` takes the state, the challenger's outcome count and
the current breaches and returns the next state and what changed, which the experiment actor
turns into an event.
"""

from __future__ import annotations

import itertools
import math
from typing import Literal

import msgspec

from actors.experiments.guardrails import DEFAULT_GUARDRAILS, Guardrail, GuardrailBreach

__all__ = ["CanaryPlan", "CanaryState", "CanaryStep", "canary_fraction", "step_canary"]

CanaryStatus = Literal["rolling", "rolled_back", "complete"]
CanaryChange = Literal["none", "advanced", "rolled_back", "completed"]


class CanaryPlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    stages: tuple[float, ...] = (0.05, 0.25, 0.50, 1.0)
    """Traffic fractions of the challenger, strictly increasing, ending at 1."""
    min_samples_per_stage: int = 500
    """Challenger outcomes observed in a stage before it may advance."""
    guardrails: tuple[Guardrail, ...] = DEFAULT_GUARDRAILS

    def __post_init__(self) -> None:
        stages = self.stages
        if not stages or any(not (0.0 < f <= 1.0 and math.isfinite(f)) for f in stages):
            raise ValueError(f"canary stages must be fractions in (0, 1], got {list(stages)}")
        if any(b <= a for a, b in itertools.pairwise(stages)):
            raise ValueError(f"canary stages must increase strictly, got {list(stages)}")
        if stages[-1] != 1.0:
            raise ValueError(f"the last canary stage must be 1.0 (all traffic), got {stages[-1]}")
        if self.min_samples_per_stage < 1:
            raise ValueError("min_samples_per_stage must be >= 1")


class CanaryState(msgspec.Struct, frozen=True, kw_only=True):
    stage: int = 0
    status: CanaryStatus = "rolling"
    stage_start_samples: int = 0
    """The challenger's outcome count when the current stage began."""
    reason: str = ""


class CanaryStep(msgspec.Struct, frozen=True, kw_only=True):
    state: CanaryState
    change: CanaryChange
    reason: str = ""


def canary_fraction(plan: CanaryPlan, state: CanaryState) -> float:
    """The challenger's share of traffic now: 0 after a rollback, 1 once complete."""
    if state.status == "rolled_back":
        return 0.0
    if state.status == "complete":
        return 1.0
    return plan.stages[state.stage]


def step_canary(
    plan: CanaryPlan,
    state: CanaryState,
    challenger_samples: int,
    breaches: list[GuardrailBreach],
) -> CanaryStep:
    """The next state after a health check with the challenger's outcome count so far."""
    if state.status != "rolling":
        return CanaryStep(state=state, change="none")
    if breaches:
        reason = "; ".join(b.reason for b in breaches)
        at = f"rolled back at {100 * plan.stages[state.stage]:g}%: {reason}"
        return CanaryStep(
            state=CanaryState(
                stage=state.stage,
                status="rolled_back",
                stage_start_samples=state.stage_start_samples,
                reason=at,
            ),
            change="rolled_back",
            reason=at,
        )
    in_stage = challenger_samples - state.stage_start_samples
    if in_stage < plan.min_samples_per_stage:
        return CanaryStep(state=state, change="none")
    fraction = plan.stages[state.stage]
    healthy = f"healthy after {in_stage} challenger outcomes at {100 * fraction:g}%"
    if state.stage + 1 == len(plan.stages):
        return CanaryStep(
            state=CanaryState(
                stage=state.stage,
                status="complete",
                stage_start_samples=challenger_samples,
                reason=healthy,
            ),
            change="completed",
            reason=healthy,
        )
    nxt = state.stage + 1
    reason = f"{healthy}; advancing to {100 * plan.stages[nxt]:g}%"
    return CanaryStep(
        state=CanaryState(stage=nxt, stage_start_samples=challenger_samples, reason=reason),
        change="advanced",
        reason=reason,
    )
