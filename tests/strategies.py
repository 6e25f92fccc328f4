"""Hypothesis strategies for the event log, shared by the fold, codec and (later) policy tests.

The central one is :func:`experiment_histories`: the events of one experiment as the log could
hold them. It starts with ``ExperimentCreated`` and then mixes ``DecisionMade`` and
``OutcomeObserved`` the way real traffic does: outcomes that arrive twice, decisions that are
redelivered, outcomes for decisions the experiment never made, decisions for arms it does not
have, and event times that go backwards (late arrivals). Every float is finite, so every event
also survives a JSON round trip.

Property tests use :data:`DETERMINISTIC` so that a run is reproducible and writes no example
database into the tree.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from events.decision_batch import batch_id
from events.schema import (
    AnyEvent,
    ArmAdded,
    ArmRetired,
    CanaryAdvanced,
    CanaryRolledBack,
    ChallengerPromoted,
    CheckpointTaken,
    DecisionMade,
    DecisionsMade,
    DriftDetected,
    Event,
    ExperimentArchived,
    ExperimentCompleted,
    ExperimentCreated,
    ExperimentPaused,
    ExperimentResumed,
    ExperimentStarted,
    FeatureWindowArchived,
    FeatureWindowDefined,
    GuardrailBreached,
    OutcomeObserved,
    SampleRatioMismatch,
)

DETERMINISTIC = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Settings for every property test: fixed seed, no example database, no deadline."""

T0 = 1_700_000_000.0
"""Event time of the first event of a generated history (Unix seconds)."""

UNKNOWN_ARM = "arm-not-in-experiment"
"""The arm name generated decisions use when they pick an arm the experiment does not have."""

TOKEN_ALPHABET = string.ascii_letters + string.digits + "_-"

tokens = st.text(alphabet=TOKEN_ALPHABET, min_size=1, max_size=16)
"""Valid subject tokens: entity ids, kinds and channels."""

arm_names = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=8)

finite_floats = st.floats(
    min_value=-1e3, max_value=1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False
)
"""Rewards, qualities and feedback: bounded so that sums never overflow."""

non_negative_floats = st.floats(
    min_value=0.0, max_value=1e3, allow_nan=False, allow_infinity=False, allow_subnormal=False
)
"""Costs and latencies."""

event_times = st.one_of(
    st.floats(min_value=T0, max_value=T0 + 30 * 86400.0, allow_nan=False, allow_infinity=False),
    st.integers(min_value=int(T0), max_value=int(T0) + 30 * 86400),
)
"""Event times as stored (float) or as a careless caller passes them (int)."""

propensities = st.floats(
    min_value=0.0, max_value=1.0, exclude_min=True, allow_nan=False, allow_subnormal=False
)

_json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    _json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6), children, max_size=3),
    ),
    max_leaves=8,
)
"""Values that come back equal from JSON: no tuples, no NaN or infinities, 64-bit ints."""

contexts = st.dictionaries(st.text(max_size=8), json_values, max_size=4)
"""``DecisionMade.context``: request features as a JSON object."""


def _optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def experiment_created_events(
    draw: st.DrawFn, entity_id: str | None = None, at: float | None = None
) -> ExperimentCreated:
    eid = entity_id if entity_id is not None else draw(tokens)
    arms = draw(st.lists(arm_names, min_size=1, max_size=4, unique=True))
    return ExperimentCreated(
        event_id=f"create:{eid}:{draw(tokens)}",
        entity_id=eid,
        at=at if at is not None else draw(event_times),
        arms=tuple(arms),
        seed=draw(st.integers(min_value=0, max_value=2**32 - 1)),
        fallback_arm=draw(_optional(st.sampled_from(arms))),
        description=draw(st.text(max_size=12)),
        draft=draw(st.booleans()),
    )


@st.composite
def experiment_archived_events(draw: st.DrawFn, entity_id: str | None = None) -> ExperimentArchived:
    eid = entity_id if entity_id is not None else draw(tokens)
    return ExperimentArchived(
        event_id=f"archive:{eid}:{draw(tokens)}",
        entity_id=eid,
        at=draw(event_times),
        reason=draw(st.text(max_size=12)),
    )


