"""A lean pull-consumer client: pull requests on one inbox, each delivered message handed to a
synchronous handler as it arrives.

Why not nats-py's ``PullSubscription.fetch``: it awaits every message through ``wait_for`` and
parses its metadata into objects, which caps a Python process at ~15,000 events/s here, below
the replay target. Handing raw ``(seq, subject, data)`` to a synchronous handler from the
subscription callback reaches ~70,000/s including decode and fold (scripts/bench_runtime.py).
It also means a live actor applies an event the moment it arrives, not when a batch fills.

One request is outstanding at a time. Deliveries arrive on the subscription with their
original subject (the reply is the ack subject that carries the stream sequence); status
messages (404 no messages, 408 expired) arrive on the request's own reply subject
(``<inbox>.<n>``), so a late status of an abandoned request cannot end the current one. A late
delivery of an abandoned request is still handed over in order and counted to the current one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from events.raw_delivery import status_of, subscribe_raw, unsubscribe_raw

Handler = Callable[[int, str, bytes], None]
"""Called with (stream sequence, subject, payload) for every delivered message, in order."""

STATUS_NO_MESSAGES: Final = "404"
STATUS_REQUEST_TIMEOUT: Final = "408"
STATUS_HEARTBEAT: Final = "100"


def client_of(js: Any) -> Client:
    """The core connection under a JetStream context; nats-py has no public accessor for it."""
    client: Client = js._nc
    return client


def stream_seq_from_reply(reply: str) -> int:
    """The stream sequence in a JetStream ack subject (both the v1 and the v2 layout).

    v1: ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>`` (9 tokens);
    v2 adds domain and account hash after ``ACK`` and a random token at the end (12 tokens).
    """
    tokens = reply.split(".")
    if len(tokens) == 9:
        return int(tokens[5])
    if len(tokens) >= 11:
        return int(tokens[7])
    raise ValueError(f"not a JetStream ack subject: {reply!r}")


class _Request:
    __slots__ = ("delivered", "done", "status", "wanted")

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.delivered = 0
        self.status: str | None = None
        self.done = asyncio.Event()


class PullConsumer:
    """Drives one existing JetStream pull consumer (which must use ``ack_policy: none``)."""

    def __init__(self, nc: Client, stream: str, consumer: str, handler: Handler) -> None:
        self.nc = nc
        self.stream = stream
        self.consumer = consumer
        self.handler = handler
        self._inbox = nc.new_inbox()
        self._sub: Subscription | None = None
        self._requests: dict[str, _Request] = {}
        self._current: _Request | None = None
        self._next = 0
        self.failure: BaseException | None = None
        """The handler's first exception; later deliveries are dropped and ``pull`` raises it."""

    async def start(self) -> None:
        self._sub = await subscribe_raw(self.nc, f"{self._inbox}.*", self._on_msg)

    async def close(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await unsubscribe_raw(self.nc, sub)

    async def pull(self, batch: int, *, wait_s: float | None = None) -> int:
        """Ask for up to ``batch`` messages and return how many this request delivered.

        ``wait_s=None`` returns as soon as the server has nothing more (catch-up); otherwise the
        request lingers up to ``wait_s`` seconds for new messages (following the log), each one
        handed over on arrival. A request that gets no answer at all (server restarting) ends
        after ``wait_s`` plus a margin, delivering what it delivered.
        """
        self._next += 1
        reply = f"{self._inbox}.{self._next}"
        request = _Request(batch)
        self._requests[reply] = request
        self._current = request
        body: dict[str, Any] = {"batch": batch}
        if wait_s is None:
            body["no_wait"] = True
            deadline = 5.0
        else:
            body["expires"] = int(wait_s * 1e9)
            deadline = wait_s + 2.0
        try:
            await self.nc.publish(
                f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}",
                json.dumps(body).encode(),
                reply=reply,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(request.done.wait(), deadline)
            if self.failure is not None:
                raise self.failure
            return request.delivered
        finally:
            self._requests.pop(reply, None)
            self._current = None

    def _on_msg(self, subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        """Called from the connection's parser (see :mod:`events.raw_delivery`)."""
        if not reply:
            status = status_of(headers)
            request = self._requests.get(subject.decode())
            if request is not None and status != STATUS_HEARTBEAT:
                request.status = status
                request.done.set()
            return
        current = self._current
        if self.failure is not None:
            return
        try:
            self.handler(stream_seq_from_reply(reply.decode()), subject.decode(), data)
        except Exception as exc:
            self.failure = exc
            if current is not None:
                current.done.set()
            return
        if current is not None:
            current.delivered += 1
            if current.delivered >= current.wanted:
                current.done.set()
