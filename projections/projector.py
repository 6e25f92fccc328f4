"""Dispatch of log events to read-model handlers, one transaction per batch.

The eventsourcing library's "tracking record": the position a projection has processed is
written in the same transaction as the rows it changed, so a batch is applied entirely or not
at all. A crash, an exception in a handler, or a cancelled task before the commit leaves both
the rows and the position as they were, and the next run reads from that position again:
every event is applied exactly once.

Handlers are keyed by the event's type *name* (the log's tag), so a read model can handle an
event type another module defines, or one that does not exist yet, without importing it. A
new event type is one function and one ``projector.on("TypeName", handler)`` line in its
module's ``register``.

Idempotence against duplicated events (an id appended twice outside JetStream's duplicate
window) is the handlers' own: each keys its rows by what the event names (decision id, event
id, experiment/arm) and ignores an event whose key it has already seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from events.log import Recorded
from projections import tracking


@dataclass
class Batch:
    """What a batch changed, for the finishers that derive tables from the roll-ups."""

    experiments: set[str] = field(default_factory=set)
    """Experiments whose results must be recomputed when the batch ends."""
    cache: dict[tuple[str, str], Any] = field(default_factory=dict)
    """Values read from the tables during this batch, by (what, experiment); a handler that
    changes what a value was read from calls :meth:`invalidate`. It lives and dies with the
    transaction, so a rolled-back batch leaves nothing cached."""

    def invalidate(self, experiment_id: str) -> None:
        for key in [k for k in self.cache if k[1] == experiment_id]:
            del self.cache[key]


Handler = Callable[[Database, Recorded, Batch], None]
Finisher = Callable[[Database, Batch], None]


class Projector:
    """Routes each event to the handlers registered for its type name."""

    def __init__(self, name: str = "reports") -> None:
        self.name = name
        self._handlers: dict[str, list[Handler]] = {}
        self._finishers: list[Finisher] = []

    def on(self, type_name: str, handler: Handler) -> None:
        """Call ``handler`` for every event of type ``type_name``, after those already added."""
        self._handlers.setdefault(type_name, []).append(handler)

    def finish_with(self, finisher: Finisher) -> None:
        """Call ``finisher`` once per batch, inside its transaction, after its events."""
        self._finishers.append(finisher)

    @property
    def handled_types(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def apply(self, db: Database, records: Iterable[Recorded]) -> int:
        """Apply ``records`` (in log order) and advance the position, atomically.

        Records at or below the stored position are skipped, so handing the same batch over
        twice changes nothing. Returns the new position.
        """
        with db.atomic():
            position, count = tracking.read(db, self.name)
            batch = Batch()
            for record in records:
                if record.seq <= position:
                    continue
                for handler in self._handlers.get(type(record.event).__name__, ()):
                    handler(db, record, batch)
                position = record.seq
                count += 1
            for finisher in self._finishers:
                finisher(db, batch)
            tracking.write(db, self.name, position, count)
        return position
