"""The I/O shell around one aggregate: recover, follow the log, checkpoint.

Recovery = the newest valid checkpoint, then every event of the entity after its sequence,
read through the entity's durable pull consumer, which then keeps delivering new events.
Events are applied only here, one at a time, in log order: Ray method calls may run
concurrently and out of order, so they only read.

The consumer is recreated at every recovery to start right after the checkpoint; it is
durable so that it outlives a NATS server restart and exposes this actor's lag to operators.
Its acknowledgements are not used (ack policy none): the position that matters is the one
stored with the checkpoint, not the consumer's ack floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import api
from opentelemetry import trace

from actors.aggregate import Aggregate
from actors.checkpoint import CheckpointStore, make_checkpoint
from actors.registry import APPENDED_HOOKS, SERVICES
from events.codec import decode
from events.errors import ConcurrencyConflict
from events.log import LOG_STREAM, EventLog
from events.pull_consumer import PullConsumer
from events.schema import CheckpointTaken
from events.subjects import entity_subject
from gateway.actor_metrics import publish_forever
from gateway.connection import connect
from gateway.metrics import DERIVED_EVENTS, TRAINING_UPDATE_LATENCY
from llmopt.settings import Settings

log = logging.getLogger("llmopt.actor")
tracer = trace.get_tracer("llmopt.actors")


class HostStatus(msgspec.Struct, frozen=True, kw_only=True):
    """What an actor reports about itself; read by the directory, the CLI and tests."""

    kind: str
    entity_id: str
    seq: int
    """Last log sequence folded into the state."""
    digest: str
    ready: bool
    """True once recovery has caught up with the log head seen at start."""
    recoveries: int
    recovered_from_seq: int
    """Sequence of the checkpoint the last recovery started from (0: full replay)."""
    checkpoints_skipped: int
    checkpoints_taken: int
    checkpoints_failed: int
    last_checkpoint_seq: int
    pid: int
    summary: dict[str, Any]


def consumer_name(kind: str, entity_id: str) -> str:
    return f"actor-{kind}-{entity_id}"


class EntityHost:
    """Runs one aggregate against the log until stopped."""

    def __init__(
        self, settings: Settings, aggregate_cls: type[Aggregate], entity_id: str, nats_url: str
    ) -> None:
        self.settings = settings
        self.cls = aggregate_cls
        self.kind = aggregate_cls.KIND
        self.entity_id = entity_id
        self.nats_url = nats_url
        self.state: Aggregate = aggregate_cls.initial(entity_id)
        self.seq = 0
        self.ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self._nc: Client | None = None
        self._recoveries = 0
        self._recovered_from = 0
        self._skipped = 0
        self._taken = 0
        self._last_checkpoint_seq = 0
        self._since_checkpoint = 0
        self._last_checkpoint_time = time.monotonic()
        self._checkpoint_subject_seq: int | None = None
        self._service: Any = None
        """The kind's request handlers (e.g. decisions), served only while ready."""
        self._store: CheckpointStore | None = None
        self._failed_checkpoints = 0
        self._saving: asyncio.Task[None] | None = None
        """The checkpoint being stored, if any (see :meth:`_start_checkpoint`)."""
        self._fold_s = 0.0
        """Time spent decoding and folding the events of the current pull."""
        self._fold_latency = TRAINING_UPDATE_LATENCY.labels(self.kind, entity_id)
        self._metrics_task: asyncio.Task[None] | None = None
        self._outbox_sent: set[str] = set()
        """Derived events appended in this run and not yet folded back."""

    async def _start_service(self) -> None:
        factory = SERVICES.get(self.kind)
        if factory is None or self._nc is None:
            self._service = False
            return
        self._service = factory(self, self._nc)
        await self._service.start()
        log.info("serving", extra={"kind": self.kind, "entity_id": self.entity_id})

    async def _stop_service(self) -> None:
        service, self._service = self._service, None
        if service:
            with contextlib.suppress(Exception):
                await service.stop()

    def status(self) -> HostStatus:
        return HostStatus(
            kind=self.kind,
            entity_id=self.entity_id,
            seq=self.seq,
            digest=self.state.digest(),
            ready=self.ready.is_set(),
            recoveries=self._recoveries,
            recovered_from_seq=self._recovered_from,
            checkpoints_skipped=self._skipped,
            checkpoints_taken=self._taken,
            checkpoints_failed=self._failed_checkpoints,
            last_checkpoint_seq=self._last_checkpoint_seq,
            pid=os.getpid(),
            summary=_summary(self.state),
        )

    async def run(self) -> None:
        """Recover and follow the log; after an unexpected error, recover again."""
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "actor loop failed; recovering again",
                    extra={"kind": self.kind, "entity_id": self.entity_id, "seq": self.seq},
                )
                self.ready.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, 5.0)
        await self._close()

    async def stop(self, *, checkpoint: bool = True) -> None:
        """Stop following the log, after a final checkpoint when asked."""
        if checkpoint and self._nc is not None and self._since_checkpoint > 0:
            with contextlib.suppress(Exception):
                await self._checkpoint(EventLog(self._nc.jetstream()))
        await self._stop_service()
        self._stopping.set()

    async def _close(self) -> None:
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            self._metrics_task = None
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.close()
            self._nc = None

    async def _run_once(self) -> None:
        if self._nc is None or self._nc.is_closed:
            self._nc = await connect(
                self.settings, url=self.nats_url, name=f"actor {self.kind}/{self.entity_id}"
            )
        if self._metrics_task is None:
            self._metrics_task = asyncio.get_running_loop().create_task(
                publish_forever(self._nc, self.kind, self.entity_id)
            )
        js = self._nc.jetstream()
        event_log = EventLog(js)
        store = self._store = CheckpointStore(js)
        with tracer.start_as_current_span(
            "actor_recovery", attributes={"kind": self.kind, "entity_id": self.entity_id}
        ):
            started = time.perf_counter()
            loaded = await store.load_newest_valid(
                self.kind, self.entity_id, self.cls.STATE_VERSION
            )
            if loaded.checkpoint is not None:
                self.state = self.cls.from_bytes(loaded.checkpoint.state)
                self.seq = loaded.checkpoint.seq
                self._last_checkpoint_seq = self.seq
            else:
                self.state = self.cls.initial(self.entity_id)
                self.seq = 0
            self._recoveries += 1
            self._recovered_from = self.seq
            self._skipped += loaded.skipped
            self._since_checkpoint = 0
            head = await event_log.head_seq()
            pending = await self._create_consumer(js)
        log.info(
            "actor recovering",
            extra={
                "kind": self.kind,
                "entity_id": self.entity_id,
                "from_seq": self.seq,
                "log_head": head,
                "pending": pending,
                "checkpoints_skipped": loaded.skipped,
            },
        )
        consumer = PullConsumer(
            self._nc, LOG_STREAM, consumer_name(self.kind, self.entity_id), self._on_event
        )
        await consumer.start()
        try:
            if pending == 0:
                self._mark_ready(started)
            await self._follow(consumer, event_log, head, started)
        finally:
            await self._stop_service()
            await consumer.close()

    async def _create_consumer(self, js: Any) -> int:
        """(Re)create the durable consumer right after the recovered sequence; returns how many
        of the entity's events are pending for it."""
        durable = consumer_name(self.kind, self.entity_id)
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_consumer(LOG_STREAM, durable)
        info = await js.add_consumer(
            LOG_STREAM,
            api.ConsumerConfig(
                durable_name=durable,
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=self.seq + 1,
                ack_policy=api.AckPolicy.NONE,
                **_filter(self.cls.log_subjects(self.entity_id)),
                max_waiting=4,
            ),
        )
        return int(info.num_pending or 0)

    def _on_event(self, seq: int, subject: str, data: bytes) -> None:
        if seq <= self.seq:
            return  # delivered again after a reconnect: already folded
        started = time.perf_counter()
        event = decode(data)
        self.state.apply(event)
        self._fold_s += time.perf_counter() - started
        self.seq = seq
        if not isinstance(event, CheckpointTaken):
            self._since_checkpoint += 1

    def _mark_ready(self, started: float) -> None:
        if not self.ready.is_set():
            self.ready.set()
            log.info(
                "actor ready",
                extra={
                    "kind": self.kind,
                    "entity_id": self.entity_id,
                    "seq": self.seq,
                    "recovery_s": round(time.perf_counter() - started, 4),
                },
            )

    async def _follow(
        self, consumer: PullConsumer, event_log: EventLog, head: int, started: float
    ) -> None:
        batch, linger = self.settings.fetch_batch, self.settings.fold_linger_s
        busy = False
        while not self._stopping.is_set():
            catching_up = not self.ready.is_set()
            try:
                if catching_up:
                    delivered = await consumer.pull(batch, wait_s=None)
                elif busy and linger > 0:
                    # Under traffic, every delivery would be a wake-up of this process by
                    # nats-server: on this VM a loopback round trip between two processes
                    # costs ~25-30 us of CPU on each side (scripts/bench_floor.py), more than
                    # folding a decision. Taken every few ms, events come many to a read.
                    await asyncio.sleep(linger)
                    delivered = await consumer.pull(batch, wait_s=None)
                else:
                    # Idle: wait for the next event, and linger from the first one on.
                    delivered = await consumer.pull(1 if linger > 0 else batch, wait_s=1.0)
                busy = delivered > 0
                if delivered:
                    self._record_fold(delivered)
            except (
                nats.errors.ConnectionClosedError,
                nats.errors.ConnectionReconnectingError,
                nats.errors.OutboundBufferLimitError,
            ):
                # The client reconnects by itself; the durable consumer survives the outage.
                await asyncio.sleep(0.2)
                continue
            if catching_up and (self.seq >= head or delivered == 0):
                self._mark_ready(started)
            if self.ready.is_set() and self._service is None:
                await self._start_service()
            if self.ready.is_set():
                await self._send_outbox(event_log)
            if self._checkpoint_due():
                await self._start_checkpoint(event_log)

    async def _send_outbox(self, event_log: EventLog) -> None:
        """Append what the fold derived (drift alarms, an experiment's automatic actions).

        Only once caught up: during recovery the log may already hold them further on. Each
        is appended once per run (its id comes from its cause, so a restart that appends it
        again is dropped by the log) and stays in the state's outbox until folded back; a
        failed append is retried after the next batch.
        """
        outbox = self.state.outbox()
        pending = {event.event_id for event in outbox}
        self._outbox_sent &= pending
        for event in outbox:
            if event.event_id in self._outbox_sent:
                continue
            name = type(event).__name__
            try:
                with tracer.start_as_current_span(
                    "derived_event_append", attributes={"event": name}
                ):
                    appended = await event_log.append(event)
            except Exception as exc:
                log.warning(
                    "derived event not appended; retrying later",
                    extra={"kind": self.kind, "entity_id": self.entity_id, "error": repr(exc)},
                )
                return
            self._outbox_sent.add(event.event_id)
            if appended.duplicate:
                continue
            DERIVED_EVENTS.labels(self.kind, name).inc()
            log.info(
                "derived event appended",
                extra={
                    "kind": self.kind,
                    "entity_id": self.entity_id,
                    "event_type": name,
                    "event_id": event.event_id,
                    "reason": getattr(event, "reason", ""),
                },
            )
            hook = APPENDED_HOOKS.get(type(event))
            if hook is not None:
                hook(event)

    def _record_fold(self, delivered: int) -> None:
        """Time and trace the fold of one pulled batch (``ml_training_update`` with its
        ``model_update``), from the time the handler spent on it; spans are made after the
        fact because the fold runs inside the consumer's callbacks, event by event."""
        fold_s, self._fold_s = self._fold_s, 0.0
        self._fold_latency.observe(fold_s)
        end = time.time_ns()
        start = end - int(fold_s * 1e9)
        span = tracer.start_span(
            "ml_training_update",
            start_time=start,
            attributes={"kind": self.kind, "entity_id": self.entity_id, "events": delivered},
        )
        with trace.use_span(span, end_on_exit=False):
            tracer.start_span("model_update", start_time=start).end(end_time=end)
        span.end(end_time=end)

    def _checkpoint_due(self) -> bool:
        if self._since_checkpoint == 0 or self._saving is not None:
            return False
        if self._since_checkpoint >= self.settings.checkpoint_every_events:
            return True
        elapsed = time.monotonic() - self._last_checkpoint_time
        return elapsed >= self.settings.checkpoint_every_seconds

    async def _start_checkpoint(self, event_log: EventLog) -> None:
        """Encode the state here, between two batches of the fold, and store it beside the
        fold: the digest, the bucket write and the audit record take milliseconds in which the
        actor keeps folding and deciding. One save is in flight at a time."""
        snapshot = self._snapshot()
        self._saving = asyncio.get_running_loop().create_task(self._save(event_log, *snapshot))

    async def _save(self, event_log: EventLog, seq: int, state: bytes) -> None:
        """A checkpoint that fails (too large for the server, a timeout under load) only costs a
        longer replay later: log it, count it and try again after the usual interval, rather
        than fail the loop into a recovery that would fail the same way."""
        try:
            await self._store_snapshot(event_log, seq, state)
        except Exception as exc:
            self._failed_checkpoints += 1
            self._since_checkpoint = 1  # due again, by time rather than on the next batch
            log.error(
                "checkpoint failed; state is kept in the log",
                extra={
                    "kind": self.kind,
                    "entity_id": self.entity_id,
                    "seq": seq,
                    "error": repr(exc),
                    "failures": self._failed_checkpoints,
                },
            )
        finally:
            self._saving = None

    def _snapshot(self) -> tuple[int, bytes]:
        """The state's bytes and the sequence they cover; restarts both checkpoint clocks."""
        self._since_checkpoint = 0
        self._last_checkpoint_time = time.monotonic()
        return self.seq, self.state.to_bytes()

    async def _checkpoint(self, event_log: EventLog) -> None:
        """Checkpoint now and wait for it (on stop), after any save already in flight."""
        if self._saving is not None:
            with contextlib.suppress(Exception):
                await self._saving
        await self._store_snapshot(event_log, *self._snapshot())

    async def _store_snapshot(self, event_log: EventLog, seq: int, state: bytes) -> None:
        assert self._nc is not None
        with tracer.start_as_current_span(
            "checkpoint_save",
            attributes={"kind": self.kind, "entity_id": self.entity_id, "seq": seq},
        ):
            checkpoint = await asyncio.to_thread(
                make_checkpoint, self.kind, self.entity_id, seq, self.cls.STATE_VERSION, state
            )
            if self._store is None:
                self._store = CheckpointStore(self._nc.jetstream())
            await self._store.save(checkpoint)
            self._last_checkpoint_seq = checkpoint.seq
            self._taken += 1
            await self._record_checkpoint(event_log, checkpoint.seq, checkpoint.digest)

    async def _record_checkpoint(self, event_log: EventLog, seq: int, digest: str) -> None:
        """Append CheckpointTaken as this entity's single writer of its checkpoint subject."""
        event = CheckpointTaken(
            event_id=f"checkpoint:{self.kind}:{self.entity_id}:{seq}",
            entity_id=self.entity_id,
            at=self.state_time(),
            kind=self.kind,
            seq=seq,
            digest=digest,
            state_version=self.cls.STATE_VERSION,
        )
        subject = entity_subject(self.kind, self.entity_id, CheckpointTaken.CHANNEL)
        for _attempt in range(2):
            if self._checkpoint_subject_seq is None:
                self._checkpoint_subject_seq = await event_log.last_subject_seq(subject)
            try:
                appended = await event_log.append(
                    event, expected_last_seq=self._checkpoint_subject_seq
                )
            except ConcurrencyConflict as conflict:
                # Another instance of this actor wrote here: refresh and retry once; the KV
                # checkpoint is valid either way, only the audit record needs the right order.
                log.warning(
                    "checkpoint record conflict",
                    extra={
                        "kind": self.kind,
                        "entity_id": self.entity_id,
                        "detail": conflict.detail,
                    },
                )
                self._checkpoint_subject_seq = None
                continue
            self._checkpoint_subject_seq = max(appended.seq, self._checkpoint_subject_seq)
            return

    def state_time(self) -> float:
        """Event time of the state: the newest event time folded, else 0."""
        watermark = getattr(self.state, "watermark", 0.0)
        return float(watermark)


def _filter(subjects: list[str]) -> dict[str, Any]:
    """One subject as ``filter_subject`` (as before), several as ``filter_subjects``
    (NATS >= 2.10)."""
    if len(subjects) == 1:
        return {"filter_subject": subjects[0]}
    return {"filter_subjects": subjects}


def _summary(state: Aggregate) -> dict[str, Any]:
    summary = getattr(state, "summary", None)
    return dict(summary()) if callable(summary) else {}
