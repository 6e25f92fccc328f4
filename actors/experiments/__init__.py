"""Experiment logic, pure: lifecycle, sticky assignment, canary, shadow, champion/challenger,
stopping rules and guardrails. No I/O, no clock, no global randomness: the experiment actor
folds events and asks these functions what follows, and turns the answer into events.

One concept per module:

* :mod:`~actors.experiments.lifecycle`: Draft -> Running <-> Paused -> Complete -> Archived;
* :mod:`~actors.experiments.assignment`: hash-based sticky splits (equal, weighted, 3+ ways);
* :mod:`~actors.experiments.metrics`: per-variant running sums and a latency histogram;
* :mod:`~actors.experiments.contrast`: an always-valid monitor of one contrast between variants;
* :mod:`~actors.experiments.guardrails`: quality / cost / p95-latency limits, tested sequentially;
* :mod:`~actors.experiments.stopping`: min samples, max duration, significance, min improvement;
* :mod:`~actors.experiments.canary`: staged rollout with health checks and rollback;
* :mod:`~actors.experiments.champion`: automatic promotion of a better challenger;
* :mod:`~actors.experiments.shadow`: the challenger decides, the champion serves;
* :mod:`~actors.experiments.plan`: how an experiment allocates and judges (policy/split/canary).
"""

from actors.experiments.assignment import Split, SplitError, in_fraction, unit_position
from actors.experiments.canary import (
    CanaryPlan,
    CanaryState,
    CanaryStep,
    canary_fraction,
    step_canary,
)
from actors.experiments.champion import ChallengerVerdict, evaluate_challenger
from actors.experiments.contrast import ContrastMonitor, observe_contrast
from actors.experiments.guardrails import (
    DEFAULT_GUARDRAILS,
    Guardrail,
    GuardrailBreach,
    GuardrailMonitor,
    check_guardrails,
)
from actors.experiments.lifecycle import (
    ACTIONS,
    TRANSITIONS,
    LifecycleError,
    Status,
    allowed_actions,
    transition,
)
from actors.experiments.metrics import ArmMetrics, LatencyHistogram, MetricSums
from actors.experiments.plan import ExperimentPlan, PlanError, check_plan
from actors.experiments.shadow import ShadowDecision, ShadowTally, shadow_decision
from actors.experiments.stopping import StopDecision, StoppingRule, evaluate_stop

__all__ = [
    "ACTIONS",
    "DEFAULT_GUARDRAILS",
    "TRANSITIONS",
    "ArmMetrics",
    "CanaryPlan",
    "CanaryState",
    "CanaryStep",
    "ChallengerVerdict",
    "ContrastMonitor",
    "ExperimentPlan",
    "Guardrail",
    "GuardrailBreach",
    "GuardrailMonitor",
    "LatencyHistogram",
    "LifecycleError",
    "MetricSums",
    "PlanError",
    "ShadowDecision",
    "ShadowTally",
    "Split",
    "SplitError",
    "Status",
    "StopDecision",
    "StoppingRule",
    "allowed_actions",
    "canary_fraction",
    "check_guardrails",
    "check_plan",
    "evaluate_challenger",
    "evaluate_stop",
    "in_fraction",
    "observe_contrast",
    "shadow_decision",
    "step_canary",
    "transition",
    "unit_position",
]
