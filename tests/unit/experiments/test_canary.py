"""Canary rollout advances 5% -> 25% -> 50% -> 100% while healthy and rolls back on a breach."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.experiments.canary import CanaryPlan, CanaryState, canary_fraction, step_canary
from actors.experiments.guardrails import GuardrailBreach
from tests.strategies import DETERMINISTIC

PLAN = CanaryPlan(min_samples_per_stage=100)
BREACH = GuardrailBreach(metric="cost", action="rollback", reason="guardrail breached: cost")


def test_default_stages_are_the_issues() -> None:
    """The default plan is 5%, 25%, 50%, then all traffic."""
    assert CanaryPlan().stages == (0.05, 0.25, 0.50, 1.0)


def test_a_healthy_canary_walks_every_stage_then_completes() -> None:
    """With enough healthy samples at each stage the canary advances three times and completes."""
    state, changes, fractions = CanaryState(), [], [canary_fraction(PLAN, CanaryState())]
    for samples in range(0, 1001, 50):
        step = step_canary(PLAN, state, samples, [])
        state = step.state
        if step.change != "none":
            changes.append(step.change)
            fractions.append(canary_fraction(PLAN, state))
    assert changes == ["advanced", "advanced", "advanced", "completed"]
    assert fractions == [0.05, 0.25, 0.5, 1.0, 1.0]
    assert state.status == "complete"


def test_a_stage_needs_its_own_samples() -> None:
    """Samples gathered in an earlier stage do not count toward the next one."""
    step = step_canary(PLAN, CanaryState(), 100, [])
    assert step.change == "advanced"
    assert step_canary(PLAN, step.state, 199, []).change == "none"
    assert step_canary(PLAN, step.state, 200, []).change == "advanced"


def test_a_breach_rolls_back_at_once_with_the_reason() -> None:
    """A guardrail breach rolls the canary back to 0% and the reason names the stage and breach."""
    advanced = step_canary(PLAN, CanaryState(), 100, []).state
    step = step_canary(PLAN, advanced, 110, [BREACH])
    assert step.change == "rolled_back"
    assert canary_fraction(PLAN, step.state) == 0.0
    assert step.reason == "rolled back at 25%: guardrail breached: cost"


def test_a_rollback_is_final() -> None:
    """After a rollback no amount of healthy traffic advances the canary again."""
    state = step_canary(PLAN, CanaryState(), 5, [BREACH]).state
    assert step_canary(PLAN, state, 10_000, []).change == "none"


@given(st.lists(st.tuples(st.integers(0, 300), st.booleans()), max_size=30))
@DETERMINISTIC
def test_traffic_only_grows_until_a_rollback(steps: list[tuple[int, bool]]) -> None:
    """The challenger's fraction never shrinks except to 0 on a rollback, and stays in the stages."""
    state, samples, last = CanaryState(), 0, canary_fraction(PLAN, CanaryState())
    for more, breach in steps:
        samples += more
        state = step_canary(PLAN, state, samples, [BREACH] if breach else []).state
        fraction = canary_fraction(PLAN, state)
        assert fraction in (0.0, *PLAN.stages)
        if state.status == "rolled_back":
            assert fraction == 0.0
        else:
            assert fraction >= last
        last = fraction


@pytest.mark.parametrize(
    ("stages", "message"),
    [
        ((), "fractions"),
        ((0.0, 1.0), "fractions"),
        ((0.5, 0.25, 1.0), "increase"),
        ((0.05, 0.5), "last canary stage"),
        ((0.05, 1.5), "fractions"),
    ],
)
def test_impossible_plans_are_refused(stages: tuple[float, ...], message: str) -> None:
    """Stages must be increasing fractions ending at all traffic."""
    with pytest.raises(ValueError, match=message):
        CanaryPlan(stages=stages)
