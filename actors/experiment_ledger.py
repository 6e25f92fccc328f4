"""Per-experiment ledger: the bandit policy, decisions awaiting outcomes, per-arm statistics.

Outcomes are joined to decisions by decision id inside the fold, so a replay reproduces the
join exactly, and only the joined outcome updates the policy, with the reward computed from the
outcome by the experiment's reward spec and the context vector the decision was made with.
The table of pending decisions is bounded in size and in event time; what falls out of it is
counted. The policy object is rebuilt from ``policy_state`` and is not itself encoded: the
bytes of the state are the struct's, with the policy's own deterministic bytes inside.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import numpy as np

from actors.aggregate import Aggregate
from actors.catalogue import cost_of
from actors.context_features import ContextEncoder, ContextError
from actors.drift.monitor import DriftMonitor
from actors.drift_response import (
    alarms_of,
    apply_action,
    exploration_decisions,
    rollback_events,
)
from actors.experiment_analysis import Analysis, proposal_events
from actors.experiment_config import ExperimentConfig, build_policy, build_shadow_policy
from actors.experiment_lifecycle import LIFECYCLE_EVENTS, LifecycleState
from actors.experiments.lifecycle import Status
from actors.experiments.shadow import ShadowTally, shadow_decision
from actors.policies import Policy, policy_from_bytes
from actors.reward import composite_reward
from actors.statistics import SampleSummary
from events.codec import decode, encode
from events.schema import (
    ArmAdded,
    ArmRetired,
    CheckpointTaken,
    DecisionMade,
    DecisionsMade,
    DriftDetected,
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
    x: bytes | None = None
    """The context vector the decision was made with (float64, little-endian), if contextual."""
    serving: bool = True
    """Made while the experiment ran; a decision served while it was paused, a draft or
    complete (the champion or fallback) joins its outcome but teaches the policy nothing."""
    propensity: float = 1.0
    """The served choice's propensity, kept (with ``shadow_arm``) to score the challenger."""
    shadow_arm: str | None = None
    """What the shadow challenger chose, if the experiment runs one."""


_DRIFT_APPLIED_KEPT = 1024


