"""What an alarm makes happen, as data: the ledger applies it when it folds the drift event.

A drift alarm is only useful if something reacts to it, but the reaction belongs to the
experiment's fold (it changes the bandit's state), and a fold must be deterministic. So the
monitor does not act: it attaches a :data:`DriftAction` to the alarm, the ``DriftDetected``
event carries it (``DriftAction`` encodes to a plain dict with a ``kind`` tag), and the
experiment ledger applies it when it folds that event -- on the live actor and on every
replay alike.

Which action follows which alarm is configured per experiment as a list of
:class:`DriftRule`; the first rule that matches the alarm's metric, detector and direction
decides (:func:`plan_action`); with no match the alarm is only recorded (:class:`AlertOnly`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from actors.drift.base import Alarm, Direction


class AlertOnly(msgspec.Struct, frozen=True, tag_field="kind", tag="alert_only"):
    """Record the alarm (event, metric, log line); change nothing in the bandit."""


class ResetArm(msgspec.Struct, frozen=True, tag_field="kind", tag="reset_arm"):
    """Forget what the bandit learnt about the arm: it restarts from the prior (cold start),
    so the arm's old good record no longer outweighs its new bad one."""


class DownWeightArm(msgspec.Struct, frozen=True, tag_field="kind", tag="down_weight_arm"):
    """Multiply the arm's accumulated evidence (counts and sums, or the Beta pseudo-counts
    above the prior) by ``factor`` in (0, 1): its history still counts, but less, so new
    outcomes move its estimate faster."""

    factor: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.factor < 1.0:
            raise ValueError(f"down_weight_arm: factor must lie in (0, 1), got {self.factor!r}")


class RaiseExploration(msgspec.Struct, frozen=True, tag_field="kind", tag="raise_exploration"):
    """Explore more for the next ``decisions`` decisions: multiply the policy's exploration
    (epsilon, temperature, UCB bonus, or posterior spread) by ``factor`` > 1."""

    factor: float = 2.0
    decisions: int = 1000

    def __post_init__(self) -> None:
        if not self.factor > 1.0:
            raise ValueError(f"raise_exploration: factor must exceed 1, got {self.factor!r}")
        if self.decisions < 1:
            raise ValueError(
                f"raise_exploration: decisions must be at least 1, got {self.decisions!r}"
            )


class RollbackExperiment(msgspec.Struct, frozen=True, tag_field="kind", tag="rollback_experiment"):
    """Stop adaptive routing: send all traffic to ``to_arm`` (``None``: the experiment's
    fallback arm) until an operator resumes the experiment."""

    to_arm: str | None = None


DriftAction = AlertOnly | ResetArm | DownWeightArm | RaiseExploration | RollbackExperiment
"""Everything an alarm can trigger; a tagged union on ``kind``."""

ActionKind = Literal[
    "alert_only", "reset_arm", "down_weight_arm", "raise_exploration", "rollback_experiment"
]


class DriftRule(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``action`` for the alarms that match: ``None`` in a field matches anything, and
    ``direction="both"`` matches either way (a quality metric cares about ``down``, latency
    and cost about ``up``)."""

    action: DriftAction
    metric: str | None = None
    detector: str | None = None
    direction: Direction = "both"

    def matches(self, alarm: Alarm, metric: str) -> bool:
        return (
            (self.metric is None or self.metric == metric)
            and (self.detector is None or self.detector == alarm.detector)
            and (self.direction == "both" or self.direction == alarm.direction)
        )


def plan_action(alarm: Alarm, metric: str, rules: Sequence[DriftRule]) -> DriftAction:
    """The action of the first rule matching the alarm; :class:`AlertOnly` if none does."""
    for rule in rules:
        if rule.matches(alarm, metric):
            return rule.action
    return AlertOnly()


def parse_rules(raw: Sequence[Any]) -> list[DriftRule]:
    """Rules from configuration (JSON-like dicts); ``ValueError`` naming the bad field."""
    try:
        return msgspec.convert(list(raw), list[DriftRule])
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid drift rules: {error}") from None


def action_to_dict(action: DriftAction) -> dict[str, Any]:
    """The action as the plain dict an event carries (``{"kind": ..., **fields}``)."""
    encoded: dict[str, Any] = msgspec.to_builtins(action)
    return encoded


def action_from_dict(data: dict[str, Any]) -> DriftAction:
    """The action an event carries; ``ValueError`` if it is not one."""
    try:
        action: DriftAction = msgspec.convert(data, DriftAction)
        return action
    except msgspec.ValidationError as error:
        raise ValueError(f"invalid drift action: {error}") from None
