"""Admin requests that move an experiment through its lifecycle: start, pause, resume, stop,
promote.

Each is decided against the lifecycle read from the log (``gateway.admin.read_lifecycle``) by
the state machine of :mod:`actors.experiments.lifecycle`, so the gateway refuses exactly what
the machine refuses, with the error code ``invalid_transition`` and a message naming the
current state and the requested action. Pure: the caller supplies the state, the event id and
the time; ``gateway.admin`` appends the event with optimistic concurrency and answers a retried
``request_id`` with its first result.
"""

from __future__ import annotations

import uuid
from typing import Final, Protocol

import msgspec

from actors.experiment_lifecycle import LifecycleState
from actors.experiments.lifecycle import LifecycleError, Status, transition
from events.schema import (
    ChallengerPromoted,
    Event,
    ExperimentCompleted,
    ExperimentPaused,
    ExperimentResumed,
    ExperimentStarted,
)
from gateway.wire import RequestError

__all__ = [
    "LIFECYCLE_ACTIONS",
    "PromoteArm",
    "StopExperiment",
    "TransitionExperiment",
    "decide_lifecycle",
    "lifecycle_event_id",
]


class TransitionExperiment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``start``, ``pause`` or ``resume``: the experiment and why."""

    experiment_id: str
    reason: str = ""
    request_id: str | None = None


class StopExperiment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    experiment_id: str
    reason: str = ""
    winner: str | None = None
    """The arm served from now on, if the experiment found one."""
    request_id: str | None = None


class PromoteArm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    experiment_id: str
    arm: str
    reason: str = ""
    request_id: str | None = None


LifecycleRequest = TransitionExperiment | StopExperiment | PromoteArm

LIFECYCLE_ACTIONS: Final[dict[str, type[LifecycleRequest]]] = {
    "start": TransitionExperiment,
    "pause": TransitionExperiment,
    "resume": TransitionExperiment,
    "stop": StopExperiment,
    "promote": PromoteArm,
}
"""Action -> request type; the subject is ``llmopt.admin.experiment.<action>``."""


class LifecycleView(Protocol):
    """What the decision reads from ``gateway.admin.Lifecycle``."""

    created: bool
    arms: list[str]
    stage: LifecycleState


def lifecycle_event_id(action: str, request: LifecycleRequest) -> str:
    """``<action>:<experiment>:<request_id>``: a retried request appends the same event id."""
    return f"{action}:{request.experiment_id}:{request.request_id or uuid.uuid4().hex}"


def _check_transition(state: LifecycleView, action: str, experiment_id: str) -> None:
    if not state.created:
        raise RequestError(
            "not_found", f"experiment {experiment_id!r} does not exist", "experiment_id"
        )
    try:
        transition(state.stage.status, action)
    except LifecycleError as exc:
        raise RequestError("invalid_transition", str(exc), "experiment_id") from exc


def decide_lifecycle(
    action: str, state: LifecycleView, request: LifecycleRequest, event_id: str, now: float
) -> Event:
    """The event that records ``action`` on the experiment, or a :class:`RequestError`."""
    eid = request.experiment_id
    if isinstance(request, PromoteArm):
        if not state.created:
            raise RequestError("not_found", f"experiment {eid!r} does not exist", "experiment_id")
        status = state.stage.status
        if status in (Status.DRAFT, Status.ARCHIVED):
            raise RequestError(
                "invalid_transition",
                f"cannot promote in an experiment that is {status.value}: promote is allowed "
                "only from running, paused or complete",
                "experiment_id",
            )
        if request.arm not in state.arms:
            raise RequestError("not_found", f"no active arm {request.arm!r}", "arm")
        if request.arm == state.stage.champion:
            raise RequestError(
                "invalid_transition", f"arm {request.arm!r} is the champion already", "arm"
            )
        return ChallengerPromoted(
            event_id=event_id,
            entity_id=eid,
            at=now,
            arm=request.arm,
            previous=state.stage.champion,
            reason=request.reason,
        )
    _check_transition(state, action, eid)
    if isinstance(request, StopExperiment):
        if request.winner is not None and request.winner not in state.arms:
            raise RequestError("not_found", f"no active arm {request.winner!r}", "winner")
        return ExperimentCompleted(
            event_id=event_id, entity_id=eid, at=now, reason=request.reason, winner=request.winner
        )
    cls = {"start": ExperimentStarted, "pause": ExperimentPaused, "resume": ExperimentResumed}[
        action
    ]
    return cls(event_id=event_id, entity_id=eid, at=now, reason=request.reason)
