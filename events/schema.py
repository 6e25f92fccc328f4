"""Every event type of the log, as frozen msgspec Structs in one tagged union.

Rules (msgspec's schema-evolution guide, and the eventsourcing library's): an event type never
changes meaning; new fields get defaults; a field's type never changes. A change that cannot
follow these rules bumps the type's ``VERSION`` and registers an upcaster (``events.codec``)
that turns the stored older shape into the current one, so handlers only ever see the newest.

Each event names its entity (``ENTITY_KIND`` + ``entity_id``) and its ``CHANNEL``, which
together give its subject (``events.subjects``). ``at`` is event time in Unix seconds: the
only clock a state fold may read.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from events.subjects import entity_subject


class Event(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag=True):
    """Fields common to every event."""

    event_id: str
    """Unique id; the ``Nats-Msg-Id`` of the append, so a retried append is dropped."""
    entity_id: str
    at: float
    """Event time, Unix seconds (UTC)."""
    v: int = 1
    """Schema version of this event's type at the time it was written."""

    ENTITY_KIND: ClassVar[str]
    CHANNEL: ClassVar[str]
    VERSION: ClassVar[int] = 1


class ExperimentCreated(Event, frozen=True, kw_only=True):
    """An experiment exists from here on; its actor is started by the directory."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    arms: tuple[str, ...]
    seed: int = 0
    fallback_arm: str | None = None
    description: str = ""
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    """Policy, features, catalogue and reward, validated by ``actors.experiment_config``
    before the event is appended; empty means the defaults."""
    draft: bool = False
    """Created as a draft: it serves no experiment traffic until ``ExperimentStarted``. The
    default (False) keeps the original meaning: an experiment runs from its creation."""


class ExperimentArchived(Event, frozen=True, kw_only=True):
    """The experiment is closed; its actor is stopped, its history stays in the log."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    reason: str = ""


class ArmAdded(Event, frozen=True, kw_only=True):
    """A new arm joins a running experiment; its policy starts it from the prior (cold start)."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    arm: str
    spec: dict[str, Any] | None = None
    """Its catalogue entry (``actors.catalogue.ArmSpec`` as JSON), if it has one."""


class ArmRetired(Event, frozen=True, kw_only=True):
    """An arm stops being chosen; its history and pending outcomes stay."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    arm: str
    reason: str = ""


class DecisionMade(Event, frozen=True, kw_only=True):
    """An arm was chosen for a request, with the probability of that choice (for audit and OPE).

    ``event_id`` is the decision id: decisions need no order among themselves, only dedupe.
    """

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "decision"

    decision_id: str
    arm: str
    propensity: float
    context: dict[str, Any] = msgspec.field(default_factory=dict)
    x: bytes | None = None
    """The policy's input as the decision saw it (float64, little-endian), for contextual
    policies: the fold learns from exactly what was decided on without encoding the context
    again, and off-policy evaluation reads the features as served. ``None`` (the gateway's
    stand-in, or events older than the field) means the fold encodes ``context`` itself."""
    missing_features: tuple[str, ...] = ()
    """Declared features the context lacked, which took their defaults (with ``x``)."""
    shadow_arm: str | None = None
    """What the experiment's shadow challenger chose for this request (not served)."""
    shadow_propensity: float | None = None


class DecisionsMade(Event, frozen=True, kw_only=True):
    """Decisions made together (one policy pass, or one ``decide_batch``), logged as one message.

    Why one message: every JetStream message costs the server a store, a dedupe entry and an
    acknowledgement, and the actor a publish and an ack to wait for; a ``decide_batch`` of 100
    logged as 100 messages spent most of its time there. Each decision keeps its own id, and
    every reader dedupes decisions by that id, as for a ``DecisionMade`` logged alone; the
    batch's own ``event_id`` derives from its decisions' ids (:mod:`events.decision_batch`),
    so a retried identical batch is dropped by the log. Read it through :func:`decisions_in`.
    """

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "decision"
    """The same subject as a single decision: every filter that sees one sees the other."""

    decisions: tuple[DecisionMade, ...]


class OutcomeObserved(Event, frozen=True, kw_only=True):
    """What happened after a decision; may arrive late, twice, or for an unknown decision."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "outcome"

    decision_id: str
    reward: float | None = None
    quality: float | None = None
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    error: bool = False
    feedback: float | None = None


class CheckpointTaken(Event, frozen=True, kw_only=True):
    """An actor stored its state as of ``seq``; recorded so the audit trail shows recoveries."""

    ENTITY_KIND: ClassVar[str] = "*"
    """Any kind: the subject takes ``kind`` from the event itself."""
    CHANNEL: ClassVar[str] = "checkpoint"

    kind: str
    seq: int
    digest: str
    state_version: int


class DriftDetected(Event, frozen=True, kw_only=True):
    """A drift or anomaly detector fired on one metric of one arm of an experiment.

    Appended by the experiment's drift monitor (``actors.drift.monitor``); the experiment's
    fold applies ``action`` (``actors.drift.actions``: alert only, reset or down-weight the
    arm, raise exploration, roll the experiment back), so the reaction is replayed with the
    log. ``statistic``, ``threshold``, ``samples`` and ``window`` are the detector's
    :class:`actors.drift.base.Alarm`; a ``statistic`` of ``None`` means unbounded (a value
    departing from a window that was constant).
    """

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "drift"

    detector: str
    metric: str
    statistic: float | None
    threshold: float
    samples: int
    """Observations the detector had folded since it last (re)started when it fired."""
    window: int
    """Observations the decision was based on."""
    direction: str = "both"
    """``up``, ``down`` or ``both`` (a change of distribution with no single direction)."""
    arm: str | None = None
    """The arm (model) whose stream drifted; ``None`` for an experiment-wide stream."""
    action: dict[str, Any] = msgspec.field(default_factory=lambda: {"kind": "alert_only"})
    """The configured reaction, ``{"kind": ..., **fields}``."""
    cause_event_id: str | None = None
    """The event whose observation completed the detection (usually an ``OutcomeObserved``)."""


class ExperimentStarted(Event, frozen=True, kw_only=True):
    """A draft experiment starts serving (Draft -> Running)."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    reason: str = ""


