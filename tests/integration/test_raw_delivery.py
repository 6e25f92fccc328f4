"""Raw subscriptions on a real server: bytes straight from the parser, the rest of the
connection untouched, a failing handler contained."""

from __future__ import annotations

from typing import Any

from events.raw_delivery import status_of, subscribe_raw, unsubscribe_raw
from gateway.connection import connect
from llmopt.settings import Settings
from tests.waiting import eventually

Seen = tuple[bytes, bytes, bytes, bytes]


async def test_a_raw_handler_gets_subject_reply_payload_and_headers_as_bytes(
    settings: Settings, entity_id: str
) -> None:
    """Subject, reply, payload and the raw header block reach the handler as sent."""
    nc = await connect(settings, name="raw-test")
    seen: list[Seen] = []
    try:
        sub = await subscribe_raw(nc, f"raw.{entity_id}.>", lambda *m: seen.append(m))
        await nc.publish(f"raw.{entity_id}.a", b"one", reply="r.1")
        await nc.publish(f"raw.{entity_id}.b", b"two", headers={"Nats-Msg-Id": "x-1"})

        async def probe() -> int:
            await nc.flush()
            return len(seen)

        await eventually(probe, lambda n: n == 2, within_s=5.0)
        assert seen[0] == (f"raw.{entity_id}.a".encode(), b"r.1", b"one", b"")
        subject, reply, data, headers = seen[1]
        assert (subject, reply, data) == (f"raw.{entity_id}.b".encode(), b"", b"two")
        assert b"Nats-Msg-Id: x-1" in headers
        assert status_of(headers) is None
        await unsubscribe_raw(nc, sub)
        await nc.publish(f"raw.{entity_id}.c", b"three")
        await nc.flush()
        assert len(seen) == 2
    finally:
        await nc.close()


async def test_other_subscriptions_keep_their_messages_and_a_failing_handler_is_contained(
    settings: Settings, entity_id: str
) -> None:
    """A raw handler that raises loses only its message: the connection keeps reading and
    ordinary subscriptions still get ``Msg`` objects with parsed headers."""
    nc = await connect(settings, name="raw-test")
    got: list[Any] = []
    raw: list[bytes] = []

    def flaky(subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        if data == b"boom":
            raise RuntimeError("handler bug")
        raw.append(data)

    async def ordinary(msg: Any) -> None:
        got.append(msg)

    try:
        await subscribe_raw(nc, f"raw.{entity_id}.x", flaky)
        await nc.subscribe(f"raw.{entity_id}.y", cb=ordinary)
        await nc.publish(f"raw.{entity_id}.x", b"boom")
        await nc.publish(f"raw.{entity_id}.x", b"fine")
        await nc.publish(f"raw.{entity_id}.y", b"plain", headers={"K": "v"})

        async def probe() -> tuple[int, int]:
            await nc.flush()
            return len(raw), len(got)

        await eventually(probe, lambda n: n == (1, 1), within_s=5.0)
        assert raw == [b"fine"]
        assert got[0].data == b"plain"
        assert got[0].headers == {"K": "v"}
    finally:
        await nc.close()
