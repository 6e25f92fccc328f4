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
from events.schema import DriftDetected, OutcomeObserved


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
    # Raising exploration needs per-policy knobs, and a rollback belongs to the experiment's
    # lifecycle: recorded (event, counter, log), not applied by the bandit.
    assert isinstance(action, AlertOnly | RaiseExploration | RollbackExperiment)
    return False