class ExperimentLedger(Aggregate, kw_only=True, dict=True):
    KIND: ClassVar[str] = "experiment"
    STATE_VERSION: ClassVar[int] = 3

    created: bool = False
    archived: bool = False
    seed: int = 0
    fallback_arm: str | None = None
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    """The experiment's configuration as created (see ``actors.experiment_config``)."""
    policy_state: bytes = b""
    """The policy's bytes as of the last encoding; the live policy is ``self.policy``."""
    arms: dict[str, ArmStats] = msgspec.field(default_factory=dict)
    """Statistics of every arm the experiment ever had, retired ones included."""
    retired_arms: list[str] = msgspec.field(default_factory=list)
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
    unscored_outcomes: int = 0
    clipped_rewards: int = 0
    expired_decisions: int = 0
    missing_features: int = 0
    context_errors: int = 0
    shadow_state: bytes = b""
    """The shadow challenger's bytes as of the last encoding; the live one is
    ``self.shadow_policy``."""
    shadow: ShadowTally = msgspec.field(default_factory=ShadowTally)
    drift_state: bytes = b""
    """The drift monitor's bytes as of the last encoding; the live one is ``self.drift``."""
    drift_outbox: dict[str, bytes] = msgspec.field(default_factory=dict)
    """Alarms derived by the fold and not yet seen in the log (event id -> encoded event): the
    actor appends them; folding one removes it."""
    drift_applied: dict[str, float] = msgspec.field(default_factory=dict)
    """Drift events already applied (id -> event time), bounded: a copy logged again after the
    log's duplicate window does not act twice."""
    exploration_left: int = 0
    """Decisions still to be made with raised exploration (a ``raise_exploration`` alarm)."""
    drift_alarms: int = 0
    drift_actions_applied: int = 0
    drift_errors: int = 0
    """Outcomes whose watched metric was not a finite number (the detector skipped them)."""
    lifecycle: LifecycleState = msgspec.field(default_factory=LifecycleState)
    """Draft / running / paused / complete / archived, the champion, breaches and canary."""
    analysis: Analysis = msgspec.field(default_factory=Analysis)
    """Guardrails, canary, champion/challenger and SRM of a split or canary experiment."""
    inactive_outcomes: int = 0
    """Joined outcomes of decisions served while the experiment was not running: counted in
    their arm's ``outcomes`` but not learned from or added to the arm's sums."""

    def __post_init__(self) -> None:
        # Built in Python with ints, a float field would round-trip to another digest.
        self.pending_ttl_s = float(self.pending_ttl_s)
        self.watermark = float(self.watermark)
        self.policy: Policy | None = None
        self.settings: ExperimentConfig | None = None
        self.encoder: ContextEncoder | None = None
        self.drift: DriftMonitor | None = None
        self.shadow_policy: Policy | None = None
        if self.created:
            self._configure(policy_from_bytes(self.policy_state) if self.policy_state else None)
            if self.drift_state:
                self.drift = DriftMonitor.from_bytes(self.drift_state)
            if self.shadow_state:
                self.shadow_policy = policy_from_bytes(self.shadow_state)

    def _configure(self, policy: Policy | None) -> None:
        """Build the parsed config, the context encoder and the policy (non-encoded caches)."""
        self.settings = msgspec.convert(self.config, ExperimentConfig)
        features = self.settings.features
        self.encoder = ContextEncoder(features) if features is not None else None
        self.policy = policy if policy is not None else build_policy(self.settings, list(self.arms))
        if self.shadow_policy is None and self.settings.shadow is not None:
            self.shadow_policy = build_shadow_policy(self.settings, list(self.arms))
        if self.settings.drift is not None and self.drift is None:
            self.drift = DriftMonitor.from_config(self.settings.drift)

    def to_bytes(self) -> bytes:
        if self.policy is not None:
            self.policy_state = self.policy.to_bytes()
        if self.drift is not None:
            self.drift_state = self.drift.to_bytes()
        if self.shadow_policy is not None:
            self.shadow_state = self.shadow_policy.to_bytes()
        return super().to_bytes()

    def outbox(self) -> list[Event]:
        """Events this state derived that the log does not hold yet (the actor appends them):
        drift alarms, and what the experiment's analysis decided (guardrail breaches, pauses,
        rollbacks, canary stages, promotions, completions), stamped with the state's event
        time."""
        derived = [decode(raw) for raw in self.drift_outbox.values()]
        return derived + proposal_events(self.entity_id, self.analysis.proposals, self.watermark)

    def context_vector(self, context: dict[str, Any]) -> tuple[np.ndarray | None, list[str]]:
        """The policy's input for a request's context (None for a non-contextual policy)."""
        if self.encoder is None or self.policy is None or not self.policy.contextual:
            return None, []
        return self.encoder.encode(context)

    def apply(self, event: Event) -> None:
        if isinstance(event, CheckpointTaken):
            return  # the host's bookkeeping, not a change of this state
        if isinstance(event, DecisionsMade):
            for decision in event.decisions:
                self.apply(decision)  # as if logged one by one, so both logs fold alike
            return
        if self.drift_outbox:
            self.drift_outbox.pop(event.event_id, None)  # derived here, now in the log
        self.events_applied += 1
        if event.at > self.watermark:
            self.watermark = float(event.at)
        if isinstance(event, DecisionMade):
            self._decide(event)
        elif isinstance(event, OutcomeObserved):
            self._observe(event)
        elif isinstance(event, ExperimentCreated):
            if self.created:
                return
            self.created = True
            self.seed = event.seed
            self.fallback_arm = event.fallback_arm
            self.config = dict(event.config)
            settings = msgspec.convert(self.config, ExperimentConfig)
            if "pending_capacity" in self.config:
                self.pending_capacity = settings.pending_capacity
            if "pending_ttl_s" in self.config:
                self.pending_ttl_s = float(settings.pending_ttl_s)
            for arm in event.arms:
                self.arms.setdefault(arm, ArmStats())
            self.lifecycle.create(event)
            self._configure(None)
        elif isinstance(event, ArmAdded):
            self._add_arm(event)
        elif isinstance(event, ArmRetired):
            self._retire_arm(event)
        elif isinstance(event, ExperimentArchived):
            self.archived = True
            self.lifecycle.apply(event, self.arms)
        elif isinstance(event, LIFECYCLE_EVENTS) and self.created:
            self.lifecycle.apply(event, self.arms)
            self.analysis.applied(event, self._rewarded(self._plan_challenger()))
        elif isinstance(event, DriftDetected):
            self._drift_detected(event)
        self._expire()

    def _add_arm(self, event: ArmAdded) -> None:
        if not self.created or event.arm in self.arms or self.policy is None:
            return  # validated by the admin gateway; a duplicate changes nothing
        self.arms[event.arm] = ArmStats()
        if event.spec is not None:
            catalogue = dict(self.config.get("catalogue", {}))
            catalogue[event.arm] = event.spec
            self.config = {**self.config, "catalogue": catalogue}
        self._configure(self.policy)
        self.policy.add_arm(event.arm)
        if self.shadow_policy is not None:
            self.shadow_policy.add_arm(event.arm)

    def _retire_arm(self, event: ArmRetired) -> None:
        if self.policy is None or event.arm not in self.policy.arms or len(self.policy.arms) == 1:
            return
        self.policy.retire_arm(event.arm)
        if self.shadow_policy is not None and event.arm in self.shadow_policy.arms:
            self.shadow_policy.retire_arm(event.arm)
        self.retired_arms.append(event.arm)

    def _decide(self, event: DecisionMade) -> None:
        stats = self.arms.get(event.arm)
        if stats is None:
            self.unknown_arm_decisions += 1
            return
        if event.decision_id in self.pending or event.decision_id in self.resolved:
            self.duplicate_decisions += 1
            return
        stats.decisions += 1
        if self.exploration_left:
            self.exploration_left -= 1
            if not self.exploration_left and self.policy is not None:
                self.policy.set_exploration(1.0)  # the raised exploration has run its course
        x_bytes: bytes | None = None
        if self.policy is not None and self.policy.contextual:
            x_bytes = self._decided_vector(event)
        serving = self.lifecycle.status is Status.RUNNING
        if serving and self.settings is not None and self.settings.experiment.analysed:
            counts = self.analysis.decisions
            counts[event.arm] = counts.get(event.arm, 0) + 1
        pending = PendingDecision(event.arm, float(event.at), x_bytes, serving)
        if event.shadow_arm is not None:
            pending.propensity, pending.shadow_arm = float(event.propensity), event.shadow_arm
            self.shadow.record(shadow_decision(event.arm, event.shadow_arm))
        self.pending[event.decision_id] = pending
        if len(self.pending) > self.pending_capacity:
            self.pop_oldest("pending")
            self.expired_decisions += 1

    def _decided_vector(self, event: DecisionMade) -> bytes | None:
        """The context vector a decision was made with: as logged, or encoded from its context
        for a decision logged without one."""
        encoder = self.encoder
        if event.x is not None and encoder is not None and len(event.x) == 8 * encoder.dim:
            self.missing_features += len(event.missing_features)
            return event.x
        try:
            x, missing = self.context_vector(event.context)
        except ContextError:
            # Only a decision the actor did not validate (the gateway's fallback stand-in logs
            # the raw request) can get here; it joins, but teaches the policy nothing.
            self.context_errors += 1
            return None
        self.missing_features += len(missing)
        return None if x is None else x.astype("<f8").tobytes()

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
            self.pop_oldest("resolved")
        stats = self.arms[decision.arm]
        stats.outcomes += 1
        if not decision.serving:
            self.inactive_outcomes += 1
            return
        cost = (
            event.cost_usd if event.cost_usd is not None else self._token_cost(decision.arm, event)
        )
        reward = self._reward(event, cost)
        self._watch_drift(decision.arm, event, reward)
        if reward is None:
            self.unscored_outcomes += 1
        else:
            stats.rewarded += 1
            stats.reward_sum += reward
            stats.reward_sumsq += reward * reward
            for policy in (self.policy, self.shadow_policy):
                if policy is not None and decision.arm in policy.arms:
                    if decision.x is not None:
                        x = np.frombuffer(decision.x, dtype="<f8")
                        policy.update(decision.arm, reward, x, float(event.at))
                    elif not policy.contextual:
                        policy.update(decision.arm, reward, None, float(event.at))
            if decision.shadow_arm is not None:
                shadowed = shadow_decision(decision.arm, decision.shadow_arm)
                self.shadow.score(shadowed, reward, decision.propensity)
        if cost is not None:
            stats.cost_usd += cost
        if event.latency_ms is not None:
            stats.latency_ms_sum += event.latency_ms
        if event.error:
            stats.errors += 1
        if self.settings is not None and self.settings.experiment.analysed:
            self._analyse(decision.arm, event, cost)

    def _analyse(self, arm: str, event: OutcomeObserved, cost: float | None) -> None:
        """Add the outcome's guardrail metrics; every ``look_every`` of them, take a look."""
        assert self.settings is not None
        plan = self.settings.experiment
        self.analysis.observe(
            arm, quality=event.quality, cost_usd=cost, latency_ms=event.latency_ms
        )
        if self.analysis.since_look < plan.look_every:
            return
        started = self.lifecycle.started_at
        self.analysis.look(
            self.entity_id,
            plan,
            arms=[a for a in self.arms if a not in self.retired_arms],
            rewards={
                a: SampleSummary.from_sums(s.rewarded, s.reward_sum, s.reward_sumsq)
                for a, s in self.arms.items()
            },
            decisions=self.analysis.decisions,
            status=self.lifecycle.status,
            elapsed_s=0.0 if started is None else self.watermark - started,
        )

    def _plan_challenger(self) -> str | None:
        return self.settings.experiment.challenger if self.settings is not None else None

    def _rewarded(self, arm: str | None) -> int:
        stats = self.arms.get(arm) if arm is not None else None
        return stats.rewarded if stats is not None else 0

    def _watch_drift(self, arm: str, event: OutcomeObserved, reward: float | None) -> None:
        if self.drift is None:
            return
        try:
            alarms = alarms_of(self.drift, arm, event, reward)
        except ValueError:
            self.drift_errors += 1
            return
        for alarm in alarms:
            self.drift_alarms += 1
            if alarm.event_id not in self.drift_applied:
                self.drift_outbox[alarm.event_id] = encode(alarm)

    def _drift_detected(self, event: DriftDetected) -> None:
        if event.event_id in self.drift_applied or self.policy is None:
            return
        self.drift_applied[event.event_id] = float(event.at)
        while len(self.drift_applied) > _DRIFT_APPLIED_KEPT:
            del self.drift_applied[next(iter(self.drift_applied))]
        if apply_action(self.policy, self.drift, event):
            self.drift_actions_applied += 1
            self.exploration_left = max(self.exploration_left, exploration_decisions(event))
        reactions = rollback_events(
            event,
            running=self.lifecycle.status is Status.RUNNING,
            champion=self.lifecycle.champion,
            arms=list(self.policy.arms),
        )
        for reaction in reactions:
            self.drift_outbox[reaction.event_id] = encode(reaction)
        if reactions:
            self.drift_actions_applied += 1

    def _token_cost(self, arm: str, event: OutcomeObserved) -> float | None:
        spec = self.settings.catalogue.get(arm) if self.settings is not None else None
        if spec is None or (event.input_tokens is None and event.output_tokens is None):
            return None
        return cost_of(spec, event.input_tokens or 0, event.output_tokens or 0)

    def _reward(self, event: OutcomeObserved, cost: float | None) -> float | None:
        """The application's own reward if it sent one, else the composite of the outcome;
        clipped into what the policy accepts (and counted when clipped)."""
        if event.reward is not None:
            reward: float | None = float(event.reward)
        elif self.settings is not None:
            reward = composite_reward(event, self.settings.reward, cost_usd=cost)
        else:
            reward = None
        if reward is None or self.policy is None:
            return reward
        low, high = self.policy.reward_bounds
        if not low <= reward <= high:
            self.clipped_rewards += 1
            reward = min(max(reward, low), high)
        return reward

    def _expire(self) -> None:
        horizon = self.watermark - self.pending_ttl_s
        while self.pending and self.pending[next(iter(self.pending))].at < horizon:
            self.pop_oldest("pending")
            self.expired_decisions += 1
        while self.resolved and self.resolved[next(iter(self.resolved))] < horizon:
            self.pop_oldest("resolved")

    def summary(self) -> dict[str, object]:
        """What ``llmopt replay`` prints: counts and per-arm means, no raw tables."""
        return {
            "experiment": self.entity_id,
            "created": self.created,
            "archived": self.archived,
            "status": self.lifecycle.status.value,
            "champion": self.lifecycle.champion,
            "status_reason": self.lifecycle.reason,
            "canary": self.analysis.canary.status
            if self.settings is not None and self.settings.experiment.mode == "canary"
            else None,
            "guardrail_breaches": dict(self.lifecycle.breaches),
            "srm": self.lifecycle.srm or None,
            "looks": self.analysis.looks,
            "events_applied": self.events_applied,
            "pending_decisions": len(self.pending),
            "expired_decisions": self.expired_decisions,
            "unmatched_outcomes": self.unmatched_outcomes,
            "unscored_outcomes": self.unscored_outcomes,
            "clipped_rewards": self.clipped_rewards,
            "policy": self.settings.policy if self.settings is not None else None,
            "duplicate_outcomes": self.duplicate_outcomes,
            "duplicate_decisions": self.duplicate_decisions,
            "shadow": None
            if self.settings is None or self.settings.shadow is None
            else {
                "policy": self.settings.shadow.policy,
                "agreement_rate": self.shadow.agreement_rate,
                "served_mean_reward": self.shadow.served_mean,
                "shadow_ips_mean_reward": self.shadow.shadow_ips_mean,
                "scored": self.shadow.scored,
            },
            "drift_alarms": self.drift_alarms,
            "drift_actions_applied": self.drift_actions_applied,
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
