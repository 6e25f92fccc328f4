"""The directory's fold of lifecycle events: which entities are live and when that changes."""

from __future__ import annotations

import msgspec
import pytest

from actors.live_entities import LiveEntities
from events.schema import (
    CheckpointTaken,
    DecisionMade,
    Event,
    ExperimentArchived,
    ExperimentCreated,
    OutcomeObserved,
)


def created(entity_id: str, event_id: str = "c") -> ExperimentCreated:
    return ExperimentCreated(event_id=event_id, entity_id=entity_id, at=1.0, arms=("a",))


def archived(entity_id: str, event_id: str = "x") -> ExperimentArchived:
    return ExperimentArchived(event_id=event_id, entity_id=entity_id, at=2.0)


class TestCreation:
    def test_creation_makes_live(self) -> None:
        """Creating an experiment reports it live and lists it among the live entities."""
        state = LiveEntities()
        assert state.apply(created("e1")) == ("experiment", "e1", True)
        assert state.is_live("experiment", "e1")
        assert state.exists("experiment", "e1")
        assert state.live() == [("experiment", "e1")]

    def test_duplicate_creation_changes_nothing(self) -> None:
        """A second creation of the same entity returns None and leaves the state as it was."""
        state = LiveEntities()
        state.apply(created("e1", "c1"))
        before = msgspec.msgpack.encode(state)
        assert state.apply(created("e1", "c2")) is None
        assert msgspec.msgpack.encode(state) == before

    def test_creation_after_archival_does_not_revive(self) -> None:
        """An archived entity stays archived when a creation for it is folded again."""
        state = LiveEntities()
        state.apply(created("e1"))
        state.apply(archived("e1"))
        assert state.apply(created("e1", "c2")) is None
        assert not state.is_live("experiment", "e1")

    def test_live_lists_entities_in_creation_order(self) -> None:
        """live() lists the live entities in the order they were created, skipping archived ones."""
        state = LiveEntities()
        for entity_id in ("e3", "e1", "e2"):
            state.apply(created(entity_id))
        state.apply(archived("e1"))
        assert state.live() == [("experiment", "e3"), ("experiment", "e2")]


class TestArchival:
    def test_archival_makes_not_live(self) -> None:
        """Archiving a live experiment reports it not live; it still exists."""
        state = LiveEntities()
        state.apply(created("e1"))
        assert state.apply(archived("e1")) == ("experiment", "e1", False)
        assert not state.is_live("experiment", "e1")
        assert state.exists("experiment", "e1")
        assert state.live() == []

    def test_duplicate_archival_changes_nothing(self) -> None:
        """A second archival returns None and leaves the state as it was."""
        state = LiveEntities()
        state.apply(created("e1"))
        state.apply(archived("e1", "x1"))
        before = msgspec.msgpack.encode(state)
        assert state.apply(archived("e1", "x2")) is None
        assert msgspec.msgpack.encode(state) == before

    def test_archival_of_unknown_entity_returns_none(self) -> None:
        """Archiving an entity that was never created returns None and creates nothing."""
        state = LiveEntities()
        assert state.apply(archived("ghost")) is None
        assert not state.exists("experiment", "ghost")
        assert state.entities == {}

    def test_archival_touches_only_its_entity(self) -> None:
        """Archiving one experiment leaves the others live."""
        state = LiveEntities()
        state.apply(created("e1"))
        state.apply(created("e2"))
        state.apply(archived("e1"))
        assert state.live() == [("experiment", "e2")]


class TestOtherEvents:
    @pytest.mark.parametrize(
        "event",
        [
            DecisionMade(
                event_id="d", entity_id="e9", at=1.0, decision_id="d", arm="a", propensity=1.0
            ),
            OutcomeObserved(event_id="o", entity_id="e9", at=1.0, decision_id="d"),
            CheckpointTaken(
                event_id="k",
                entity_id="e9",
                at=1.0,
                kind="experiment",
                seq=1,
                digest="0" * 64,
                state_version=1,
            ),
        ],
        ids=["decision", "outcome", "checkpoint"],
    )
    def test_non_lifecycle_events_are_ignored(self, event: Event) -> None:
        """Decisions, outcomes and checkpoints neither create nor change an entity."""
        state = LiveEntities()
        assert state.apply(event) is None
        assert state.entities == {}

    def test_state_round_trips_through_msgpack(self) -> None:
        """The directory's state decodes back to an equal state with the same live list."""
        state = LiveEntities()
        for entity_id in ("e1", "e2", "e3"):
            state.apply(created(entity_id))
        state.apply(archived("e2"))
        restored = msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=LiveEntities)
        assert restored == state
        assert restored.live() == state.live()