@st.composite
def arm_added_events(draw: st.DrawFn, entity_id: str | None = None) -> ArmAdded:
    eid = entity_id if entity_id is not None else draw(tokens)
    spec = draw(
        _optional(
            st.fixed_dictionaries(
                {
                    "model": st.text(min_size=1, max_size=8),
                    "price_in_per_1k": st.floats(min_value=0, max_value=1),
                    "price_out_per_1k": st.floats(min_value=0, max_value=1),
                    "context_window": st.integers(min_value=1, max_value=200_000),
                }
            )
        )
    )
    return ArmAdded(
        event_id=f"add-arm:{eid}:{draw(tokens)}",
        entity_id=eid,
        at=draw(event_times),
        arm=draw(arm_names),
        spec=spec,
    )


@st.composite
def arm_retired_events(draw: st.DrawFn, entity_id: str | None = None) -> ArmRetired:
    eid = entity_id if entity_id is not None else draw(tokens)
    return ArmRetired(
        event_id=f"retire-arm:{eid}:{draw(tokens)}",
        entity_id=eid,
        at=draw(event_times),
        arm=draw(arm_names),
        reason=draw(st.text(max_size=12)),
    )


@st.composite
def decision_events(
    draw: st.DrawFn,
    entity_id: str | None = None,
    decision_id: str | None = None,
    arm: str | None = None,
    at: float | None = None,
) -> DecisionMade:
    did = decision_id if decision_id is not None else draw(tokens)
    return DecisionMade(
        event_id=did,
        entity_id=entity_id if entity_id is not None else draw(tokens),
        at=at if at is not None else draw(event_times),
        decision_id=did,
        arm=arm if arm is not None else draw(arm_names),
        propensity=draw(propensities),
        context=draw(contexts),
    )


@st.composite
def decisions_made_events(draw: st.DrawFn, entity_id: str | None = None) -> DecisionsMade:
    eid = entity_id if entity_id is not None else draw(tokens)
    ids = draw(st.lists(tokens, min_size=1, max_size=4, unique=True))
    decisions = tuple(draw(decision_events(entity_id=eid, decision_id=did)) for did in ids)
    return DecisionsMade(
        event_id=batch_id(decisions), entity_id=eid, at=draw(event_times), decisions=decisions
    )


@st.composite
def outcome_events(
    draw: st.DrawFn,
    entity_id: str | None = None,
    decision_id: str | None = None,
    at: float | None = None,
) -> OutcomeObserved:
    did = decision_id if decision_id is not None else draw(tokens)
    return OutcomeObserved(
        event_id=f"outcome:{did}:{draw(tokens)}",
        entity_id=entity_id if entity_id is not None else draw(tokens),
        at=at if at is not None else draw(event_times),
        decision_id=did,
        reward=draw(_optional(finite_floats)),
        quality=draw(_optional(finite_floats)),
        cost_usd=draw(_optional(non_negative_floats)),
        input_tokens=draw(_optional(st.integers(min_value=0, max_value=200_000))),
        output_tokens=draw(_optional(st.integers(min_value=0, max_value=200_000))),
        latency_ms=draw(_optional(non_negative_floats)),
        error=draw(st.booleans()),
        feedback=draw(_optional(finite_floats)),
    )


@st.composite
def checkpoint_events(
    draw: st.DrawFn, entity_id: str | None = None, at: float | None = None
) -> CheckpointTaken:
    eid = entity_id if entity_id is not None else draw(tokens)
    kind = draw(tokens)
    seq = draw(st.integers(min_value=1, max_value=2**53))
    return CheckpointTaken(
        event_id=f"checkpoint:{kind}:{eid}:{seq}",
        entity_id=eid,
        at=at if at is not None else draw(event_times),
        kind=kind,
        seq=seq,
        digest=draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)),
        state_version=draw(st.integers(min_value=1, max_value=10)),
    )


@st.composite
def drift_detected_events(
    draw: st.DrawFn, entity_id: str | None = None, at: float | None = None
) -> DriftDetected:
    eid = entity_id if entity_id is not None else draw(tokens)
    return DriftDetected(
        event_id=f"drift-{draw(tokens)}",
        entity_id=eid,
        at=at if at is not None else draw(event_times),
        detector=draw(st.sampled_from(["adwin", "cusum", "page_hinkley", "ks", "psi", "mad"])),
        metric=draw(st.sampled_from(["quality", "latency_ms", "cost_usd", "error", "reward"])),
        statistic=draw(_optional(finite_floats)),
        threshold=draw(non_negative_floats),
        samples=draw(st.integers(min_value=1, max_value=2**40)),
        window=draw(st.integers(min_value=0, max_value=2**40)),
        direction=draw(st.sampled_from(["up", "down", "both"])),
        arm=draw(_optional(arm_names)),
        action=draw(
            st.sampled_from(
                [
                    {"kind": "alert_only"},
                    {"kind": "reset_arm"},
                    {"kind": "down_weight_arm", "factor": 0.5},
                    {"kind": "raise_exploration", "factor": 2.0, "decisions": 1000},
                    {"kind": "rollback_experiment", "to_arm": None},
                ]
            )
        ),
        cause_event_id=draw(_optional(tokens)),
    )


