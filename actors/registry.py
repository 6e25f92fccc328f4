"""Which aggregate runs for which entity kind, and which events open and close an entity."""

from __future__ import annotations

from typing import Final

from actors.aggregate import Aggregate
from actors.experiment_ledger import ExperimentLedger
from events.schema import Event, ExperimentArchived, ExperimentCreated

AGGREGATES: Final[dict[str, type[Aggregate]]] = {ExperimentLedger.KIND: ExperimentLedger}
CREATION_EVENTS: Final[dict[type[Event], str]] = {ExperimentCreated: "experiment"}
ARCHIVAL_EVENTS: Final[dict[type[Event], str]] = {ExperimentArchived: "experiment"}


def aggregate_for(kind: str) -> type[Aggregate]:
    try:
        return AGGREGATES[kind]
    except KeyError:
        raise ValueError(f"unknown entity kind {kind!r}; known: {sorted(AGGREGATES)}") from None
