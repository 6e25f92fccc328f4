"""Appending a batch pipelined: each event its own message in the log, one settlement for the
batch, refusals per event, late acknowledgements ignored."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from events.codec import encode
from events.log import LOG_STREAM, EventLog, Recorded
from events.pipelined_append import NOT_ACKNOWLEDGED, PipelinedAppender
from events.raw_delivery import unsubscribe_raw
from events.schema import DecisionMade
from gateway.connection import connect
from llmopt.settings import Settings


def decision(entity_id: str, i: int) -> DecisionMade:
    return DecisionMade(
        event_id=f"{entity_id}:d{i}",
        entity_id=entity_id,
        at=float(i),
        decision_id=f"{entity_id}:d{i}",
        arm="ab"[i % 2],
        propensity=0.5,
    )


async def read_all(event_log: EventLog, entity_id: str) -> list[Recorded]:
    out: list[Recorded] = []
    async for chunk in event_log.read_entity("experiment", entity_id):
        out.extend(chunk)
    return out


@pytest.fixture
async def appender(settings: Settings) -> AsyncIterator[PipelinedAppender]:
    """A started appender to the log on a connection of its own."""
    nc = await connect(settings, name="append-test")
    started = PipelinedAppender(nc, LOG_STREAM)
    await started.start()
    try:
        yield started
    finally:
        await started.stop()
        await nc.close()


async def test_a_batch_lands_as_one_message_per_event_and_settles_once(
    appender: PipelinedAppender, event_log: EventLog, entity_id: str
) -> None:
    """Every event of the batch is acknowledged, in the log once, in order; a resent batch
    is acknowledged again (as duplicates) and adds nothing."""
    events = [decision(entity_id, i) for i in range(250)]
    pending = appender.append(events)
    await asyncio.wait_for(pending.done, 10.0)
    assert pending.errors == [None] * 250
    assert pending.first_error() is None
    again = appender.append(events[:10])
    await asyncio.wait_for(again.done, 10.0)
    assert again.errors == [None] * 10
    logged = await read_all(event_log, entity_id)
    assert [r.event.event_id for r in logged] == [e.event_id for e in events]


async def test_a_refused_event_is_an_error_of_its_own_and_settling_drops_late_acks(
    settings: Settings, event_log: EventLog, entity_id: str
) -> None:
    """An append the stream refuses (wrong expected stream) is reported with the server's
    reason; a batch settled before its acks arrive keeps them as not acknowledged."""
    nc = await connect(settings, name="append-test")
    wrong = PipelinedAppender(nc, "NOT_THE_LOG")
    await wrong.start()
    try:
        pending = wrong.append([decision(entity_id, 0), decision(entity_id, 1)])
        await asyncio.wait_for(pending.done, 10.0)
        assert all(error is not None and "stream" in error for error in pending.errors)
        early = wrong.append([decision(entity_id, 2)])
        wrong.settle(early)
        later = wrong.append([decision(entity_id, 3)])  # answered after ``early``'s
        await asyncio.wait_for(later.done, 10.0)
        assert later.errors[0] is not None and later.errors[0] != NOT_ACKNOWLEDGED
        assert early.errors == [NOT_ACKNOWLEDGED]
        assert not early.done.done()
        assert await read_all(event_log, entity_id) == []
    finally:
        await wrong.stop()
        await nc.close()


async def test_a_batch_with_a_deadline_settles_itself_when_no_ack_comes(
    settings: Settings, event_log: EventLog, entity_id: str
) -> None:
    """With within_s, a batch whose acknowledgements never arrive resolves on its own, its
    events reported as not acknowledged; an acknowledged batch cancels its timer."""
    nc = await connect(settings, name="append-test")
    appender = PipelinedAppender(nc, LOG_STREAM)
    await appender.start()
    try:
        answered = appender.append([decision(entity_id, 0)], within_s=10.0)
        await asyncio.wait_for(answered.done, 10.0)
        assert answered.errors == [None] and answered.timer is None
        assert appender._sub is not None
        await unsubscribe_raw(nc, appender._sub)  # the acks now reach no one
        unanswered = appender.append([decision(entity_id, 1)], within_s=0.05)
        await asyncio.wait_for(unanswered.done, 10.0)
        assert unanswered.errors == [NOT_ACKNOWLEDGED]
        assert unanswered.batch not in appender._pending
    finally:
        appender._sub = None
        await appender.stop()
        await nc.close()


async def test_events_the_buffer_cannot_take_now_are_published_after_in_order(
    appender: PipelinedAppender, event_log: EventLog, entity_id: str
) -> None:
    """When nats-py's outgoing buffer is over its limit, ``submit`` leaves the rest of the batch
    to nats-py's own publish: every event still lands, once, in order, and the batch settles
    as one."""
    nc = appender.nc
    limit = nc._max_pending_size
    try:
        nc._max_pending_size = 1  # the first event fills the buffer: the others take the task
        events = [decision(entity_id, i) for i in range(20)]
        pending = appender.submit([(e, encode(e)) for e in events], within_s=10.0)
        assert appender._publishing  # the rest is being published by nats-py
        await asyncio.wait_for(pending.done, 10.0)
        assert pending.errors == [None] * 20
        logged = await read_all(event_log, entity_id)
        assert [r.event.event_id for r in logged] == [e.event_id for e in events]
    finally:
        nc._max_pending_size = limit


async def test_an_event_nats_refuses_to_publish_settles_the_batch_with_the_reason(
    appender: PipelinedAppender, event_log: EventLog, entity_id: str
) -> None:
    """An event larger than the server's max_payload cannot be published: it and the events
    after it are errors that say so, the event before it is acknowledged as logged, and the
    batch settles then (not at its deadline)."""
    small = decision(entity_id, 0)
    huge = msgspec.structs.replace(
        decision(entity_id, 1), context={"blob": "x" * (appender.nc.max_payload + 1)}
    )
    pending = appender.submit([(small, encode(small)), (huge, encode(huge))], within_s=60.0)
    await asyncio.wait_for(pending.done, 10.0)
    assert pending.errors[0] is None
    assert pending.errors[1] is not None
    assert pending.errors[1].startswith("not published")
    assert pending.batch not in appender._pending
    logged = await read_all(event_log, entity_id)
    assert [r.event.event_id for r in logged] == [small.event_id]