class ExperimentPaused(Event, frozen=True, kw_only=True):
    """A running experiment stops serving its variants; decide answers with the fallback or
    champion until it resumes. Appended by an operator or by a breached guardrail."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    reason: str = ""


class ExperimentResumed(Event, frozen=True, kw_only=True):
    """A paused experiment serves its variants again (Paused -> Running)."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    reason: str = ""


class ExperimentCompleted(Event, frozen=True, kw_only=True):
    """The experiment stopped for good (Running/Paused -> Complete); results are frozen and
    decide answers with the winner, the champion or the fallback."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    reason: str = ""
    winner: str | None = None


class ChallengerPromoted(Event, frozen=True, kw_only=True):
    """``arm`` becomes the champion (by an operator, or automatically when it is better)."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    arm: str
    previous: str | None = None
    reason: str = ""


class GuardrailBreached(Event, frozen=True, kw_only=True):
    """A guardrail's always-valid test showed harm beyond its limit; ``action`` follows."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    metric: str
    arm: str
    action: str
    """``pause`` or ``rollback``, as the experiment's definition chose."""
    reason: str = ""


class CanaryAdvanced(Event, frozen=True, kw_only=True):
    """The canary moved to its next stage (``fraction`` of traffic on the challenger)."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    stage: int
    fraction: float
    reason: str = ""


class CanaryRolledBack(Event, frozen=True, kw_only=True):
    """The canary was rolled back: all traffic returns to the champion."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    stage: int
    reason: str = ""


class SampleRatioMismatch(Event, frozen=True, kw_only=True):
    """The arms' shares of traffic do not match the split (chi-square p below the threshold):
    the assignment is broken somewhere and the comparison cannot be trusted."""

    ENTITY_KIND: ClassVar[str] = "experiment"
    CHANNEL: ClassVar[str] = "lifecycle"

    p_value: float
    observed: dict[str, int] = msgspec.field(default_factory=dict)
    reason: str = ""


class FeatureWindowDefined(Event, frozen=True, kw_only=True):
    """A feature window exists from here on: which experiment's outcomes it summarises, keyed
    how, over which windows (``actors.windows.window_config.FeatureWindowConfig`` as JSON,
    validated before the event is appended). It folds only traffic logged after it."""

    ENTITY_KIND: ClassVar[str] = "window"
    CHANNEL: ClassVar[str] = "lifecycle"

    config: dict[str, Any] = msgspec.field(default_factory=dict)
    description: str = ""


class FeatureWindowArchived(Event, frozen=True, kw_only=True):
    """The feature window stops; its history stays in the log."""

    ENTITY_KIND: ClassVar[str] = "window"
    CHANNEL: ClassVar[str] = "lifecycle"

    reason: str = ""


AnyEvent = (
    ExperimentCreated
    | ExperimentArchived
    | ArmAdded
    | ArmRetired
    | DecisionMade
    | DecisionsMade
    | OutcomeObserved
    | CheckpointTaken
    | DriftDetected
    | ExperimentStarted
    | ExperimentPaused
    | ExperimentResumed
    | ExperimentCompleted
    | ChallengerPromoted
    | GuardrailBreached
    | CanaryAdvanced
    | CanaryRolledBack
    | SampleRatioMismatch
    | FeatureWindowDefined
    | FeatureWindowArchived
)
"""The tagged union the log holds; decode with ``events.codec``."""

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        ExperimentCreated,
        ExperimentArchived,
        ArmAdded,
        ArmRetired,
        DecisionMade,
        DecisionsMade,
        OutcomeObserved,
        CheckpointTaken,
        DriftDetected,
        ExperimentStarted,
        ExperimentPaused,
        ExperimentResumed,
        ExperimentCompleted,
        ChallengerPromoted,
        GuardrailBreached,
        CanaryAdvanced,
        CanaryRolledBack,
        SampleRatioMismatch,
        FeatureWindowDefined,
        FeatureWindowArchived,
    )
}


def subject_of(event: Event) -> str:
    """The log subject an event is appended to."""
    kind = event.kind if isinstance(event, CheckpointTaken) else event.ENTITY_KIND
    return entity_subject(kind, event.entity_id, event.CHANNEL)


def decisions_in(event: Event) -> tuple[DecisionMade, ...]:
    """The decisions an event of the log holds: itself, a batch's, or none."""
    if isinstance(event, DecisionMade):
        return (event,)
    if isinstance(event, DecisionsMade):
        return event.decisions
    return ()
