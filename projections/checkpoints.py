"""Read model of the checkpoint/recovery audit: every checkpoint an actor took, with the
log sequence it covers and how many log positions it advanced over the entity's previous one.

``events_since_previous`` is ``covers_seq`` minus the previous checkpoint's; a value of zero
or less means an actor checkpointed a state it had already covered (a recovery that replayed
from an older checkpoint, or a restart that took a checkpoint before new events).
"""

from __future__ import annotations

from sqlite_utils import Database

from events.log import Recorded
from events.schema import CheckpointTaken
from projections.projector import Batch, Projector


def register(projector: Projector) -> None:
    projector.on("CheckpointTaken", on_checkpoint)


def on_checkpoint(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, CheckpointTaken)
    previous = db.execute(
        "SELECT covers_seq FROM checkpoints WHERE kind = ? AND entity_id = ? "
        "ORDER BY seq DESC LIMIT 1",
        [event.kind, event.entity_id],
    ).fetchone()
    db.execute(
        "INSERT OR IGNORE INTO checkpoints (event_id, kind, entity_id, covers_seq, digest,"
        " state_version, at, seq, events_since_previous) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event.event_id,
            event.kind,
            event.entity_id,
            event.seq,
            event.digest,
            event.state_version,
            event.at,
            record.seq,
            None if previous is None else event.seq - int(previous[0]),
        ],
    )
