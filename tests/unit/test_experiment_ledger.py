"""The experiment ledger fold: per-arm statistics, the decision/outcome join and checkpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.experiment_ledger import ArmStats, ExperimentLedger, PendingDecision
from events.schema import (
    AnyEvent,
    CheckpointTaken,
    DecisionMade,
    ExperimentArchived,
    ExperimentCreated,
    OutcomeObserved,
)
from tests.strategies import DETERMINISTIC, UNKNOWN_ARM, experiment_histories

EXP = "exp-1"
T0 = 1_000_000.0

ledger_limits = st.sampled_from(
    [
        {},
        {"pending_capacity": 4, "pending_ttl_s": 60.0},
        {"pending_capacity": 1, "pending_ttl_s": 0.0},
    ]
)
"""Ledger limits for property tests: the defaults and ones small enough to evict and expire."""


def created(*arms: str, at: float = T0, fallback_arm: str | None = None) -> ExperimentCreated:
    return ExperimentCreated(
        event_id=f"create:{EXP}:r",
        entity_id=EXP,
        at=at,
        arms=arms,
        seed=7,
        fallback_arm=fallback_arm,
    )


def decided(decision_id: str, arm: str, at: float) -> DecisionMade:
    return DecisionMade(
        event_id=decision_id,
        entity_id=EXP,
        at=at,
        decision_id=decision_id,
        arm=arm,
        propensity=0.5,
    )


def observed(decision_id: str, at: float, **fields: Any) -> OutcomeObserved:
    return OutcomeObserved(
        event_id=f"o:{decision_id}", entity_id=EXP, at=at, decision_id=decision_id, **fields
    )


def checkpoint(at: float) -> CheckpointTaken:
    return CheckpointTaken(
        event_id="checkpoint:experiment:exp-1:9",
        entity_id=EXP,
        at=at,
        kind="experiment",
        seq=9,
        digest="0" * 64,
        state_version=1,
    )


def fold(events: Iterable[AnyEvent], **limits: Any) -> ExperimentLedger:
    ledger = ExperimentLedger(entity_id=EXP, **limits)
    for event in events:
        ledger.apply(event)
    return ledger


class TestArmStatistics:
    def test_known_sequence(self) -> None:
        """Outcomes joined to their decisions add up per arm: counts, sums, costs, errors."""
        ledger = fold(
            [
                created("a", "b", fallback_arm="b"),
                decided("d1", "a", T0 + 1),
                decided("d2", "a", T0 + 2),
                decided("d3", "b", T0 + 3),
                decided("d4", "b", T0 + 4),
                observed("d1", T0 + 5, reward=1.0, cost_usd=0.5, latency_ms=100.0),
                observed("d2", T0 + 6, reward=0.5, error=True, latency_ms=20.0),
                observed("d3", T0 + 7, cost_usd=0.25),
            ]
        )
        assert ledger.arms == {
            "a": ArmStats(
                decisions=2,
                outcomes=2,
                rewarded=2,
                reward_sum=1.5,
                reward_sumsq=1.25,
                cost_usd=0.5,
                latency_ms_sum=120.0,
                errors=1,
            ),
            # No reward sent: the composite reward scores the cost alone (0.25 USD is past the
            # default 0.05 bound, so 0.0).
            "b": ArmStats(decisions=2, outcomes=1, rewarded=1, cost_usd=0.25),
        }
        assert ledger.arms["a"].mean_reward == 0.75
        assert ledger.arms["b"].mean_reward == 0.0
        assert list(ledger.pending) == ["d4"]
        assert (ledger.created, ledger.archived, ledger.seed, ledger.fallback_arm) == (
            True,
            False,
            7,
            "b",
        )
        assert ledger.events_applied == 8
        assert ledger.watermark == T0 + 7

    def test_creation_lists_every_arm(self) -> None:
        """After creation every arm has (empty) statistics, in the order the request gave."""
        ledger = fold([created("z", "a", "m")])
        assert list(ledger.arms) == ["z", "a", "m"]
        assert all(stats == ArmStats() for stats in ledger.arms.values())

    def test_archival_marks_archived(self) -> None:
        """An ExperimentArchived event marks the ledger archived and keeps its statistics."""
        ledger = fold(
            [
                created("a"),
                decided("d1", "a", T0 + 1),
                ExperimentArchived(event_id="archive:exp-1:r", entity_id=EXP, at=T0 + 2),
            ]
        )
        assert (ledger.created, ledger.archived) == (True, True)
        assert ledger.arms["a"].decisions == 1

    def test_summary_reports_counts_and_means(self) -> None:
        """The replay summary shows per-arm decisions, outcomes, mean reward and the counters."""
        ledger = fold(
            [
                created("a"),
                decided("d1", "a", T0 + 1),
                observed("d1", T0 + 2, reward=1.0, cost_usd=0.1234567),
                observed("nope", T0 + 3),
            ]
        )
        summary = ledger.summary()
        assert summary["arms"] == {
            "a": {
                "decisions": 1,
                "outcomes": 1,
                "mean_reward": 1.0,
                "cost_usd": 0.123457,
                "errors": 0,
            }
        }
        assert (summary["events_applied"], summary["unmatched_outcomes"]) == (4, 1)


class TestJoin:
    def test_outcome_applied_twice_updates_once(self) -> None:
        """A redelivered outcome is counted as a duplicate and does not change the statistics."""
        outcome = observed("d1", T0 + 2, reward=1.0, cost_usd=0.5)
        once = fold([created("a"), decided("d1", "a", T0 + 1), outcome])
        twice = fold([created("a"), decided("d1", "a", T0 + 1), outcome, outcome])
        assert twice.arms == once.arms
        assert twice.arms["a"].outcomes == 1
        assert (once.duplicate_outcomes, twice.duplicate_outcomes) == (0, 1)
        assert twice.unmatched_outcomes == 0

    def test_outcome_for_unknown_decision_is_counted_not_applied(self) -> None:
        """An outcome for a decision the ledger never saw is counted and touches no arm."""
        ledger = fold([created("a"), observed("ghost", T0 + 1, reward=1.0)])
        assert ledger.unmatched_outcomes == 1
        assert ledger.arms["a"] == ArmStats()

    def test_duplicate_decision_counted_once(self) -> None:
        """A redelivered pending decision counts once and is recorded as a duplicate."""
        decision = decided("d1", "a", T0 + 1)
        ledger = fold([created("a"), decision, decision])
        assert ledger.arms["a"].decisions == 1
        assert ledger.duplicate_decisions == 1
        assert list(ledger.pending) == ["d1"]

    def test_duplicate_decision_with_other_arm_keeps_the_first(self) -> None:
        """A second decision with the same id but another arm does not move the decision."""
        ledger = fold([created("a", "b"), decided("d1", "a", T0 + 1), decided("d1", "b", T0 + 2)])
        assert ledger.pending["d1"].arm == "a"
        assert (ledger.arms["a"].decisions, ledger.arms["b"].decisions) == (1, 0)

    def test_duplicate_decision_after_its_outcome_counted_once(self) -> None:
        """A decision redelivered after its outcome neither counts again nor re-opens the join."""
        decision = decided("d1", "a", T0 + 1)
        outcome = observed("d1", T0 + 2, reward=1.0)
        ledger = fold([created("a"), decision, outcome, decision, outcome])
        assert ledger.arms["a"].decisions == 1
        assert ledger.arms["a"].outcomes == 1
        assert ledger.arms["a"].reward_sum == 1.0

    def test_decision_for_unknown_arm_is_counted_not_recorded(self) -> None:
        """A decision for an arm the experiment lacks is counted; its outcome is then unmatched."""
        ledger = fold(
            [created("a"), decided("d1", UNKNOWN_ARM, T0 + 1), observed("d1", T0 + 2, reward=1.0)]
        )
        assert ledger.unknown_arm_decisions == 1
        assert UNKNOWN_ARM not in ledger.arms
        assert ledger.pending == {}
        assert ledger.unmatched_outcomes == 1

    def test_decision_before_creation_is_an_unknown_arm(self) -> None:
        """A decision folded before the experiment exists has no arm to count against."""
        ledger = fold([decided("d1", "a", T0), created("a", at=T0 + 1)])
        assert ledger.unknown_arm_decisions == 1
        assert ledger.arms["a"].decisions == 0


class TestPendingExpiry:
    @pytest.mark.parametrize(
        ("later_at", "still_pending"),
        [
            (T0 + 99.0, True),
            (T0 + 100.0, True),
            (T0 + 100.5, False),
            (T0 + 10_000.0, False),
        ],
        ids=["inside-ttl", "exactly-ttl", "just-past-ttl", "long-past-ttl"],
    )
    def test_expiry_follows_event_time(self, later_at: float, still_pending: bool) -> None:
        """A decision expires once the newest event time is more than the TTL past it."""
        ledger = fold(
            [created("a"), decided("d1", "a", T0), observed("other", later_at)],
            pending_ttl_s=100.0,
        )
        assert ("d1" in ledger.pending) is still_pending
        assert ledger.expired_decisions == (0 if still_pending else 1)

    def test_many_events_inside_the_ttl_expire_nothing(self) -> None:
        """The number of events folded does not expire decisions, only event time does."""
        events: list[AnyEvent] = [created("a"), decided("d1", "a", T0)]
        events += [observed(f"x{i}", T0 + 50.0) for i in range(500)]
        ledger = fold(events, pending_ttl_s=100.0)
        assert list(ledger.pending) == ["d1"]
        assert ledger.expired_decisions == 0

    def test_late_event_does_not_move_the_clock_back(self) -> None:
        """An event with an older time leaves the watermark at the newest time seen."""
        ledger = fold([created("a"), decided("d1", "a", T0 + 500), observed("x", T0 + 1)])
        assert ledger.watermark == T0 + 500

    def test_outcome_after_expiry_is_unmatched(self) -> None:
        """An outcome arriving after its decision expired is counted as unmatched, not applied."""
        ledger = fold(
            [
                created("a"),
                decided("d1", "a", T0),
                decided("d2", "a", T0 + 200),
                observed("d1", T0 + 201, reward=1.0),
            ],
            pending_ttl_s=100.0,
        )
        assert ledger.expired_decisions == 1
        assert ledger.unmatched_outcomes == 1
        assert ledger.arms["a"].outcomes == 0
        assert list(ledger.pending) == ["d2"]

    def test_capacity_evicts_oldest_first(self) -> None:
        """When the pending table is full the oldest decision is evicted and counted as expired."""
        ledger = fold(
            [created("a")] + [decided(f"d{i}", "a", T0 + i) for i in range(1, 6)],
            pending_capacity=3,
        )
        assert list(ledger.pending) == ["d3", "d4", "d5"]
        assert ledger.expired_decisions == 2
        assert ledger.arms["a"].decisions == 5

    def test_capacity_evicts_by_arrival_not_by_event_time(self) -> None:
        """Eviction removes the decision that arrived first, even if a later one is older."""
        ledger = fold(
            [
                created("a"),
                decided("new", "a", T0 + 10),
                decided("late", "a", T0),
                decided("x", "a", T0 + 11),
            ],
            pending_capacity=2,
        )
        assert list(ledger.pending) == ["late", "x"]


class TestCheckpointTaken:
    @pytest.mark.parametrize("at", [T0 + 5.0, T0, 0.0], ids=["at-watermark", "older", "zero"])
    def test_checkpoint_record_changes_nothing(self, at: float) -> None:
        """A CheckpointTaken stamped no later than the state (as the host stamps it) is a no-op."""
        ledger = fold([created("a"), decided("d1", "a", T0 + 5.0)], pending_ttl_s=100.0)
        before_bytes, before_applied = ledger.to_bytes(), ledger.events_applied
        ledger.apply(checkpoint(at))
        assert ledger.events_applied == before_applied
        assert ledger.to_bytes() == before_bytes

    def test_checkpoint_record_with_later_time_changes_nothing(self) -> None:
        """Even a CheckpointTaken with a later time neither moves the clock nor expires anything."""
        ledger = fold([created("a"), decided("d1", "a", T0)], pending_ttl_s=100.0)
        before = ledger.digest()
        ledger.apply(checkpoint(T0 + 1000.0))
        assert ledger.digest() == before


class TestSerialisation:
    def test_digest_is_sha256_of_state_bytes(self) -> None:
        """The digest a checkpoint carries is the SHA-256 hex of the state bytes."""
        ledger = fold([created("a"), decided("d1", "a", T0)])
        assert ledger.digest() == hashlib.sha256(ledger.to_bytes()).hexdigest()

    def test_round_trip_keeps_state_and_digest(self) -> None:
        """A ledger restored from its bytes equals the original and has the same digest."""
        ledger = fold(
            [
                created("a", "b"),
                decided("d1", "a", T0 + 1),
                decided("d2", "b", T0 + 2),
                observed("d1", T0 + 3, reward=0.25, cost_usd=0.1),
                observed("zzz", T0 + 4),
            ],
            pending_capacity=10,
            pending_ttl_s=60.0,
        )
        restored = ExperimentLedger.from_bytes(ledger.to_bytes())
        assert restored == ledger
        assert restored.digest() == ledger.digest()
        assert list(restored.pending) == list(ledger.pending)

    def test_integer_event_times_round_trip_to_the_same_digest(self) -> None:
        """Integer event times are stored as floats, so a restored ledger has the same digest."""
        events: list[AnyEvent] = [
            created("a", at=1_000),
            decided("d1", "a", 1_001),
            decided("d2", "a", 1_002),
            observed("d1", 1_003, reward=1, cost_usd=2, latency_ms=3),
        ]
        ledger = fold(events)
        assert isinstance(ledger.watermark, float)
        assert ledger.pending["d2"] == PendingDecision("a", 1_002.0)
        assert isinstance(ledger.pending["d2"].at, float)
        assert ExperimentLedger.from_bytes(ledger.to_bytes()).digest() == ledger.digest()
        as_floats = [msgspec.structs.replace(e, at=float(e.at)) for e in events]
        assert fold(as_floats).digest() == ledger.digest()

    def test_integer_ttl_round_trips_to_the_same_digest(self) -> None:
        """A ledger configured with a whole-number TTL keeps its digest across a checkpoint."""
        ledger = fold([created("a")], pending_ttl_s=3600)
        assert ExperimentLedger.from_bytes(ledger.to_bytes()).digest() == ledger.digest()

    def test_different_states_have_different_digests(self) -> None:
        """A single extra matched outcome changes the digest (digests tell states apart)."""
        base: list[AnyEvent] = [created("a"), decided("d1", "a", T0 + 1)]
        assert fold(base).digest() != fold([*base, observed("d1", T0 + 2)]).digest()


class TestProperties:
    @DETERMINISTIC
    @given(limits=ledger_limits, data=st.data())
    def test_checkpoint_then_replay_equals_full_fold(
        self, limits: dict[str, Any], data: st.DataObject
    ) -> None:
        """Restoring the state after any k events and folding the rest equals folding them all."""
        events = data.draw(experiment_histories(entity_id=EXP, checkpoints=True))
        k = data.draw(st.integers(min_value=0, max_value=len(events)), label="k")
        head = fold(events[:k], **limits)
        resumed = ExperimentLedger.from_bytes(head.to_bytes())
        for event in events[k:]:
            resumed.apply(event)
        full = fold(events, **limits)
        assert resumed.to_bytes() == full.to_bytes()
        assert resumed.digest() == full.digest()

    @DETERMINISTIC
    @given(limits=ledger_limits, events=experiment_histories(entity_id=EXP, checkpoints=True))
    def test_fold_is_deterministic(self, limits: dict[str, Any], events: list[AnyEvent]) -> None:
        """Folding the same events twice from scratch gives byte-identical states."""
        assert fold(events, **limits).to_bytes() == fold(events, **limits).to_bytes()

    @DETERMINISTIC
    @given(limits=ledger_limits, events=experiment_histories(entity_id=EXP, checkpoints=True))
    def test_every_event_is_accounted_for(
        self, limits: dict[str, Any], events: list[AnyEvent]
    ) -> None:
        """Each decision and outcome lands in exactly one counter; no decision is lost."""
        ledger = fold(events, **limits)
        arms = ledger.arms.values()
        decisions = sum(isinstance(e, DecisionMade) for e in events)
        outcomes = sum(isinstance(e, OutcomeObserved) for e in events)
        counted = sum(s.decisions for s in arms)
        matched = sum(s.outcomes for s in arms)
        assert counted + ledger.duplicate_decisions + ledger.unknown_arm_decisions == decisions
        assert matched + ledger.unmatched_outcomes + ledger.duplicate_outcomes == outcomes
        assert counted == matched + len(ledger.pending) + ledger.expired_decisions
        assert ledger.events_applied == sum(not isinstance(e, CheckpointTaken) for e in events)
        assert len(ledger.pending) <= ledger.pending_capacity

    @DETERMINISTIC
    @given(limits=ledger_limits, events=experiment_histories(entity_id=EXP, checkpoints=True))
    def test_checkpoint_records_are_invisible(
        self, limits: dict[str, Any], events: list[AnyEvent]
    ) -> None:
        """Folding with the host's CheckpointTaken records gives the state folded without them."""
        without = [e for e in events if not isinstance(e, CheckpointTaken)]
        assert fold(events, **limits).digest() == fold(without, **limits).digest()

    @DETERMINISTIC
    @given(limits=ledger_limits, events=experiment_histories(entity_id=EXP))
    def test_pending_decisions_are_within_the_ttl_at_the_head(
        self, limits: dict[str, Any], events: list[AnyEvent]
    ) -> None:
        """After every event the oldest pending decision is no older than watermark - TTL."""
        ledger = ExperimentLedger(entity_id=EXP, **limits)
        for event in events:
            ledger.apply(event)
            if ledger.pending:
                oldest = next(iter(ledger.pending.values()))
                assert oldest.at >= ledger.watermark - ledger.pending_ttl_s


