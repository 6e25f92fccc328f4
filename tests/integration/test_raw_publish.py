"""Raw publishes on a real server: what nats-py would have sent, in order, and nats-py's own
path whenever it would do more than append."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from events import raw_publish
from events.codec import encode
from events.log import LOG_STREAM, EventLog
from events.raw_publish import header_block, publish_now
from events.schema import DecisionMade, subject_of
from gateway.connection import connect
from llmopt.settings import Settings
from tests.waiting import eventually


async def test_raw_publishes_arrive_as_sent_and_in_order(
    settings: Settings, entity_id: str
) -> None:
    """Payloads, replies and header blocks reach a subscriber intact, interleaved with nats-py's
    own publishes in the order they were made."""
    nc = await connect(settings, name="raw-publish-test")
    seen: list[Msg] = []
    try:

        async def keep(msg: Msg) -> None:
            seen.append(msg)

        await nc.subscribe(f"rawpub.{entity_id}.>", cb=keep)
        await nc.flush()
        block = header_block({"Nats-Msg-Id": "id-1", "X-Other": "v w"})
        assert block is not None
        assert publish_now(nc, f"rawpub.{entity_id}.a", b"one", reply="r.1")
        await nc.publish(f"rawpub.{entity_id}.b", b"two")
        assert publish_now(nc, f"rawpub.{entity_id}.c", b"three", headers=block)
        assert publish_now(nc, f"rawpub.{entity_id}.d", b"")

        async def count() -> int:
            await nc.flush()
            return len(seen)

        await eventually(count, lambda n: n == 4, within_s=5.0)
        assert [(m.subject.rsplit(".", 1)[1], m.data, m.reply) for m in seen] == [
            ("a", b"one", "r.1"),
            ("b", b"two", ""),
            ("c", b"three", ""),
            ("d", b"", ""),
        ]
        assert seen[2].headers == {"Nats-Msg-Id": "id-1", "X-Other": "v w"}
    finally:
        await nc.close()


async def test_the_log_dedupes_raw_publishes_by_their_msg_id(
    settings: Settings, event_log: EventLog, entity_id: str
) -> None:
    """A decision published raw twice with the same Nats-Msg-Id is stored once."""
    nc = await connect(settings, name="raw-publish-log-test")
    try:
        event = DecisionMade(
            event_id=f"{entity_id}:d1",
            entity_id=entity_id,
            at=1.0,
            decision_id=f"{entity_id}:d1",
            arm="a",
            propensity=1.0,
        )
        block = header_block({"Nats-Msg-Id": event.event_id, "Nats-Expected-Stream": LOG_STREAM})
        assert block is not None
        acks: list[Msg] = []

        async def ack(msg: Msg) -> None:
            acks.append(msg)

        inbox = nc.new_inbox()
        await nc.subscribe(inbox, cb=ack)
        await nc.flush()
        for _ in range(2):
            assert publish_now(nc, subject_of(event), encode(event), reply=inbox, headers=block)

        async def count() -> int:
            await nc.flush()
            return len(acks)

        await eventually(count, lambda n: n == 2, within_s=5.0)
        first, second = (json.loads(a.data) for a in acks)
        assert second == {**first, "duplicate": True}
        logged = [
            r async for chunk in event_log.read_entity("experiment", entity_id) for r in chunk
        ]
        assert [r.event for r in logged] == [event]
    finally:
        await nc.close()


async def test_it_declines_what_nats_py_must_handle(settings: Settings, entity_id: str) -> None:
    """Over max_payload or on a closed connection nothing is queued: the caller uses nats-py."""
    nc = await connect(settings, name="raw-publish-decline-test")
    pending = nc._pending_data_size
    assert not publish_now(nc, f"rawpub.{entity_id}", b"x" * (nc.max_payload + 1))
    assert nc._pending_data_size == pending
    await nc.close()
    assert not publish_now(nc, f"rawpub.{entity_id}", b"x")


async def arriving(
    settings: Settings, subject: str, publish: Callable[[Client], None], expected: int
) -> list[bytes]:
    """What a second connection receives on ``subject`` (waiting for ``expected`` messages)
    after ``publish`` ran on a connection of its own."""
    nc = await connect(settings, name="raw-publish-sender")
    listener = await connect(settings, name="raw-publish-listener")
    seen: list[bytes] = []
    try:

        async def keep(msg: Msg) -> None:
            seen.append(msg.data)

        await listener.subscribe(subject, cb=keep)
        await listener.flush()
        publish(nc)

        async def count() -> int:
            return len(seen)

        await eventually(count, lambda n: n == expected, within_s=5.0)
        return seen
    finally:
        await listener.close()
        await nc.close()


async def test_raw_publishes_are_written_without_nats_pys_flusher(
    settings: Settings, entity_id: str
) -> None:
    """A raw publish is written by a callback of the same loop turn: it arrives with nats-py's
    flusher task stopped, several publishes of one turn in order."""
    subject = f"rawpub.{entity_id}"

    def publish(nc: Client) -> None:
        assert nc._flusher_task is not None
        nc._flusher_task.cancel()
        for i in range(3):
            assert publish_now(nc, subject, b"%d" % i)

    assert await arriving(settings, subject, publish, 3) == [b"0", b"1", b"2"]


async def test_a_socket_that_is_behind_leaves_the_writing_to_the_flusher(
    settings: Settings, entity_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above the write-buffer limit a raw publish is not written directly (no backpressure
    there) but handed to nats-py's flusher, which waits for the socket: it still arrives."""
    monkeypatch.setattr(raw_publish, "WRITE_BUFFER_LIMIT", 0)
    subject = f"rawpub.{entity_id}"

    def publish(nc: Client) -> None:
        assert publish_now(nc, subject, b"late but there")

    assert await arriving(settings, subject, publish, 1) == [b"late but there"]


@pytest.mark.parametrize(
    "headers",
    [{"Bad Name": "v"}, {"Name:": "v"}, {"N": "line\r\nbreak"}, {"N": "x\n"}, {"Nämé": "v"}],
)
def test_header_blocks_that_could_break_the_framing_are_refused(headers: dict[str, str]) -> None:
    """A header name or value that could split the protocol frame is left to nats-py."""
    assert header_block(headers) is None
