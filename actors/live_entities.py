"""The directory's own state: which entities are live, folded from lifecycle events."""

from __future__ import annotations

import msgspec

from actors.registry import ARCHIVAL_EVENTS, CREATION_EVENTS
from events.schema import Event


class LiveEntities(msgspec.Struct):
    """``(kind, entity_id) -> archived?`` for every entity the log has created."""

    entities: dict[str, bool] = msgspec.field(default_factory=dict)

    @staticmethod
    def key(kind: str, entity_id: str) -> str:
        return f"{kind}/{entity_id}"

    def apply(self, event: Event) -> tuple[str, str, bool] | None:
        """Fold one event; returns ``(kind, entity_id, live)`` when it changed an entity."""
        kind = CREATION_EVENTS.get(type(event))
        if kind is not None:
            key = self.key(kind, event.entity_id)
            if key in self.entities:
                return None
            self.entities[key] = False
            return kind, event.entity_id, True
        kind = ARCHIVAL_EVENTS.get(type(event))
        if kind is not None:
            key = self.key(kind, event.entity_id)
            if self.entities.get(key) is not False:
                return None
            self.entities[key] = True
            return kind, event.entity_id, False
        return None

    def live(self) -> list[tuple[str, str]]:
        return [
            (key.split("/", 1)[0], key.split("/", 1)[1])
            for key, archived in self.entities.items()
            if not archived
        ]

    def exists(self, kind: str, entity_id: str) -> bool:
        return self.key(kind, entity_id) in self.entities

    def is_live(self, kind: str, entity_id: str) -> bool:
        return self.entities.get(self.key(kind, entity_id)) is False
