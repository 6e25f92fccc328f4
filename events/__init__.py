"""The event log: schemas, codec, subjects, appends and reads, dead letters."""

from events.codec import EventDecodeError, decode, encode, register_upcaster
from events.dead_letter import DeadLetter, DeadLetterLog
from events.errors import ConcurrencyConflict, LogUnavailable
from events.log import LOG_STREAM, Appended, EventLog, Recorded
from events.schema import (
    AnyEvent,
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
    decisions_in,
    subject_of,
)

__all__ = [
    "LOG_STREAM",
    "AnyEvent",
    "Appended",
    "ArmAdded",
    "ArmRetired",
    "CheckpointTaken",
    "ConcurrencyConflict",
    "DeadLetter",
    "DeadLetterLog",
    "DecisionMade",
    "DecisionsMade",
    "DriftDetected",
    "Event",
    "EventDecodeError",
    "EventLog",
    "ExperimentArchived",
    "ExperimentCreated",
    "LogUnavailable",
    "OutcomeObserved",
    "Recorded",
    "decisions_in",
    "decode",
    "encode",
    "register_upcaster",
    "subject_of",
]
