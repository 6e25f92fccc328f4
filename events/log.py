"""The append-only event log: one JetStream stream, file storage, the source of truth.

Appends carry ``Nats-Msg-Id`` (the event id) so a retried or duplicated append is dropped by
the server, and optionally ``Nats-Expected-Last-Subject-Sequence`` so that a writer that has
not seen the latest event of its subject is refused instead of forking the history.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Sequence
from typing import Any, Final

import msgspec
import nats.js.errors
from nats.js import JetStreamContext, api

from events.codec import decode, encode
from events.errors import ConcurrencyConflict, LogUnavailable
from events.pull_consumer import PullConsumer, client_of
from events.schema import AnyEvent, Event, subject_of
from events.streams import ensure_stream
from events.subjects import LOG_SUBJECTS, entity_filter

LOG_STREAM: Final = "LLMOPT_LOG"
MSG_ID: Final = "Nats-Msg-Id"
EXPECTED_LAST_SUBJECT_SEQUENCE: Final = "Nats-Expected-Last-Subject-Sequence"
_WRONG_LAST_SEQUENCE: Final = 10071
"""JetStream's error code for a failed ``Nats-Expected-Last-Subject-Sequence`` check."""


class Appended(msgspec.Struct, frozen=True):
    """Where an append landed; ``duplicate`` means the log already held this event id."""

    seq: int
    duplicate: bool


class Recorded(msgspec.Struct, frozen=True):
    """An event as read back from the log, with its position."""

    seq: int
    subject: str
    event: AnyEvent


class EventLog:
    """Appends to and reads from the log stream. Holds no state besides the JetStream context."""

    def __init__(self, js: JetStreamContext, *, stream: str = LOG_STREAM, timeout: float = 5.0):
        self.js = js
        self.stream = stream
        self.timeout = timeout

    async def ensure(self, *, replicas: int = 1, duplicate_window_s: float = 600.0) -> None:
        """Create the stream, or bring its mutable settings up to date."""
        config = api.StreamConfig(
            name=self.stream,
            description="llm-auto-optimizer event log (source of truth)",
            subjects=[LOG_SUBJECTS],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            num_replicas=replicas,
            duplicate_window=duplicate_window_s,
            deny_delete=True,
            deny_purge=True,
            allow_direct=True,
        )
        await ensure_stream(self.js, config)

    async def append(self, event: Event, *, expected_last_seq: int | None = None) -> Appended:
        """Append one event and wait for the server's acknowledgement.

        ``expected_last_seq`` is the stream sequence of the last event on this event's subject
        that the writer has seen (0 for "none yet"). A mismatch raises
        :class:`ConcurrencyConflict` and appends nothing.
        """
        subject = subject_of(event)
        headers: dict[str, Any] = {MSG_ID: event.event_id}
        if expected_last_seq is not None:
            headers[EXPECTED_LAST_SUBJECT_SEQUENCE] = str(expected_last_seq)
        try:
            ack = await self.js.publish(
                subject, encode(event), timeout=self.timeout, stream=self.stream, headers=headers
            )
        except nats.js.errors.APIError as exc:
            if exc.err_code == _WRONG_LAST_SEQUENCE and expected_last_seq is not None:
                raise ConcurrencyConflict(subject, expected_last_seq, str(exc.description)) from exc
            raise
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
            raise LogUnavailable(
                f"no acknowledgement for {subject} within {self.timeout}s"
            ) from exc
        return Appended(seq=ack.seq, duplicate=bool(ack.duplicate))

    async def append_many(self, events: Sequence[Event]) -> list[Appended]:
        """Append events pipelined (``publish_async``), without per-subject checks.

        For events with many writers (decisions, outcomes) and bulk imports. Every event is
        acknowledged before this returns; a failure raises after the whole batch settled, and
        appending the batch again is safe because every append carries its event id.
        """
        futures = [
            await self.js.publish_async(
                subject_of(event),
                encode(event),
                stream=self.stream,
                headers={MSG_ID: event.event_id},
            )
            for event in events
        ]
        try:
            acks = await asyncio.wait_for(
                asyncio.gather(*futures), self.timeout + len(events) / 1000
            )
        except TimeoutError as exc:
            raise LogUnavailable(f"{len(events)} appends not all acknowledged in time") from exc
        return [Appended(seq=ack.seq, duplicate=bool(ack.duplicate)) for ack in acks]

    async def last_subject_seq(self, subject: str) -> int:
        """Sequence of the newest event on ``subject``, 0 when there is none."""
        try:
            msg = await self.js.get_last_msg(self.stream, subject)
        except nats.js.errors.NotFoundError:
            return 0
        return int(msg.seq or 0)

    async def head_seq(self) -> int:
        """Sequence of the newest event in the whole log."""
        info = await self.js.stream_info(self.stream)
        return int(info.state.last_seq)

    async def read(
        self,
        filter_subject: str | list[str],
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        batch: int = 1000,
    ) -> AsyncGenerator[list[Recorded], None]:
        """Yield the events on ``filter_subject`` (one subject or several) from ``from_seq`` on,
        in log order, in batches.

        Reading stops at the log's head as it was when the read began (or at ``to_seq``),
        so a read terminates even while writers keep appending.
        """
        head = to_seq if to_seq is not None else await self.head_seq()
        if from_seq > head:
            return
        info = await self.js.add_consumer(
            self.stream,
            api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=max(from_seq, 1),
                ack_policy=api.AckPolicy.NONE,
                **(
                    {"filter_subject": filter_subject}
                    if isinstance(filter_subject, str)
                    else {"filter_subjects": filter_subject}
                ),
                inactive_threshold=30.0,
                mem_storage=True,
            ),
        )
        chunk: list[Recorded] = []

        def collect(seq: int, subject: str, data: bytes) -> None:
            if seq <= head:
                chunk.append(Recorded(seq, subject, decode(data)))

        consumer = PullConsumer(client_of(self.js), self.stream, info.name, collect)
        await consumer.start()
        try:
            # The consumer's pending count at creation is how many matching events exist now,
            # so the read knows when it is done without waiting for a request to expire.
            remaining = info.num_pending or 0
            while remaining > 0:
                delivered = await consumer.pull(min(batch, remaining))
                remaining -= delivered
                if chunk:
                    out, chunk = chunk, []
                    yield out
                    if out[-1].seq >= head:
                        return
                elif delivered == 0:
                    return
        finally:
            await consumer.close()
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.stream, info.name)

    async def read_entity(
        self,
        kind: str,
        entity_id: str,
        *,
        from_seq: int = 1,
        to_seq: int | None = None,
        batch: int = 1000,
    ) -> AsyncGenerator[list[Recorded], None]:
        """Every event of one entity, in log order, in batches."""
        async for chunk in self.read(
            entity_filter(kind, entity_id), from_seq=from_seq, to_seq=to_seq, batch=batch
        ):
            yield chunk
