"""Read model of drift and anomaly alerts: one row per alert event, its fields kept as JSON.

The event types are registered by name (:data:`ALERT_EVENT_TYPES`), so this module needs no
import of the drift monitors' event classes and starts filling as soon as they are logged.
A monitor whose alerts deserve columns of their own gets a handler of its own beside this one.
"""

from __future__ import annotations

from typing import Final

import msgspec
from sqlite_utils import Database

from events.log import Recorded
from projections.projector import Batch, Projector

ALERT_EVENT_TYPES: Final = ("DriftDetected", "AnomalyDetected", "DriftAlarm", "AlertRaised")


def register(projector: Projector) -> None:
    for name in ALERT_EVENT_TYPES:
        projector.on(name, on_alert)


def on_alert(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    detail = msgspec.to_builtins(event)
    for common in ("event_id", "entity_id", "at", "type"):
        detail.pop(common, None)
    db.execute(
        "INSERT OR IGNORE INTO alerts (event_id, type, entity_id, at, seq, detail) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [
            event.event_id,
            type(event).__name__,
            event.entity_id,
            event.at,
            record.seq,
            msgspec.json.encode(detail).decode(),
        ],
    )
