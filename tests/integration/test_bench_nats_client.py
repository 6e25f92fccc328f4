"""The benchmark's raw NATS client against a real nats-server: handshake, request-reply with a
nats-py responder, many replies per read, the no-responders status and a refused subscription."""

from __future__ import annotations

from typing import Any

import pytest

from scripts.bench_nats_client import NatsServerError, NoResponders, connect
from tests.waiting import eventually


async def test_requests_are_answered_by_a_nats_py_responder(nc: Any, entity_id: str) -> None:
    """A raw request reaches a nats-py subscriber and its reply comes back as the payload."""

    async def echo(msg: Any) -> None:
        await msg.respond(b"re:" + msg.data)

    sub = await nc.subscribe(f"bench.echo.{entity_id}", cb=echo)
    await nc.flush()
    client = await connect(nc.connected_url.geturl(), name="bench-client-test")
    try:
        subject = f"bench.echo.{entity_id}".encode()
        assert await client.request(subject, b"hello", within_s=5.0) == b"re:hello"
        assert client.read_at > 0
    finally:
        await client.close()
        await sub.unsubscribe()


async def test_a_burst_of_publishes_comes_back_whole_and_in_order(nc: Any, entity_id: str) -> None:
    """2,000 publishes written in one go to the client's own wildcard arrive intact, in order."""
    client = await connect(nc.connected_url.geturl(), name="bench-client-test")
    got: list[tuple[bytes, bytes]] = []
    try:
        client.subscribe(f"burst.{entity_id}.*".encode(), lambda s, p, h: got.append((s, p)))
        await client.flush()
        sent = [(f"burst.{entity_id}.{i}".encode(), b"x" * (i % 700)) for i in range(2_000)]
        for subject, payload in sent:
            client.publish(subject, payload)

        async def count() -> int:
            await client.flush()
            return len(got)

        await eventually(count, lambda n: n == len(sent))
        assert got == sent
    finally:
        await client.close()


async def test_a_request_nobody_serves_raises_no_responders(nc: Any, entity_id: str) -> None:
    """With no subscriber the server's 503 status ends the request at once with NoResponders."""
    client = await connect(nc.connected_url.geturl(), name="bench-client-test")
    try:
        with pytest.raises(NoResponders):
            await client.request(f"nobody.{entity_id}".encode(), b"{}", within_s=5.0)
    finally:
        await client.close()


async def test_a_subscription_the_server_refuses_fails_the_client(nc: Any) -> None:
    """An invalid subject draws -ERR, which the next flush raises as NatsServerError."""
    client = await connect(nc.connected_url.geturl(), name="bench-client-test")
    try:
        client.subscribe(b"bad..subject", lambda s, p, h: None)
        with pytest.raises(NatsServerError, match="Invalid Subject"):
            await client.flush(within_s=5.0)
        assert client.server_errors == ["Invalid Subject"]
    finally:
        await client.close()
