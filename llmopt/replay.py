"""Rebuilding an entity's state from the log, as of a sequence or an event time.

The same fold the live actor runs, outside Ray, so that ``replay --verify`` can compare the
live actor's digest with an independent rebuild at the very same sequence.
"""

from __future__ import annotations

import contextlib
import time

import msgspec

from actors.aggregate import Aggregate
from actors.checkpoint import CheckpointStore
from actors.registry import aggregate_for
from events.log import EventLog


class ReplayResult(msgspec.Struct, kw_only=True):
    kind: str
    entity_id: str
    state: Aggregate
    seq: int
    """Last sequence folded (the checkpoint's if no event followed it)."""
    events: int
    """Events folded by this replay (after the checkpoint, if one was used)."""
    from_checkpoint_seq: int
    checkpoints_skipped: int
    seconds: float

    @property
    def digest(self) -> str:
        return self.state.digest()

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


async def replay(
    event_log: EventLog,
    kind: str,
    entity_id: str,
    *,
    to_seq: int | None = None,
    to_time: float | None = None,
    checkpoints: CheckpointStore | None = None,
    batch: int = 1000,
) -> ReplayResult:
    """Fold the entity's events up to ``to_seq`` and/or up to the first event after ``to_time``.

    ``to_time`` cuts the log at the first event whose event time is later (a prefix of the log,
    as the actor saw it), not a filter: events that arrived out of order stay where they are.
    With ``checkpoints`` the replay starts from the newest valid checkpoint not past ``to_seq``.
    """
    cls = aggregate_for(kind)
    started = time.perf_counter()
    state = cls.initial(entity_id)
    seq = from_seq = skipped = 0
    if checkpoints is not None and to_time is None:
        loaded = await checkpoints.load_newest_valid(kind, entity_id, cls.STATE_VERSION)
        skipped = loaded.skipped
        if loaded.checkpoint is not None and (to_seq is None or loaded.checkpoint.seq <= to_seq):
            state = cls.from_bytes(loaded.checkpoint.state)
            seq = from_seq = loaded.checkpoint.seq
    events = 0
    apply = state.apply
    if to_seq is None or seq < to_seq:
        chunks = event_log.read(
            cls.log_subjects(entity_id), from_seq=seq + 1, to_seq=to_seq, batch=batch
        )
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                for recorded in chunk:
                    if to_time is not None and recorded.event.at > to_time:
                        break
                    apply(recorded.event)
                    seq = recorded.seq
                    events += 1
                else:
                    continue
                break
    return ReplayResult(
        kind=kind,
        entity_id=entity_id,
        state=state,
        seq=seq,
        events=events,
        from_checkpoint_seq=from_seq,
        checkpoints_skipped=skipped,
        seconds=time.perf_counter() - started,
    )