def _lifecycle_events(cls: type[Event], prefix: str, **fields: Any) -> st.SearchStrategy[Any]:
    """Events of one lifecycle type with drawn ids, times, reasons and ``fields``."""
    return st.builds(
        cls,
        event_id=st.builds(lambda t: f"{prefix}:{t}", tokens),
        entity_id=tokens,
        at=event_times,
        reason=st.text(max_size=12),
        **fields,
    )


LIFECYCLE_STRATEGIES: dict[type[Event], st.SearchStrategy[Any]] = {
    ExperimentStarted: _lifecycle_events(ExperimentStarted, "start"),
    ExperimentPaused: _lifecycle_events(ExperimentPaused, "pause"),
    ExperimentResumed: _lifecycle_events(ExperimentResumed, "resume"),
    ExperimentCompleted: _lifecycle_events(
        ExperimentCompleted, "stop", winner=_optional(arm_names)
    ),
    ChallengerPromoted: _lifecycle_events(
        ChallengerPromoted, "promote", arm=arm_names, previous=_optional(arm_names)
    ),
    GuardrailBreached: _lifecycle_events(
        GuardrailBreached,
        "breach",
        metric=st.sampled_from(["quality", "cost", "latency_p95"]),
        arm=arm_names,
        action=st.sampled_from(["pause", "rollback"]),
    ),
    CanaryAdvanced: _lifecycle_events(
        CanaryAdvanced,
        "canary",
        stage=st.integers(min_value=0, max_value=5),
        fraction=st.floats(min_value=0.0, max_value=1.0),
    ),
    CanaryRolledBack: _lifecycle_events(
        CanaryRolledBack, "rollback", stage=st.integers(min_value=0, max_value=5)
    ),
    SampleRatioMismatch: _lifecycle_events(
        SampleRatioMismatch,
        "srm",
        p_value=st.floats(min_value=0.0, max_value=1.0),
        observed=st.dictionaries(arm_names, st.integers(min_value=0, max_value=10**6), max_size=3),
    ),
}
"""The experiment-lifecycle events (issue 4): start, pause, resume, stop, promotion, guardrail
breach, canary stage and rollback."""
WINDOW_CONFIG: dict[str, Any] = {
    "experiment": "exp-1",
    "metric": "latency_ms",
    "key_by": ["arm", "tier"],
    "windows": [
        {"type": "tumbling", "size": 60.0},
        {"type": "sliding", "size": 120.0, "slide": 60.0},
        {"type": "session", "gap": 30.0},
    ],
    "max_out_of_orderness": 5.0,
    "allowed_lateness": 120.0,
}
"""A feature window over experiment ``exp-1`` with all three window kinds."""


@st.composite
def window_defined_events(
    draw: st.DrawFn, entity_id: str | None = None, at: float | None = None
) -> FeatureWindowDefined:
    wid = entity_id if entity_id is not None else draw(tokens)
    return FeatureWindowDefined(
        event_id=f"define-window:{wid}:{draw(tokens)}",
        entity_id=wid,
        at=at if at is not None else draw(event_times),
        config=WINDOW_CONFIG,
        description=draw(st.text(max_size=12)),
    )


@st.composite
def window_archived_events(draw: st.DrawFn, entity_id: str | None = None) -> FeatureWindowArchived:
    wid = entity_id if entity_id is not None else draw(tokens)
    return FeatureWindowArchived(
        event_id=f"archive-window:{wid}:{draw(tokens)}",
        entity_id=wid,
        at=draw(event_times),
        reason=draw(st.text(max_size=12)),
    )


