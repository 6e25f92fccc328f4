"""Which aggregate runs for which entity kind, what it serves, and which events open and close
an entity."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from actors.aggregate import Aggregate
from actors.drift.telemetry import report_drift
from actors.experiment_ledger import ExperimentLedger
from actors.feature_window import FeatureWindowAggregate
from events.schema import (
    DriftDetected,
    Event,
    ExperimentArchived,
    ExperimentCreated,
    FeatureWindowArchived,
    FeatureWindowDefined,
)

AGGREGATES: Final[dict[str, type[Aggregate]]] = {
    ExperimentLedger.KIND: ExperimentLedger,
    FeatureWindowAggregate.KIND: FeatureWindowAggregate,
}
CREATION_EVENTS: Final[dict[type[Event], str]] = {
    ExperimentCreated: "experiment",
    FeatureWindowDefined: "window",
}
ARCHIVAL_EVENTS: Final[dict[type[Event], str]] = {
    ExperimentArchived: "experiment",
    FeatureWindowArchived: "window",
}


def _decision_service(host: Any, nc: Any) -> Any:
    from actors.decision_service import DecisionService

    return DecisionService(host, nc)


def _feature_publisher(host: Any, nc: Any) -> Any:
    from actors.feature_publisher import FeaturePublisher

    return FeaturePublisher(host, nc)


SERVICES: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "experiment": _decision_service,
    "window": _feature_publisher,
}
"""Request handlers an actor of the kind runs once it has recovered (lazy: NATS-bound)."""

APPENDED_HOOKS: Final[dict[type[Event], Callable[[Any], None]]] = {DriftDetected: report_drift}
"""What the actor does once it has appended an event its state derived (telemetry: counted
once per append, never on replay)."""


def aggregate_for(kind: str) -> type[Aggregate]:
    try:
        return AGGREGATES[kind]
    except KeyError:
        raise ValueError(f"unknown entity kind {kind!r}; known: {sorted(AGGREGATES)}") from None
