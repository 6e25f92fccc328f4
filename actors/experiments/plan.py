"""How an experiment allocates traffic and judges its variants: its plan, declared up front.

``mode`` says who picks the arm of a request:

* ``policy`` (default): the experiment's bandit policy (adaptive allocation; no fixed-split
  analysis);
* ``split``: a fixed, sticky split by the hash of the request's unit id
  (:mod:`~actors.experiments.assignment`) over the arms, equal or by ``weights``; the
  ``control`` is the champion the others are compared with;
* ``canary``: the ``challenger`` gets the canary's current fraction of units, the ``control``
  the rest (:mod:`~actors.experiments.canary`).

In ``split`` and ``canary`` mode the experiment looks at its data after every ``look_every``
joined outcomes: the guardrails (:mod:`~actors.experiments.guardrails`), the canary's health
check and the stopping rule / champion-challenger verdict, all on always-valid tests. Because
the plan is fixed before any data, so are the looks' design choices (alpha, N*, limits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import msgspec

from actors.experiments.canary import CanaryPlan
from actors.experiments.guardrails import DEFAULT_GUARDRAILS, Guardrail
from actors.experiments.stopping import StoppingRule

__all__ = ["ExperimentPlan", "PlanError", "check_plan"]

Mode = Literal["policy", "split", "canary"]


class ExperimentPlan(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Mode = "policy"
    control: str | None = None
    """The champion: the arm every other arm is compared with (``split`` and ``canary``)."""
    challenger: str | None = None
    """The arm the canary rolls out (``canary``)."""
    weights: dict[str, float] = msgspec.field(default_factory=dict)
    """Relative traffic per arm in ``split`` mode; empty means equal."""
    unit_key: str = "unit_id"
    """The context field holding the unit (user) id that makes assignment sticky."""
    guardrails: tuple[Guardrail, ...] = DEFAULT_GUARDRAILS
    stopping: StoppingRule = msgspec.field(default_factory=StoppingRule)
    canary: CanaryPlan = msgspec.field(default_factory=CanaryPlan)
    auto_promote: bool = True
    """Promote a challenger that the stopping rule finds better, and complete the experiment."""
    look_every: int = 100
    """Joined outcomes between two looks."""
    guardrail_min_samples: int = 100
    """Outcomes each side of a guardrail needs before its test takes evidence."""

    @property
    def analysed(self) -> bool:
        return self.mode != "policy"

    def treatments(self, arms: Sequence[str]) -> list[str]:
        """The arms compared with the control, in arm order."""
        if self.mode == "canary":
            return [self.challenger] if self.challenger is not None else []
        return [a for a in arms if a != self.control]


class PlanError(ValueError):
    """A plan that cannot run with these arms; ``field`` is its path in the config."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_plan(plan: ExperimentPlan, arms: Sequence[str]) -> None:
    """Refuse a plan whose arms do not exist or whose mode lacks what it needs."""
    if plan.look_every < 1:
        raise PlanError("config.experiment.look_every", "look_every must be >= 1")
    if plan.guardrail_min_samples < 2:
        raise PlanError(
            "config.experiment.guardrail_min_samples", "guardrail_min_samples must be >= 2"
        )
    if plan.mode == "policy":
        return
    if plan.control is None or plan.control not in arms:
        raise PlanError(
            "config.experiment.control", f"{plan.mode} mode needs a control among {list(arms)}"
        )
    if plan.mode == "canary":
        if plan.challenger is None or plan.challenger not in arms:
            raise PlanError(
                "config.experiment.challenger", f"canary mode needs a challenger among {list(arms)}"
            )
        if plan.challenger == plan.control:
            raise PlanError("config.experiment.challenger", "the challenger is the control")
    if len(arms) < 2:
        raise PlanError("arms", f"{plan.mode} mode needs at least two arms")
    unknown = sorted(set(plan.weights) - set(arms))
    if unknown:
        raise PlanError("config.experiment.weights", f"weights name unknown arms: {unknown}")
    for arm, weight in plan.weights.items():
        if not weight > 0.0:
            raise PlanError(f"config.experiment.weights.{arm}", "weights must be > 0")
