"""The experiment aggregate folds lifecycle events, and a non-running experiment serves its champion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.decider import DecideRequest, DecisionRefused, decide
from actors.experiment_ledger import ExperimentLedger
from actors.experiments.lifecycle import Status, allowed_actions, transition
from events.schema import (
    CanaryAdvanced,
    CanaryRolledBack,
    ChallengerPromoted,
    DecisionMade,
    Event,
    ExperimentArchived,
    ExperimentCompleted,
    ExperimentCreated,
    ExperimentPaused,
    ExperimentResumed,
    ExperimentStarted,
    GuardrailBreached,
    OutcomeObserved,
)
from tests.strategies import DETERMINISTIC

EXP = "router"
ARMS = ("gpt-4", "mixtral")
EVENT_OF = {
    "start": ExperimentStarted,
    "pause": ExperimentPaused,
    "resume": ExperimentResumed,
    "stop": ExperimentCompleted,
    "archive": ExperimentArchived,
}


def created(*, draft: bool = False, fallback: str | None = "gpt-4") -> ExperimentLedger:
    ledger = ExperimentLedger.initial(EXP)
    ledger.apply(
        ExperimentCreated(
            event_id="c", entity_id=EXP, at=0.0, arms=ARMS, fallback_arm=fallback, draft=draft
        )
    )
    return ledger


def lifecycle(action: str, at: float, **fields: object) -> Event:
    cls = EVENT_OF[action]
    return cls(event_id=f"{action}-{at}", entity_id=EXP, at=at, **fields)  # type: ignore[arg-type]


def ask(ledger: ExperimentLedger, decision_id: str = "router:d1") -> tuple[str, bool, str | None]:
    decision, _ = decide(ledger, DecideRequest(), decision_id=decision_id, now=10.0)
    return decision.arm, decision.fallback, decision.reason


class TestFold:
    def test_an_experiment_without_draft_runs_from_creation(self) -> None:
        """ExperimentCreated without draft starts Running, as experiments always did."""
        ledger = created()
        assert ledger.lifecycle.status is Status.RUNNING
        assert ledger.lifecycle.started_at == 0.0

    def test_a_draft_waits_for_its_start(self) -> None:
        """A draft is Draft until ExperimentStarted, which also starts its duration clock."""
        ledger = created(draft=True)
        assert ledger.lifecycle.status is Status.DRAFT
        ledger.apply(lifecycle("start", 5.0, reason="go"))
        assert ledger.lifecycle.status is Status.RUNNING
        assert (ledger.lifecycle.started_at, ledger.lifecycle.reason) == (5.0, "go")

    def test_pause_resume_stop_archive(self) -> None:
        """The fold walks Running -> Paused -> Running -> Complete -> Archived with reasons."""
        ledger = created()
        ledger.apply(lifecycle("pause", 1.0, reason="cost spike"))
        assert (ledger.lifecycle.status, ledger.lifecycle.reason) == (Status.PAUSED, "cost spike")
        ledger.apply(lifecycle("resume", 2.0))
        ledger.apply(lifecycle("stop", 3.0, winner="mixtral", reason="significant"))
        assert ledger.lifecycle.status is Status.COMPLETE
        assert ledger.lifecycle.winner == ledger.lifecycle.champion == "mixtral"
        ledger.apply(lifecycle("archive", 4.0))
        assert ledger.lifecycle.status is Status.ARCHIVED and ledger.archived

    def test_an_invalid_logged_transition_is_counted_not_applied(self) -> None:
        """A transition the state does not allow (a race, a duplicate) changes nothing but a counter."""
        ledger = created()
        ledger.apply(lifecycle("resume", 1.0))
        ledger.apply(lifecycle("start", 2.0))
        assert ledger.lifecycle.status is Status.RUNNING
        assert ledger.lifecycle.ignored == 2

    def test_promotion_breach_and_canary_facts_are_kept(self) -> None:
        """Promotions set the champion; breaches and canary stages are remembered with reasons."""
        ledger = created()
        ledger.apply(ChallengerPromoted(event_id="p", entity_id=EXP, at=1.0, arm="mixtral"))
        ledger.apply(ChallengerPromoted(event_id="p2", entity_id=EXP, at=1.5, arm="nope"))
        ledger.apply(
            GuardrailBreached(
                event_id="g",
                entity_id=EXP,
                at=2.0,
                metric="cost",
                arm="mixtral",
                action="pause",
                reason="cost +40%",
            )
        )
        ledger.apply(CanaryAdvanced(event_id="ca", entity_id=EXP, at=3.0, stage=2, fraction=0.5))
        ledger.apply(CanaryRolledBack(event_id="cr", entity_id=EXP, at=4.0, stage=2))
        state = ledger.lifecycle
        assert (state.champion, state.promotions, state.ignored) == ("mixtral", 1, 1)
        assert state.breaches == {"cost": "cost +40%"}
        assert (state.canary_stage, state.canary_rolled_back) == (2, True)

    @DETERMINISTIC
    @given(st.booleans(), st.lists(st.sampled_from(list(EVENT_OF)), max_size=25))
    def test_the_fold_follows_the_state_machine(self, draft: bool, actions: list[str]) -> None:
        """Any logged sequence of lifecycle events leaves the status the state machine gives."""
        ledger = created(draft=draft)
        expected = Status.DRAFT if draft else Status.RUNNING
        for i, action in enumerate(actions):
            ledger.apply(lifecycle(action, float(i + 1)))
            if action == "archive" and expected is not Status.ARCHIVED:
                expected = Status.ARCHIVED  # archival is a logged fact from any live state
            elif action in allowed_actions(expected):
                expected = transition(expected, action)
        assert ledger.lifecycle.status is expected
        replayed = ExperimentLedger.from_bytes(ledger.to_bytes())
        assert replayed.to_bytes() == ledger.to_bytes()


class TestDecideWhileNotRunning:
    def test_a_running_experiment_decides_with_its_policy(self) -> None:
        """While running, decide is the policy's choice and not a fallback."""
        _, fallback, reason = ask(created())
        assert (fallback, reason) == (False, None)

    @pytest.mark.parametrize(
        ("actions", "reason"),
        [(["pause"], "experiment_paused"), (["stop"], "experiment_complete")],
    )
    def test_paused_or_complete_serves_the_fallback_with_a_reason(
        self, actions: list[str], reason: str
    ) -> None:
        """A paused or complete experiment answers with its fallback arm and says why."""
        ledger = created()
        for i, action in enumerate(actions):
            ledger.apply(lifecycle(action, float(i + 1)))
        assert ask(ledger) == ("gpt-4", True, reason)

    def test_a_draft_serves_its_fallback(self) -> None:
        """A draft answers with its fallback arm and reason experiment_draft."""
        assert ask(created(draft=True)) == ("gpt-4", True, "experiment_draft")

    def test_the_champion_wins_over_the_fallback(self) -> None:
        """After a promotion, a paused experiment serves the champion, not the fallback."""
        ledger = created()
        ledger.apply(ChallengerPromoted(event_id="p", entity_id=EXP, at=1.0, arm="mixtral"))
        ledger.apply(lifecycle("pause", 2.0))
        assert ask(ledger) == ("mixtral", True, "experiment_paused")

    def test_nothing_to_serve_is_a_not_running_error(self) -> None:
        """Without champion or fallback a paused experiment refuses with code not_running."""
        ledger = created(fallback=None)
        ledger.apply(lifecycle("pause", 1.0))
        with pytest.raises(DecisionRefused) as info:
            ask(ledger)
        assert info.value.code == "not_running"
        assert "paused" in info.value.message

    def test_decisions_served_while_paused_do_not_teach_the_policy(self) -> None:
        """An outcome of a decision made while paused is joined but changes no reward sums."""
        ledger = created()
        ledger.apply(lifecycle("pause", 1.0))
        ledger.apply(
            DecisionMade(
                event_id="d", entity_id=EXP, at=2.0, decision_id="d", arm="gpt-4", propensity=1.0
            )
        )
        before = ledger.policy.to_bytes() if ledger.policy is not None else b""
        ledger.apply(lifecycle("resume", 3.0))
        ledger.apply(
            OutcomeObserved(event_id="o", entity_id=EXP, at=4.0, decision_id="d", reward=1.0)
        )
        assert ledger.inactive_outcomes == 1
        assert ledger.arms["gpt-4"].outcomes == 1 and ledger.arms["gpt-4"].rewarded == 0
        assert ledger.policy is not None and ledger.policy.to_bytes() == before
