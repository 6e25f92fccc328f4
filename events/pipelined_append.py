"""Appends pipelined by the batch: one publish per event, one settlement per batch.

The decision service logs every decision before it replies (a decision a client acts on must
be in the log). nats-py's ``publish_async`` does that one future per event: a semaphore, a
random token, a future with a done callback and, per acknowledgement, a parsed ``Msg``, a
queue hop, a task wake-up and a ``PubAck`` decoded from JSON. At 5,000 decisions/s that
bookkeeping was a large share of the actor's loop. Here the events of one batch (the
decisions of one policy pass, or one ``decide_batch``) are published with reply subjects
``<inbox>.<batch>.<index>`` on one raw subscription (:mod:`events.raw_delivery`); each
acknowledgement only marks its index, and the batch's one future resolves when every event is
acknowledged or refused. Each event is still its own message with its own ``Nats-Msg-Id``, so
the log, its deduplication and every reader are unchanged. (:meth:`events.log.EventLog.append_many`
keeps ``publish_async``: its callers need each event's sequence, which this path never parses.)

Why not JetStream's atomic batch publish (ADR-50, ``allow_atomic``): on this machine's
nats-server 2.15.1 with file storage a committed batch took p50 4.9 ms for 1 event and 26 ms for
100 (pipelined here: 0.5 and 5.6 ms; on a memory stream both are close), so the commit waits for
the disk; and a batch holding one already-logged ``Nats-Msg-Id`` (a client's retry with its
``request_id``) is refused whole (err_code 10201). ``scripts/bench_atomic_batch.py`` measures it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Final

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from events.codec import encode
from events.raw_delivery import status_of, subscribe_raw, unsubscribe_raw
from events.raw_publish import header_block, publish_now
from events.schema import Event, subject_of

MSG_ID: Final = "Nats-Msg-Id"
EXPECTED_STREAM: Final = "Nats-Expected-Stream"
NOT_ACKNOWLEDGED: Final = "no acknowledgement from the log in time"


class PendingAppend:
    """The appends of one batch; :attr:`done` resolves once each is acknowledged or refused."""

    __slots__ = ("batch", "done", "errors", "left", "timer")

    def __init__(self, batch: int, size: int, done: asyncio.Future[None]) -> None:
        self.batch = batch
        self.left = size
        self.errors: list[str | None] = [NOT_ACKNOWLEDGED] * size
        """Per event: None once the log acknowledged it, else why it is not (yet) logged."""
        self.done = done
        self.timer: asyncio.TimerHandle | None = None

    def first_error(self) -> str | None:
        return next((error for error in self.errors if error is not None), None)


class PipelinedAppender:
    """Publishes batches of events to one stream and settles each batch as a whole."""

    def __init__(self, nc: Client, stream: str) -> None:
        self.nc = nc
        self.stream = stream
        self._prefix = nc.new_inbox()
        self._sub: Subscription | None = None
        self._pending: dict[int, PendingAppend] = {}
        self._next = 0
        self._publishing: set[asyncio.Task[None]] = set()
        """Tasks publishing what ``publish_now`` could not take (see :meth:`submit`)."""

    async def start(self) -> None:
        self._sub = await subscribe_raw(self.nc, f"{self._prefix}.*.*", self._on_ack)

    async def stop(self) -> None:
        for task in list(self._publishing):
            task.cancel()
        if self._sub is not None:
            sub, self._sub = self._sub, None
            await unsubscribe_raw(self.nc, sub)
        for pending in self._pending.values():
            if pending.timer is not None:
                pending.timer.cancel()
            if not pending.done.done():
                pending.done.set_result(None)
        self._pending.clear()

    def append(self, events: Sequence[Event], *, within_s: float | None = None) -> PendingAppend:
        """:meth:`submit` for events not encoded yet."""
        return self.submit([(event, encode(event)) for event in events], within_s=within_s)

    def submit(
        self, events: Sequence[tuple[Event, bytes]], *, within_s: float | None = None
    ) -> PendingAppend:
        """Publish encoded ``events`` (each with its event id as ``Nats-Msg-Id``) without
        awaiting anything, so a plain callback can call it (the decision pass); await the
        returned batch's ``done`` before trusting it. With ``within_s`` the batch settles
        itself after that long (``done`` resolves, unacknowledged events stay errors); without
        it, wait with a timeout and :meth:`settle` it.

        The events go onto the connection's outgoing buffer now; any that nats-py must take
        through its own ``publish`` (reconnecting, buffer full) are published by a task, in
        order, after them. Either way ``done`` resolves the same way.
        """
        if self._sub is None:
            raise RuntimeError("the appender is not started")
        self._next += 1
        batch = self._next
        loop = asyncio.get_running_loop()
        pending = PendingAppend(batch, len(events), loop.create_future())
        self._pending[batch] = pending
        if within_s is not None:
            # One timer per batch, cancelled by its last ack: cheaper than asyncio.wait's
            # waiter, callbacks and timer for each wait.
            pending.timer = loop.call_later(within_s, self._expire, pending)
        prefix = f"{self._prefix}.{batch}."
        for index, (event, data) in enumerate(events):
            subject, reply = subject_of(event), f"{prefix}{index}"
            headers = {MSG_ID: event.event_id, EXPECTED_STREAM: self.stream}
            block = header_block(headers)
            if block is None or not publish_now(self.nc, subject, data, reply=reply, headers=block):
                rest = [
                    (i, subject_of(e), d, e.event_id)
                    for i, (e, d) in enumerate(events[index:], start=index)
                ]
                task = loop.create_task(self._publish_rest(pending, rest))
                self._publishing.add(task)
                task.add_done_callback(self._publishing.discard)
                break
        return pending

    async def _publish_rest(
        self, pending: PendingAppend, rest: list[tuple[int, str, bytes, str]]
    ) -> None:
        """Publish through nats-py; an event it refuses (and those after it) is an error that
        says so, while the acknowledgements of those published before still count."""
        prefix = f"{self._prefix}.{pending.batch}."
        for position, (index, subject, data, event_id) in enumerate(rest):
            headers = {MSG_ID: event_id, EXPECTED_STREAM: self.stream}
            try:
                await self.nc.publish(subject, data, reply=f"{prefix}{index}", headers=headers)
            except Exception as exc:
                for unsent, *_ in rest[position:]:
                    pending.errors[unsent] = f"not published: {exc!r}"
                pending.left -= len(rest) - position
                if pending.left == 0:
                    self._finish(pending)
                return

    def settle(self, pending: PendingAppend) -> None:
        """Stop waiting for ``pending``: acknowledgements arriving later are ignored, and its
        unacknowledged events stay errors (``NOT_ACKNOWLEDGED``)."""
        self._pending.pop(pending.batch, None)
        if pending.timer is not None:
            pending.timer.cancel()
            pending.timer = None

    def _expire(self, pending: PendingAppend) -> None:
        pending.timer = None
        self._finish(pending)

    def _on_ack(self, subject: bytes, _reply: bytes, data: bytes, headers: bytes) -> None:
        _, batch, index_text = subject.rsplit(b".", 2)
        pending = self._pending.get(int(batch))
        if pending is None:
            return  # settled already (timed out)
        index = int(index_text)
        if pending.errors[index] != NOT_ACKNOWLEDGED:
            return  # a second answer for the same append: the first one counts
        pending.errors[index] = _refusal(data, headers)
        pending.left -= 1
        if pending.left == 0:
            self._finish(pending)

    def _finish(self, pending: PendingAppend) -> None:
        """Every event of ``pending`` is acknowledged, refused or known unpublished."""
        self.settle(pending)
        if not pending.done.done():
            pending.done.set_result(None)


def _refusal(data: bytes, headers: bytes) -> str | None:
    """None for a publish acknowledgement, else what the server said instead."""
    if not data:
        status = status_of(headers)
        return "no stream answered (503 no responders)" if status == "503" else f"status {status}"
    if b'"error"' not in data:
        return None
    try:
        error = json.loads(data)["error"]
        return f"{error.get('description', 'refused')} (err_code {error.get('err_code')})"
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"unreadable acknowledgement: {data[:200]!r}"
