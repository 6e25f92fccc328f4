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
    | OutcomeObserved
    | CheckpointTaken
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
        OutcomeObserved,
        CheckpointTaken,
        FeatureWindowDefined,
        FeatureWindowArchived,
    )
}


def subject_of(event: Event) -> str:
    """The log subject an event is appended to."""
    kind = event.kind if isinstance(event, CheckpointTaken) else event.ENTITY_KIND
    return entity_subject(kind, event.entity_id, event.CHANNEL)
