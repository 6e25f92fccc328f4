"""The lifecycle state machine allows exactly Draft -> Running <-> Paused -> Complete -> Archived."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.experiments.lifecycle import (
    ACTIONS,
    TRANSITIONS,
    LifecycleError,
    Status,
    allowed_actions,
    transition,
)
from tests.strategies import DETERMINISTIC

VALID = [
    (Status.DRAFT, "start", Status.RUNNING),
    (Status.RUNNING, "pause", Status.PAUSED),
    (Status.PAUSED, "resume", Status.RUNNING),
    (Status.RUNNING, "stop", Status.COMPLETE),
    (Status.PAUSED, "stop", Status.COMPLETE),
    (Status.COMPLETE, "archive", Status.ARCHIVED),
    (Status.DRAFT, "archive", Status.ARCHIVED),
]


@pytest.mark.parametrize(("current", "action", "target"), VALID)
def test_valid_transitions_lead_where_the_diagram_says(
    current: Status, action: str, target: Status
) -> None:
    """Each arrow of the diagram takes its source state to its target state."""
    assert transition(current, action) == target


def test_every_other_transition_is_refused() -> None:
    """Every (state, action) pair not in the diagram raises LifecycleError."""
    allowed = {(c, a) for c, a, _ in VALID}
    for current in Status:
        for action in ACTIONS:
            if (current, action) in allowed:
                continue
            with pytest.raises(LifecycleError):
                transition(current, action)


def test_refusal_names_the_current_state_and_the_action() -> None:
    """The error says what was asked, from which state, and where it is allowed from."""
    with pytest.raises(LifecycleError) as info:
        transition(Status.COMPLETE, "resume")
    assert str(info.value) == (
        "cannot resume an experiment that is complete: resume is allowed only from paused"
    )
    assert info.value.current is Status.COMPLETE
    assert info.value.action == "resume"
    assert info.value.code == "invalid_transition"


def test_unknown_action_is_refused_with_the_known_ones() -> None:
    """An action the machine does not know is refused and the error lists the known actions."""
    with pytest.raises(LifecycleError, match="unknown lifecycle action 'launch'"):
        transition(Status.DRAFT, "launch")


def test_archived_is_terminal() -> None:
    """Nothing can be done to an archived experiment."""
    assert allowed_actions(Status.ARCHIVED) == ()


def test_allowed_actions_match_the_table() -> None:
    """allowed_actions lists exactly the actions whose sources include the state."""
    for current in Status:
        assert set(allowed_actions(current)) == {
            a for a, (sources, _) in TRANSITIONS.items() if current in sources
        }


@given(st.lists(st.sampled_from(ACTIONS), max_size=40))
@DETERMINISTIC
def test_transitions_are_closed_under_the_machine(actions: list[str]) -> None:
    """Any sequence of requests, applied where allowed, only ever visits declared states."""
    state = Status.DRAFT
    for action in actions:
        if action in allowed_actions(state):
            state = transition(state, action)
            assert state in Status
        else:
            with pytest.raises(LifecycleError):
                transition(state, action)
    if state is Status.ARCHIVED:
        assert allowed_actions(state) == ()


@given(st.lists(st.sampled_from(ACTIONS), max_size=40))
@DETERMINISTIC
def test_complete_and_archived_are_never_left_for_running(actions: list[str]) -> None:
    """Once complete, an experiment never runs again (results stay frozen)."""
    state, finished = Status.DRAFT, False
    for action in actions:
        if action in allowed_actions(state):
            state = transition(state, action)
        finished = finished or state in (Status.COMPLETE, Status.ARCHIVED)
        if finished:
            assert state in (Status.COMPLETE, Status.ARCHIVED)