class TestArmChanges:
    def test_added_and_retired_arms_survive_a_checkpoint(self) -> None:
        """Arms added and retired mid-experiment are in the policy after a bytes round trip, and folding on gives the same digest."""
        from events.schema import ArmAdded, ArmRetired

        events = [
            created("a", "b"),
            decided("d1", "a", T0 + 1),
            ArmAdded(
                event_id="add",
                entity_id=EXP,
                at=T0 + 2,
                arm="c",
                spec={
                    "model": "m",
                    "price_in_per_1k": 0.0,
                    "price_out_per_1k": 0.0,
                    "context_window": 10,
                },
            ),
            ArmRetired(event_id="ret", entity_id=EXP, at=T0 + 3, arm="a"),
            observed("d1", T0 + 4, reward=1.0),
            decided("d2", "c", T0 + 5),
        ]
        ledger = fold(events[:4])
        restored = ExperimentLedger.from_bytes(ledger.to_bytes())
        assert restored.policy is not None
        assert restored.policy.arms == ["b", "c"]
        assert restored.retired_arms == ["a"]
        assert restored.settings is not None and "c" in restored.settings.catalogue
        for event in events[4:]:
            ledger.apply(event)
            restored.apply(event)
        assert restored.digest() == ledger.digest() == fold(events).digest()
        assert ledger.arms["a"].outcomes == 1  # the retired arm's pending outcome still counts


class TestFifoTables:
    def test_evicting_past_the_rebuild_keeps_order_and_bytes(self) -> None:
        """Thousands of evictions (past a rebuild of the dict) leave the newest entries in log
        order, encoded exactly as a table that only ever held them."""
        from actors.aggregate import COMPACT_AFTER

        evicted = ExperimentLedger.initial("fifo")
        evicted.resolved = {f"d{i}": float(i) for i in range(COMPACT_AFTER + 100)}
        for _ in range(COMPACT_AFTER + 50):
            evicted.pop_oldest("resolved")
        fresh = ExperimentLedger.initial("fifo")
        fresh.resolved = {f"d{i}": float(i) for i in range(COMPACT_AFTER + 50, COMPACT_AFTER + 100)}
        assert list(evicted.resolved) == list(fresh.resolved)
        assert evicted.to_bytes() == fresh.to_bytes()
