"""The pure core of every event-sourced actor: state that changes only by folding events.

``apply`` must not do I/O, read the wall clock or touch global random state: time comes from
``event.at`` and randomness from a generator seeded by event data. Then replaying the same
events in log order gives the same bytes, and digests, not approximations, prove it.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Self

import msgspec

from events.schema import Event
from events.subjects import entity_filter

_encoder = msgspec.msgpack.Encoder()


COMPACT_AFTER = 4096
"""Deletions from the front of a FIFO table between two rebuilds (see ``pop_oldest``)."""


class Aggregate(msgspec.Struct, kw_only=True):
    """Base of every actor state. Subclasses set ``KIND`` and ``STATE_VERSION``.

    State bytes are msgpack with dict insertion order kept: insertion order is itself a
    function of the log order, and bounded tables rely on it to evict oldest first.
    """

    KIND: ClassVar[str]
    STATE_VERSION: ClassVar[int] = 1
    """Bumped whenever the state layout changes; older checkpoints are then ignored."""

    entity_id: str

    @classmethod
    def initial(cls, entity_id: str) -> Self:
        return cls(entity_id=entity_id)

    @classmethod
    def log_subjects(cls, entity_id: str) -> list[str]:
        """The log subjects the entity's actor consumes and replay reads: its own events by
        default. A kind that folds other entities' events (a feature window reads an
        experiment's outcomes) lists them too, and its ``apply`` must ignore, without changing
        its state, any event on them that is not for it."""
        return [entity_filter(cls.KIND, entity_id)]

    def apply(self, event: Event) -> None:
        raise NotImplementedError

    def pop_oldest(self, table: str) -> None:
        """Evict the oldest entry of the first-in-first-out table in the dict field ``table``.

        Insertion order is log order and survives encoding. Deleting from a dict's front leaves
        dummy slots that every later ``next(iter(...))`` walks over, so after
        ``COMPACT_AFTER`` deletions the dict is rebuilt: same order, same bytes, amortised
        O(1). (The hole count lives in the instance's ``__dict__``: ``dict=True`` subclasses.)
        """
        entries = getattr(self, table)
        del entries[next(iter(entries))]
        holes = f"_{table}_holes"
        count = getattr(self, holes, 0) + 1
        if count >= COMPACT_AFTER:
            setattr(self, table, dict(entries))
            count = 0
        setattr(self, holes, count)

    def outbox(self) -> list[Event]:
        """Events the fold derived that the log does not hold yet; the actor appends them
        (each with an id derived from its cause, so appending twice adds nothing) and the
        state drops each one when it folds it back. None by default."""
        return []

    def to_bytes(self) -> bytes:
        return _encoder.encode(self)

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return msgspec.msgpack.decode(data, type=cls)

    def digest(self) -> str:
        return state_digest(self.to_bytes())


def state_digest(state: bytes) -> str:
    """The digest checkpoints carry and ``replay --verify`` compares (SHA-256, hex)."""
    return hashlib.sha256(state).hexdigest()
