"""The public API of each package is deliberate: adding or removing a name is a visible change."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "events": {
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
    },
    "actors": {
        "AGGREGATES",
        "Aggregate",
        "Checkpoint",
        "CheckpointStore",
        "ExperimentLedger",
        "aggregate_for",
        "state_digest",
    },
    "gateway": {"EmbeddedNatsServer", "NatsConnectError", "connect", "start_or_connect"},
}


@pytest.mark.parametrize("package", sorted(PUBLIC))
def test_exported_members(package: str) -> None:
    """Each package exports exactly its listed names, and every one of them resolves."""
    module = importlib.import_module(package)
    assert set(module.__all__) == PUBLIC[package]
    for name in module.__all__:
        assert getattr(module, name) is not None
