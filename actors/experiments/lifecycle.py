"""The experiment lifecycle: Draft -> Running <-> Paused -> Complete -> Archived.

An experiment is defined (Draft), started (Running), may be paused and resumed any number of
times, is stopped (Complete: no more traffic, results frozen) and finally archived. Every
transition is an event in the log, so the admin gateway checks a requested transition with
:func:`transition` before appending it, and an invalid one is refused with a
:class:`LifecycleError` naming the current state and the requested action.

A draft that was never started may be archived directly (a discarded definition); nothing else
skips a state. The table is the single source of truth: the CLI, the gateway and the fold all
read it.

>>> transition(Status.DRAFT, "start")
<Status.RUNNING: 'running'>
>>> allowed_actions(Status.PAUSED)
('resume', 'stop')
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args

__all__ = [
    "ACTIONS",
    "TRANSITIONS",
    "Action",
    "LifecycleError",
    "Status",
    "allowed_actions",
    "transition",
]


class Status(StrEnum):
    """Where an experiment is in its life; the value is what the wire and the CLI show."""

    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETE = "complete"
    ARCHIVED = "archived"


Action = Literal["start", "pause", "resume", "stop", "archive"]
ACTIONS: tuple[Action, ...] = get_args(Action)

TRANSITIONS: dict[str, tuple[frozenset[Status], Status]] = {
    "start": (frozenset({Status.DRAFT}), Status.RUNNING),
    "pause": (frozenset({Status.RUNNING}), Status.PAUSED),
    "resume": (frozenset({Status.PAUSED}), Status.RUNNING),
    "stop": (frozenset({Status.RUNNING, Status.PAUSED}), Status.COMPLETE),
    "archive": (frozenset({Status.DRAFT, Status.COMPLETE}), Status.ARCHIVED),
}
"""Per action: the states it may be taken from, and the state it leads to."""


class LifecycleError(ValueError):
    """A transition the state machine does not allow from the current state."""

    code = "invalid_transition"

    def __init__(self, current: Status, action: str) -> None:
        self.current = current
        self.action = action
        if action not in TRANSITIONS:
            message = f"unknown lifecycle action {action!r}; known: {', '.join(ACTIONS)}"
        else:
            sources = ", ".join(sorted(s.value for s in TRANSITIONS[action][0]))
            message = (
                f"cannot {action} an experiment that is {current.value}: "
                f"{action} is allowed only from {sources}"
            )
        super().__init__(message)


def transition(current: Status, action: str) -> Status:
    """The state after ``action``; raises :class:`LifecycleError` if it is not allowed."""
    rule = TRANSITIONS.get(action)
    if rule is None or current not in rule[0]:
        raise LifecycleError(current, action)
    target: Status = rule[1]
    return target


def allowed_actions(current: Status) -> tuple[Action, ...]:
    """The actions that may be taken from ``current``, in declaration order."""
    return tuple(a for a in ACTIONS if current in TRANSITIONS[a][0])