EVENTS_BY_TYPE: dict[type[Event], st.SearchStrategy[Any]] = {
    ExperimentCreated: experiment_created_events(),
    ExperimentArchived: experiment_archived_events(),
    ArmAdded: arm_added_events(),
    ArmRetired: arm_retired_events(),
    DecisionMade: decision_events(),
    DecisionsMade: decisions_made_events(),
    OutcomeObserved: outcome_events(),
    CheckpointTaken: checkpoint_events(),
    DriftDetected: drift_detected_events(),
    **LIFECYCLE_STRATEGIES,
    FeatureWindowDefined: window_defined_events(),
    FeatureWindowArchived: window_archived_events(),
}
"""One strategy per event type; a new type in ``EVENT_TYPES`` must get one here."""

SAMPLE_EVENTS: dict[type[Event], AnyEvent] = {
    ExperimentCreated: ExperimentCreated(
        event_id="create:exp-1:r1", entity_id="exp-1", at=T0, arms=("a", "b"), fallback_arm="a"
    ),
    ExperimentArchived: ExperimentArchived(
        event_id="archive:exp-1:r2", entity_id="exp-1", at=T0 + 60, reason="done"
    ),
    ArmAdded: ArmAdded(
        event_id="add-arm:exp-1:r3",
        entity_id="exp-1",
        at=T0 + 3,
        arm="c",
        spec={
            "model": "m",
            "price_in_per_1k": 0.001,
            "price_out_per_1k": 0.002,
            "context_window": 8000,
        },
    ),
    ArmRetired: ArmRetired(
        event_id="retire-arm:exp-1:r4", entity_id="exp-1", at=T0 + 4, arm="b", reason="slow"
    ),
    DecisionMade: DecisionMade(
        event_id="d-1",
        entity_id="exp-1",
        at=T0 + 1,
        decision_id="d-1",
        arm="a",
        propensity=0.5,
        context={"tier": "free"},
    ),
    DecisionsMade: DecisionsMade(
        event_id="decisions:00",
        entity_id="exp-1",
        at=T0 + 1,
        decisions=(
            DecisionMade(
                event_id="d-2",
                entity_id="exp-1",
                at=T0 + 1,
                decision_id="d-2",
                arm="b",
                propensity=0.5,
                context={"tier": "pro"},
            ),
        ),
    ),
    OutcomeObserved: OutcomeObserved(
        event_id="o-1", entity_id="exp-1", at=T0 + 2, decision_id="d-1", reward=1.0
    ),
    CheckpointTaken: CheckpointTaken(
        event_id="checkpoint:experiment:exp-1:7",
        entity_id="exp-1",
        at=T0 + 2,
        kind="experiment",
        seq=7,
        digest="0" * 64,
        state_version=1,
    ),
    DriftDetected: DriftDetected(
        event_id="drift-1",
        entity_id="exp-1",
        at=T0 + 5,
        detector="cusum",
        metric="quality",
        statistic=9.5,
        threshold=8.2,
        samples=1042,
        window=37,
        direction="down",
        arm="b",
        action={"kind": "down_weight_arm", "factor": 0.5},
        cause_event_id="o-1",
    ),
    ExperimentStarted: ExperimentStarted(event_id="start:exp-1:r5", entity_id="exp-1", at=T0 + 5),
    ExperimentPaused: ExperimentPaused(
        event_id="pause:exp-1:r6", entity_id="exp-1", at=T0 + 6, reason="investigating"
    ),
    ExperimentResumed: ExperimentResumed(event_id="resume:exp-1:r7", entity_id="exp-1", at=T0 + 7),
    ExperimentCompleted: ExperimentCompleted(
        event_id="stop:exp-1:r8", entity_id="exp-1", at=T0 + 8, winner="a"
    ),
    ChallengerPromoted: ChallengerPromoted(
        event_id="promote:exp-1:r9", entity_id="exp-1", at=T0 + 9, arm="b", previous="a"
    ),
    GuardrailBreached: GuardrailBreached(
        event_id="breach:exp-1:r10",
        entity_id="exp-1",
        at=T0 + 10,
        metric="cost",
        arm="b",
        action="pause",
        reason="cost rose 40%",
    ),
    CanaryAdvanced: CanaryAdvanced(
        event_id="canary:exp-1:r11", entity_id="exp-1", at=T0 + 11, stage=1, fraction=0.25
    ),
    CanaryRolledBack: CanaryRolledBack(
        event_id="rollback:exp-1:r12", entity_id="exp-1", at=T0 + 12, stage=1
    ),
    SampleRatioMismatch: SampleRatioMismatch(
        event_id="srm:exp-1:r13",
        entity_id="exp-1",
        at=T0 + 13,
        p_value=1e-6,
        observed={"a": 600, "b": 400},
    ),
    FeatureWindowDefined: FeatureWindowDefined(
        event_id="define-window:w-1:r1", entity_id="w-1", at=T0, config=WINDOW_CONFIG
    ),
    FeatureWindowArchived: FeatureWindowArchived(
        event_id="archive-window:w-1:r2", entity_id="w-1", at=T0 + 60, reason="done"
    ),
}
"""One fixed, valid event per type, for table tests."""

