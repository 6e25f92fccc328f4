"""The experiment aggregate runs canaries, promotes winners and raises SRM, as a pure fold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from actors.decider import DecideRequest, decide
from actors.experiment_analysis import proposal_events
from actors.experiment_config import ConfigError, parse_config
from actors.experiment_ledger import ExperimentLedger
from actors.experiments.lifecycle import Status
from events.schema import (
    CanaryAdvanced,
    CanaryRolledBack,
    ChallengerPromoted,
    DecisionMade,
    ExperimentCompleted,
    ExperimentCreated,
    GuardrailBreached,
    OutcomeObserved,
    SampleRatioMismatch,
)

EXP = "exp"
CANARY = {
    "mode": "canary",
    "control": "old",
    "challenger": "new",
    "look_every": 50,
    "guardrail_min_samples": 30,
    "canary": {"min_samples_per_stage": 60},
}


def created(plan: dict[str, Any], arms: tuple[str, ...] = ("old", "new")) -> ExperimentLedger:
    ledger = ExperimentLedger.initial(EXP)
    ledger.apply(
        ExperimentCreated(
            event_id="c", entity_id=EXP, at=0.0, arms=arms, config={"experiment": plan}
        )
    )
    return ledger


def serve(
    ledger: ExperimentLedger,
    requests: int,
    rng: np.random.Generator,
    *,
    reward: dict[str, float],
    cost: dict[str, float],
    start: int = 0,
) -> list[type]:
    """Decide for ``requests`` units, observe outcomes, append every proposed event; return their types."""
    appended: list[type] = []
    for i in range(start, start + requests):
        decision, event = decide(
            ledger,
            DecideRequest(context={"unit_id": f"u{i}"}),
            decision_id=f"{EXP}:d{i}",
            now=float(i),
        )
        ledger.apply(event)
        arm = decision.arm
        ledger.apply(
            OutcomeObserved(
                event_id=f"o{i}",
                entity_id=EXP,
                at=i + 0.5,
                decision_id=decision.decision_id,
                reward=float(rng.random() < reward[arm]),
                cost_usd=cost[arm] * float(rng.lognormal(0.0, 0.3)),
                latency_ms=float(500 * rng.lognormal(0.0, 0.3)),
                quality=float(rng.normal(0.7, 0.1)),
            )
        )
        for proposed in proposal_events(EXP, ledger.analysis.proposals, at=i + 0.6):
            ledger.apply(proposed)
            appended.append(type(proposed))
    return appended


def test_a_healthy_canary_walks_every_stage_and_promotes_the_challenger() -> None:
    """Equal costs: the canary advances 5 -> 25 -> 50 -> 100%, promotes and completes."""
    ledger = created(CANARY)
    events = serve(
        ledger,
        6000,
        np.random.default_rng(1),
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.01},
    )
    assert events == [CanaryAdvanced] * 3 + [ChallengerPromoted, ExperimentCompleted]
    assert ledger.lifecycle.status is Status.COMPLETE
    assert ledger.lifecycle.champion == "new"


def test_a_canary_breaching_cost_rolls_back_by_itself() -> None:
    """A challenger costing 50% more is rolled back with the breach as reason; all traffic returns."""
    ledger = created(CANARY)
    events = serve(
        ledger,
        6000,
        np.random.default_rng(2),
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.015},
    )
    assert GuardrailBreached in events and events[-1] is CanaryRolledBack
    assert ledger.analysis.canary.status == "rolled_back"
    assert "cost may not rise more than 10%" in ledger.analysis.canary.reason
    assert ledger.lifecycle.breaches["cost"].startswith("new: guardrail breached")
    after = [
        decide(
            ledger,
            DecideRequest(context={"unit_id": f"late{i}"}),
            decision_id=f"{EXP}:x{i}",
            now=1e6,
        )[0].arm
        for i in range(200)
    ]
    assert set(after) == {"old"}


def test_a_clear_winner_is_promoted_in_a_split_experiment() -> None:
    """With a 60% vs 40% success rate the split experiment promotes the better arm and completes."""
    plan = {
        "mode": "split",
        "control": "old",
        "look_every": 100,
        "stopping": {"min_samples_per_variant": 200},
    }
    ledger = created(plan)
    events = serve(
        ledger,
        4000,
        np.random.default_rng(3),
        reward={"old": 0.4, "new": 0.6},
        cost={"old": 0.01, "new": 0.01},
    )
    assert events[-2:] == [ChallengerPromoted, ExperimentCompleted]
    assert (ledger.lifecycle.champion, ledger.lifecycle.status) == ("new", Status.COMPLETE)


def test_a_split_without_difference_promotes_nobody_early() -> None:
    """Equal arms over 3,000 requests: no promotion (the always-valid test holds its level)."""
    plan = {"mode": "split", "control": "old", "stopping": {"min_samples_per_variant": 200}}
    ledger = created(plan)
    events = serve(
        ledger,
        3000,
        np.random.default_rng(4),
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.01},
    )
    assert ChallengerPromoted not in events


def test_split_assignment_is_sticky_and_even() -> None:
    """A unit keeps its arm across requests and the split is close to 50/50 over 4,000 units."""
    ledger = created({"mode": "split", "control": "old"})
    first = [
        decide(
            ledger, DecideRequest(context={"unit_id": f"u{i}"}), decision_id=f"{EXP}:a{i}", now=1.0
        )[0]
        for i in range(4000)
    ]
    again = [
        decide(
            ledger, DecideRequest(context={"unit_id": f"u{i}"}), decision_id=f"{EXP}:b{i}", now=2.0
        )[0]
        for i in range(4000)
    ]
    assert [d.arm for d in first] == [d.arm for d in again]
    share = sum(d.arm == "new" for d in first) / 4000
    assert abs(share - 0.5) < 0.03 and {d.propensity for d in first} == {0.5}


def test_a_skewed_assignment_raises_srm_once() -> None:
    """Decisions logged 60/40 against a 50/50 split raise one SampleRatioMismatch with the counts."""
    ledger = created({"mode": "split", "control": "old", "look_every": 100, "auto_promote": False})
    raised: list[type] = []
    for i in range(2000):
        arm = "old" if i % 5 < 3 else "new"
        ledger.apply(
            DecisionMade(
                event_id=f"d{i}",
                entity_id=EXP,
                at=float(i),
                decision_id=f"d{i}",
                arm=arm,
                propensity=0.5,
            )
        )
        ledger.apply(
            OutcomeObserved(
                event_id=f"o{i}", entity_id=EXP, at=i + 0.5, decision_id=f"d{i}", reward=0.5
            )
        )
        for event in proposal_events(EXP, ledger.analysis.proposals, at=i + 0.6):
            ledger.apply(event)
            raised.append(type(event))
    assert raised == [SampleRatioMismatch]
    assert ledger.lifecycle.srm.startswith("sample ratio mismatch: decisions old=")


def test_the_analysis_replays_to_the_same_bytes() -> None:
    """Folding the same canary history twice gives byte-identical states, proposals included."""

    def run() -> bytes:
        ledger = created(CANARY)
        serve(
            ledger,
            1500,
            np.random.default_rng(5),
            reward={"old": 0.5, "new": 0.5},
            cost={"old": 0.01, "new": 0.02},
        )
        return ledger.to_bytes()

    assert run() == run()
    ledger = created(CANARY)
    serve(
        ledger,
        700,
        np.random.default_rng(6),
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.01},
    )
    assert ExperimentLedger.from_bytes(ledger.to_bytes()).to_bytes() == ledger.to_bytes()


@pytest.mark.parametrize(
    ("plan", "field"),
    [
        ({"mode": "split"}, "config.experiment.control"),
        ({"mode": "canary", "control": "old"}, "config.experiment.challenger"),
        ({"mode": "canary", "control": "old", "challenger": "old"}, "config.experiment.challenger"),
        ({"mode": "split", "control": "old", "weights": {"zz": 1}}, "config.experiment.weights"),
        ({"mode": "split", "control": "old", "look_every": 0}, "config.experiment.look_every"),
        ({"mode": "coin-flip"}, "config"),
    ],
)
def test_invalid_plans_are_refused_with_their_field(plan: dict[str, Any], field: str) -> None:
    """A plan that cannot run is refused at creation, naming the field."""
    with pytest.raises(ConfigError) as info:
        parse_config({"experiment": plan}, ["old", "new"])
    assert info.value.field == field


def test_a_guardrail_pause_then_resume_judges_fresh_data() -> None:
    """A cost breach pauses a split; after resume with the cost fixed, it runs on without a new pause."""
    from events.schema import ExperimentPaused, ExperimentResumed

    plan = {
        "mode": "split",
        "control": "old",
        "look_every": 50,
        "guardrail_min_samples": 30,
        "auto_promote": False,
    }
    ledger = created(plan)
    rng = np.random.default_rng(8)
    first = serve(
        ledger, 3000, rng, reward={"old": 0.5, "new": 0.5}, cost={"old": 0.01, "new": 0.02}
    )
    assert first[-2:] == [GuardrailBreached, ExperimentPaused]
    assert ledger.lifecycle.status is Status.PAUSED
    assert ledger.lifecycle.reason.startswith("new: guardrail breached: cost")
    ledger.apply(ExperimentResumed(event_id="r", entity_id=EXP, at=1e5, reason="fixed"))
    later = serve(
        ledger,
        2000,
        rng,
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.01},
        start=10**5,
    )
    assert later == [] and ledger.lifecycle.status is Status.RUNNING


def test_a_rollback_guardrail_ends_a_split_on_its_control() -> None:
    """A breach of a guardrail configured to roll back completes the split with the control as winner."""
    plan = {
        "mode": "split",
        "control": "old",
        "look_every": 50,
        "guardrail_min_samples": 30,
        "auto_promote": False,
        "guardrails": [{"metric": "cost", "limit": 0.1, "action": "rollback"}],
    }
    ledger = created(plan)
    events = serve(
        ledger,
        3000,
        np.random.default_rng(9),
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.02},
    )
    assert events == [GuardrailBreached, ExperimentCompleted]
    assert (ledger.lifecycle.status, ledger.lifecycle.winner) == (Status.COMPLETE, "old")
    assert ledger.lifecycle.reason.startswith("rolled back to old: new: guardrail breached: cost")


def test_the_maximum_duration_ends_a_split_in_event_time() -> None:
    """A split without a winner completes once event time passes max_duration_s, control kept."""
    plan = {
        "mode": "split",
        "control": "old",
        "look_every": 100,
        "stopping": {"min_samples_per_variant": 200, "max_duration_s": 1500.0},
    }
    ledger = created(plan)
    events = serve(
        ledger,
        3000,
        np.random.default_rng(10),
        reward={"old": 0.5, "new": 0.5},
        cost={"old": 0.01, "new": 0.01},
    )
    assert events == [ExperimentCompleted]
    assert ledger.lifecycle.winner == "old"
    assert "max_duration" in ledger.lifecycle.reason
    assert 1500.0 <= ledger.lifecycle.changed_at < 1700.0
