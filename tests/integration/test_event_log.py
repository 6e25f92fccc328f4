"""The log on a real JetStream server: order, dedupe, optimistic concurrency, batched reads."""

from __future__ import annotations

import asyncio

import pytest

from events.errors import ConcurrencyConflict
from events.log import EventLog, Recorded
from events.schema import DecisionMade, ExperimentArchived, ExperimentCreated, OutcomeObserved
from events.subjects import entity_subject


def created(entity_id: str, event_id: str = "create-1") -> ExperimentCreated:
    """Event ids are unique across the whole log (dedupe is stream-wide), hence the entity."""
    return ExperimentCreated(
        event_id=f"{entity_id}-{event_id}", entity_id=entity_id, at=1.0, arms=("a", "b")
    )


def decision(entity_id: str, i: int) -> DecisionMade:
    return DecisionMade(
        event_id=f"{entity_id}-d{i}",
        entity_id=entity_id,
        at=float(i),
        decision_id=f"d{i}",
        arm="ab"[i % 2],
        propensity=0.5,
    )


async def read_all(event_log: EventLog, entity_id: str, **kwargs: int) -> list[Recorded]:
    out: list[Recorded] = []
    async for chunk in event_log.read_entity("experiment", entity_id, **kwargs):
        out.extend(chunk)
    return out


class TestAppendAndRead:
    async def test_events_come_back_in_log_order_in_batches(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """An entity's events are read back complete, in append order, in batches of the asked size."""
        await event_log.append(created(entity_id))
        await event_log.append_many([decision(entity_id, i) for i in range(2500)])
        batches = [
            len(chunk) async for chunk in event_log.read_entity("experiment", entity_id, batch=1000)
        ]
        assert batches == [1000, 1000, 501]
        events = await read_all(event_log, entity_id)
        assert [r.event.event_id for r in events[1:]] == [f"{entity_id}-d{i}" for i in range(2500)]
        assert [r.seq for r in events] == sorted(r.seq for r in events)

    async def test_read_from_and_to_a_sequence(self, event_log: EventLog, entity_id: str) -> None:
        """A read can start after a sequence and stop at one, as replay from a checkpoint does."""
        acks = await event_log.append_many([decision(entity_id, i) for i in range(10)])
        seqs = [a.seq for a in acks]
        part = await read_all(event_log, entity_id, from_seq=seqs[3], to_seq=seqs[6])
        assert [r.seq for r in part] == seqs[3:7]

    async def test_reading_an_entity_with_no_events_ends_at_once(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """Reading an entity that has no events returns nothing instead of waiting."""
        assert await asyncio.wait_for(read_all(event_log, entity_id), 2.0) == []

    async def test_reads_other_entities_do_not_leak_in(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """A read of one entity never returns another entity's events, even with a shared prefix."""
        await event_log.append(decision(entity_id, 1))
        await event_log.append(decision(entity_id + "x", 1))
        assert [r.event.entity_id for r in await read_all(event_log, entity_id)] == [entity_id]


class TestDuplicates:
    async def test_an_event_appended_twice_is_stored_once(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """Appending the same event id twice is acknowledged as a duplicate and changes nothing."""
        first = await event_log.append(decision(entity_id, 7))
        head = await event_log.head_seq()
        second = await event_log.append(decision(entity_id, 7))
        assert (second.seq, second.duplicate) == (first.seq, True)
        assert await event_log.head_seq() == head
        assert len(await read_all(event_log, entity_id)) == 1

    async def test_pipelined_duplicates_are_dropped_too(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """A batch that is sent again whole (a retry after a lost ack) adds nothing."""
        batch = [decision(entity_id, i) for i in range(50)]
        await event_log.append_many(batch)
        again = await event_log.append_many(batch)
        assert all(a.duplicate for a in again)
        assert len(await read_all(event_log, entity_id)) == 50


class TestConcurrency:
    async def test_second_writer_with_a_stale_sequence_is_refused(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """Of two writers that read the same last sequence, the second to append is refused."""
        subject = entity_subject("experiment", entity_id, "lifecycle")
        seen = await event_log.last_subject_seq(subject)
        assert seen == 0
        await event_log.append(created(entity_id), expected_last_seq=seen)
        archive = ExperimentArchived(event_id=f"{entity_id}-archive-1", entity_id=entity_id, at=2.0)
        with pytest.raises(ConcurrencyConflict) as refused:
            await event_log.append(created(entity_id, "create-2"), expected_last_seq=seen)
        assert refused.value.expected_last_seq == 0
        current = await event_log.last_subject_seq(subject)
        appended = await event_log.append(archive, expected_last_seq=current)
        lifecycle = [r.event for r in await read_all(event_log, entity_id)]
        assert [e.event_id for e in lifecycle] == [
            f"{entity_id}-create-1",
            f"{entity_id}-archive-1",
        ]
        assert appended.seq > current

    async def test_concurrent_writers_never_fork_the_history(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """Ten writers racing on the same expected sequence: exactly one append lands."""
        subject = entity_subject("experiment", entity_id, "lifecycle")
        seen = await event_log.last_subject_seq(subject)
        results = await asyncio.gather(
            *(
                event_log.append(created(entity_id, f"create-{i}"), expected_last_seq=seen)
                for i in range(10)
            ),
            return_exceptions=True,
        )
        landed = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, ConcurrencyConflict)]
        assert (len(landed), len(refused)) == (1, 9)
        assert len(await read_all(event_log, entity_id)) == 1

    async def test_expected_sequence_does_not_block_other_channels(
        self, event_log: EventLog, entity_id: str
    ) -> None:
        """Outcomes appended by clients do not make the lifecycle writer's sequence stale."""
        subject = entity_subject("experiment", entity_id, "lifecycle")
        seen = await event_log.last_subject_seq(subject)
        await event_log.append(
            OutcomeObserved(
                event_id=f"{entity_id}-o1", entity_id=entity_id, at=1.0, decision_id="d1"
            )
        )
        await event_log.append(created(entity_id), expected_last_seq=seen)
