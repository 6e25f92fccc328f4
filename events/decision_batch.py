"""Decisions packed into log messages: one message for the decisions made together.

The decision service logs the decisions of one policy pass (or one ``decide_batch``) before it
replies. One decision stays a ``DecisionMade``, as it always was; several become
``DecisionsMade`` messages of at most ``max_decisions`` decisions and ``max_bytes`` encoded
bytes each (a message must fit the server's ``max_payload``; a pass under overload can hold
tens of thousands of requests). A message's event id is a digest of its decisions' ids: the
same decisions packed again (a client's retry of a whole ``decide_batch``) are the same message,
which the log drops as a duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Final

from events.codec import encode
from events.schema import DecisionMade, DecisionsMade, decisions_in

MAX_DECISIONS: Final = 1000
"""Decisions per message: ``decide_batch``'s own limit, so one batch is one message."""


class Packed:
    """One message to append and the positions (in the packed sequence) of its decisions."""

    __slots__ = ("data", "event", "first", "stop")

    def __init__(self, event: DecisionMade | DecisionsMade, data: bytes, first: int) -> None:
        self.event = event
        self.data = data
        """The encoded event, so the appender does not encode it again."""
        self.first = first
        self.stop = first + len(decisions_in(event))


def batch_id(decisions: Sequence[DecisionMade]) -> str:
    """Deterministic in the decisions' ids and their order (64 bits of BLAKE2b)."""
    digest = hashlib.blake2b(digest_size=16)
    for decision in decisions:
        digest.update(decision.decision_id.encode("utf-8"))
        digest.update(b"\n")
    return f"decisions:{digest.hexdigest()}"


def pack(
    decisions: Sequence[DecisionMade],
    *,
    at: float,
    max_bytes: int,
    max_decisions: int = MAX_DECISIONS,
) -> list[Packed]:
    """The messages that log ``decisions``, in order.

    ``decisions`` belong to one experiment. A message over ``max_bytes`` is split in halves
    until each fits; a single decision over it is returned as it is (the log refuses it, and
    that decision is answered "unavailable").
    """
    if not decisions:
        return []
    if max_decisions < 1:
        raise ValueError(f"max_decisions must be at least 1, got {max_decisions}")
    packed: list[Packed] = []
    for start in range(0, len(decisions), max_decisions):
        _pack_into(packed, decisions[start : start + max_decisions], start, at, max_bytes)
    return packed


def _pack_into(
    packed: list[Packed],
    decisions: Sequence[DecisionMade],
    first: int,
    at: float,
    max_bytes: int,
) -> None:
    if len(decisions) == 1:
        packed.append(Packed(decisions[0], encode(decisions[0]), first))
        return
    event = DecisionsMade(
        event_id=batch_id(decisions),
        entity_id=decisions[0].entity_id,
        at=at,
        decisions=tuple(decisions),
    )
    data = encode(event)
    if len(data) <= max_bytes:
        packed.append(Packed(event, data, first))
        return
    half = len(decisions) // 2
    _pack_into(packed, decisions[:half], first, at, max_bytes)
    _pack_into(packed, decisions[half:], first + half, at, max_bytes)
