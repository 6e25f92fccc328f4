"""Per-experiment ledger: decisions, their pending outcomes and per-arm reward statistics.

This is the state the decision service's policies read. Outcomes are joined to decisions by
decision id inside the fold, so a replay reproduces the join exactly; the table of pending
decisions is bounded in size and in event time, and what falls out of it is counted.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from actors.aggregate import Aggregate
from events.schema import (
    CheckpointTaken,
    DecisionMade,
    Event,
    ExperimentArchived,
    ExperimentCreated,
    OutcomeObserved,
)


class ArmStats(msgspec.Struct, kw_only=True):
    """Running sums per arm; means and variances are derived, never stored."""

    decisions: int = 0
    outcomes: int = 0
    rewarded: int = 0
    reward_sum: float = 0.0
    reward_sumsq: float = 0.0
    cost_usd: float = 0.0
    latency_ms_sum: float = 0.0
    errors: int = 0

    @property
    def mean_reward(self) -> float | None:
        return self.reward_sum / self.rewarded if self.rewarded else None


class PendingDecision(msgspec.Struct, array_like=True):
    arm: str
    at: float


class ExperimentLedger(Aggregate, kw_only=True):
    KIND: ClassVar[str] = "experiment"
    STATE_VERSION: ClassVar[int] = 1

    created: bool = False
    archived: bool = False
    seed: int = 0
    fallback_arm: str | None = None
    arms: dict[str, ArmStats] = msgspec.field(default_factory=dict)
    pending: dict[str, PendingDecision] = msgspec.field(default_factory=dict)
    """Decisions awaiting an outcome, in log order; expiry walks it from the front, so a
    decision that arrived late behind newer ones can outlive the TTL until they expire."""
    resolved: dict[str, float] = msgspec.field(default_factory=dict)
    """Decisions whose outcome was joined (id -> event time), bounded like ``pending``, so a
    duplicate decision or outcome redelivered after the join is recognised, not counted."""
    pending_capacity: int = 100_000
    pending_ttl_s: float = 7 * 86400.0
    watermark: float = 0.0
    """Largest event time seen: the clock that expires pending decisions."""
    events_applied: int = 0
    duplicate_decisions: int = 0
    unknown_arm_decisions: int = 0
    duplicate_outcomes: int = 0
    unmatched_outcomes: int = 0
    expired_decisions: int = 0

    def __post_init__(self) -> None:
        # Built in Python with ints, a float field would round-trip to another digest.
        self.pending_ttl_s = float(self.pending_ttl_s)
        self.watermark = float(self.watermark)

    def apply(self, event: Event) -> None:
        if isinstance(event, CheckpointTaken):
            return  # the host's bookkeeping, not a change of this state
        self.events_applied += 1
        if event.at > self.watermark:
            self.watermark = float(event.at)
        if isinstance(event, DecisionMade):
            self._decide(event)
        elif isinstance(event, OutcomeObserved):
            self._observe(event)
        elif isinstance(event, ExperimentCreated):
            self.created = True
            self.seed = event.seed
            self.fallback_arm = event.fallback_arm
            for arm in event.arms:
                self.arms.setdefault(arm, ArmStats())
        elif isinstance(event, ExperimentArchived):
            self.archived = True
        self._expire()

    def _decide(self, event: DecisionMade) -> None:
        stats = self.arms.get(event.arm)
        if stats is None:
            self.unknown_arm_decisions += 1
            return
        if event.decision_id in self.pending or event.decision_id in self.resolved:
            self.duplicate_decisions += 1
            return
        stats.decisions += 1
        self.pending[event.decision_id] = PendingDecision(event.arm, float(event.at))
        if len(self.pending) > self.pending_capacity:
            del self.pending[next(iter(self.pending))]
            self.expired_decisions += 1

    def _observe(self, event: OutcomeObserved) -> None:
        decision = self.pending.pop(event.decision_id, None)
        if decision is None:
            if event.decision_id in self.resolved:
                self.duplicate_outcomes += 1
            else:
                self.unmatched_outcomes += 1
            return
        self.resolved[event.decision_id] = decision.at
        if len(self.resolved) > self.pending_capacity:
            del self.resolved[next(iter(self.resolved))]
        stats = self.arms[decision.arm]
        stats.outcomes += 1
        if event.reward is not None:
            stats.rewarded += 1
            stats.reward_sum += event.reward
            stats.reward_sumsq += event.reward * event.reward
        if event.cost_usd is not None:
            stats.cost_usd += event.cost_usd
        if event.latency_ms is not None:
            stats.latency_ms_sum += event.latency_ms
        if event.error:
            stats.errors += 1

    def _expire(self) -> None:
        horizon = self.watermark - self.pending_ttl_s
        while self.pending:
            oldest_id = next(iter(self.pending))
            if self.pending[oldest_id].at >= horizon:
                break
            del self.pending[oldest_id]
            self.expired_decisions += 1
        while self.resolved:
            oldest_id = next(iter(self.resolved))
            if self.resolved[oldest_id] >= horizon:
                break
            del self.resolved[oldest_id]

    def summary(self) -> dict[str, object]:
        """What ``llmopt replay`` prints: counts and per-arm means, no raw tables."""
        return {
            "experiment": self.entity_id,
            "created": self.created,
            "archived": self.archived,
            "events_applied": self.events_applied,
            "pending_decisions": len(self.pending),
            "expired_decisions": self.expired_decisions,
            "unmatched_outcomes": self.unmatched_outcomes,
            "duplicate_outcomes": self.duplicate_outcomes,
            "duplicate_decisions": self.duplicate_decisions,
            "arms": {
                arm: {
                    "decisions": s.decisions,
                    "outcomes": s.outcomes,
                    "mean_reward": s.mean_reward,
                    "cost_usd": round(s.cost_usd, 6),
                    "errors": s.errors,
                }
                for arm, s in self.arms.items()
            },
        }
