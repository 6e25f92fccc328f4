"""How an experiment's fold watches its arms for drift and reacts, deterministically.

Two steps, both inside the fold. Joining an outcome feeds the arm's metrics (the outcome's
measured fields and the reward the policy learnt from) to the experiment's
:class:`~actors.drift.monitor.DriftMonitor`; an alarm becomes a ``DriftDetected`` event in the
ledger's outbox, which the actor appends (its id derives from the cause, so a replay or a
retried append adds nothing). Folding that event applies its action to the policy. So the
reaction sits at one point of the log, and a replay, which folds the same event, reacts at the
same point: the alarm itself is re-derived on replay but only the logged event acts.
"""

from __future__ import annotations

from actors.drift.actions import (
    AlertOnly,
    DownWeightArm,
    RaiseExploration,
    ResetArm,
    RollbackExperiment,
    action_from_dict,
)
from actors.drift.monitor import DriftMonitor, drift_event, metrics_of
from actors.policies import Policy
from events.schema import (
    ChallengerPromoted,
    DriftDetected,
    Event,
    ExperimentPaused,
    OutcomeObserved,
)


def alarms_of(
    monitor: DriftMonitor, arm: str, outcome: OutcomeObserved, reward: float | None
) -> list[DriftDetected]:
    """The drift events one joined outcome completes for ``arm``; ``reward`` is the reward
    the policy learnt from (the composite of the outcome, or the application's own)."""
    metrics = metrics_of(outcome)
    metrics["reward"] = reward
    return [
        drift_event(signal, outcome.entity_id, outcome.at, outcome.event_id)
        for signal in monitor.observe(arm, metrics)
    ]


def rollback_events(
    event: DriftDetected, *, running: bool, champion: str | None, arms: list[str]
) -> list[Event]:
    """What a ``rollback_experiment`` alarm makes the experiment do, as lifecycle events: make
    ``to_arm`` the champion (when given, known and not already it), then pause, so decide
    serves the champion (or control, or fallback) until an operator resumes. Nothing if the
    experiment is not running (already paused, or stopped). Ids derive from the alarm's, so
    appending them twice adds nothing."""
    if not running:
        return []
    try:
        action = action_from_dict(event.action)
    except ValueError:
        return []
    if not isinstance(action, RollbackExperiment):
        return []
    reason = f"drift: {event.detector} on {event.metric} of {event.arm} ({event.direction})"
    events: list[Event] = []
    if action.to_arm is not None and action.to_arm in arms and action.to_arm != champion:
        events.append(
            ChallengerPromoted(
                event_id=f"{event.event_id}:promote",
                entity_id=event.entity_id,
                at=event.at,
                arm=action.to_arm,
                previous=champion,
                reason=reason,
            )
        )
    events.append(
        ExperimentPaused(
            event_id=f"{event.event_id}:pause",
            entity_id=event.entity_id,
            at=event.at,
            reason=reason,
        )
    )
    return events


def apply_action(policy: Policy, monitor: DriftMonitor | None, event: DriftDetected) -> bool:
    """Apply a logged alarm's action to the policy; False if it has nothing to do here (alert
    only, an arm the policy no longer has, or an action this ledger does not own)."""
    try:
        action = action_from_dict(event.action)
    except ValueError:
        return False
    arm = event.arm
    if arm is None or arm not in policy.arms:
        return False
    if isinstance(action, ResetArm):
        policy.reset_arm(arm)
        if monitor is not None:
            monitor.forget_arm(arm)  # the arm starts over: so do its reference statistics
        return True
    if isinstance(action, DownWeightArm):
        policy.down_weight_arm(arm, action.factor)
        return True
    if isinstance(action, RaiseExploration):
        policy.set_exploration(max(policy.exploration, action.factor))
        return True
    # A rollback acts on the experiment's lifecycle (``rollback_events``), not on the policy.
    assert isinstance(action, AlertOnly | RollbackExperiment)
    return False


def exploration_decisions(event: DriftDetected) -> int:
    """For how many decisions a ``raise_exploration`` alarm raises exploration (0: another
    action)."""
    try:
        action = action_from_dict(event.action)
    except ValueError:
        return 0
    return action.decisions if isinstance(action, RaiseExploration) else 0
