"""An experiment's lifecycle as its log tells it: the fold of its lifecycle events.

The transitions themselves are :mod:`actors.experiments.lifecycle`'s state machine; this
module folds the events that record them (``ExperimentCreated`` with or without ``draft``,
``ExperimentStarted`` / ``Paused`` / ``Resumed`` / ``Completed``, ``ExperimentArchived``) plus
the champion, guardrail and canary facts that change what an experiment serves. The admin
gateway refuses an invalid transition before it is appended, so one that is nevertheless in the
log (two operators racing, a replayed duplicate) is counted in ``ignored`` and changes nothing:
the fold never fails on a logged fact. ``ExperimentArchived`` is accepted from any state, as it
was before lifecycles existed; the gateway only appends it for a draft or a complete experiment,
or, for an older client's ``archive`` of a running one, as the end of the experiment.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from actors.experiments.lifecycle import LifecycleError, Status, transition
from events.schema import (
    CanaryAdvanced,
    CanaryRolledBack,
    ChallengerPromoted,
    Event,
    ExperimentArchived,
    ExperimentCompleted,
    ExperimentCreated,
    ExperimentPaused,
    ExperimentResumed,
    ExperimentStarted,
    GuardrailBreached,
    SampleRatioMismatch,
)

__all__ = ["LIFECYCLE_EVENTS", "LifecycleState"]

_ACTIONS: dict[type[Event], str] = {
    ExperimentStarted: "start",
    ExperimentPaused: "pause",
    ExperimentResumed: "resume",
    ExperimentCompleted: "stop",
}

LIFECYCLE_EVENTS: tuple[type[Event], ...] = (
    *_ACTIONS,
    ChallengerPromoted,
    GuardrailBreached,
    CanaryAdvanced,
    CanaryRolledBack,
    SampleRatioMismatch,
)
"""The events this fold adds to an experiment's state (created and archived come first)."""


class LifecycleState(msgspec.Struct, kw_only=True):
    status: Status = Status.RUNNING
    reason: str = ""
    """Why the last transition happened (an operator's words or a guardrail's evidence)."""
    changed_at: float = 0.0
    started_at: float | None = None
    """Event time of the first start: the clock of the maximum-duration stopping rule."""
    champion: str | None = None
    """The arm served while the experiment does not run (set by promotion or a winner)."""
    winner: str | None = None
    breaches: dict[str, str] = msgspec.field(default_factory=dict)
    """Guardrail metric -> the reason of its latest breach."""
    canary_stage: int = 0
    canary_rolled_back: bool = False
    promotions: int = 0
    srm: str = ""
    """The reason of a sample-ratio-mismatch alarm, once raised."""
    ignored: int = 0
    """Logged transitions that did not apply to the state they met."""

    def create(self, event: ExperimentCreated) -> None:
        self.status = Status.DRAFT if event.draft else Status.RUNNING
        self.changed_at = float(event.at)
        self.started_at = None if event.draft else float(event.at)

    def apply(self, event: Event, arms: Mapping[str, object]) -> None:
        """Fold one lifecycle event; ``arms`` are the experiment's arms, to check a promotion."""
        action = _ACTIONS.get(type(event))
        if action is not None:
            try:
                self.status = transition(self.status, action)
            except LifecycleError:
                self.ignored += 1
                return
            self.reason = getattr(event, "reason", "")
            self.changed_at = float(event.at)
            if isinstance(event, ExperimentStarted) and self.started_at is None:
                self.started_at = float(event.at)
            if isinstance(event, ExperimentCompleted) and event.winner in arms:
                self.winner = self.champion = event.winner
        elif isinstance(event, ExperimentArchived):
            if self.status is Status.ARCHIVED:
                self.ignored += 1
                return
            self.status, self.reason, self.changed_at = (
                Status.ARCHIVED,
                event.reason,
                float(event.at),
            )
        elif isinstance(event, ChallengerPromoted):
            if event.arm not in arms or event.arm == self.champion:
                self.ignored += 1
                return
            self.champion = event.arm
            self.promotions += 1
        elif isinstance(event, GuardrailBreached):
            self.breaches[event.metric] = event.reason
        elif isinstance(event, CanaryAdvanced):
            self.canary_stage = max(self.canary_stage, event.stage)
        elif isinstance(event, CanaryRolledBack):
            self.canary_rolled_back = True
        elif isinstance(event, SampleRatioMismatch):
            self.srm = event.reason

    def serving_arm(self, fallback_arm: str | None) -> str | None:
        """What a decide request gets while the experiment does not run: the champion (a
        promoted challenger or the winner), else the fallback arm, else nothing."""
        return self.champion if self.champion is not None else fallback_arm