any_events: st.SearchStrategy[AnyEvent] = st.one_of(*EVENTS_BY_TYPE.values())

_STEPS = (
    "decide",
    "decide",
    "decide",
    "observe",
    "observe",
    "observe",
    "redeliver_decision",
    "redeliver_outcome",
    "observe_unknown",
    "decide_unknown_arm",
)
_steps = st.sampled_from(_STEPS)
_steps_with_checkpoints = st.sampled_from((*_STEPS, "checkpoint"))
_optional_rewards = _optional(finite_floats)
_optional_costs = _optional(non_negative_floats)


def _seconds(upto: float) -> st.SearchStrategy[float]:
    """Mostly 0 or 1 s (ties and in-order events), sometimes anything up to ``upto``."""
    return st.sampled_from([0.0, 1.0]) | st.floats(min_value=0.0, max_value=upto)


@st.composite
def experiment_histories(
    draw: st.DrawFn,
    *,
    entity_id: str = "exp-1",
    max_events: int = 30,
    max_step_s: float = 120.0,
    max_lateness_s: float = 600.0,
    checkpoints: bool = False,
) -> list[AnyEvent]:
    """The log of one experiment: ``ExperimentCreated`` first, then decisions and outcomes.

    Event time advances by up to ``max_step_s`` per event; any event may be late by up to
    ``max_lateness_s`` (so times are out of order, but never before the creation). With
    ``checkpoints`` the history also holds ``CheckpointTaken`` records stamped, as the actor
    host stamps them, with the newest event time folded so far.

    Only the fields a fold reads are drawn (reward, cost, latency, error); contexts are empty.
    That keeps long histories cheap; the codec tests cover the other fields.
    """
    created = draw(experiment_created_events(entity_id=entity_id, at=T0))
    arms = st.sampled_from(created.arms)
    advance, lateness = _seconds(max_step_s), _seconds(max_lateness_s)
    steps = _steps_with_checkpoints if checkpoints else _steps
    history: list[AnyEvent] = [created]
    decisions: list[DecisionMade] = []
    outcomes: list[OutcomeObserved] = []
    clock = newest = T0
    n = draw(st.integers(min_value=0, max_value=max_events))
    for i in range(n):
        step = draw(steps)
        event: AnyEvent
        if step == "checkpoint":
            history.append(
                CheckpointTaken(
                    event_id=f"checkpoint:experiment:{entity_id}:{len(history)}",
                    entity_id=entity_id,
                    at=float(newest),
                    kind="experiment",
                    seq=len(history),
                    digest="0" * 64,
                    state_version=1,
                )
            )
            continue
        clock += draw(advance)
        at = max(T0, clock - draw(lateness))
        if step == "redeliver_decision" and decisions:
            event = draw(st.sampled_from(decisions))
        elif step == "redeliver_outcome" and outcomes:
            event = draw(st.sampled_from(outcomes))
        elif step == "observe_unknown" or (step == "observe" and decisions):
            target = (
                f"never-made-{i}"
                if step == "observe_unknown"
                else draw(st.sampled_from(decisions)).decision_id
            )
            event = OutcomeObserved(
                event_id=f"outcome-{i}",
                entity_id=entity_id,
                at=at,
                decision_id=target,
                reward=draw(_optional_rewards),
                cost_usd=draw(_optional_costs),
                latency_ms=draw(_optional_costs),
                error=draw(st.booleans()),
            )
            outcomes.append(event)
        else:
            arm = UNKNOWN_ARM if step == "decide_unknown_arm" else draw(arms)
            event = DecisionMade(
                event_id=f"d-{i}",
                entity_id=entity_id,
                at=at,
                decision_id=f"d-{i}",
                arm=arm,
                propensity=draw(propensities),
            )
            decisions.append(event)
        history.append(event)
        newest = max(newest, event.at)
    return history
