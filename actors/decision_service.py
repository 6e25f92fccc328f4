"""The hot path, served from inside the experiment's actor: decide, decide in batches, and take
outcomes for its own decisions.

Decisions never cross a Ray call: the actor subscribes to ``llmopt.decide.<experiment>`` itself
(queue group, so read-only replicas could join) and answers from its in-memory state. The
decisions of one policy pass (or one ``decide_batch``) are appended to the log as one message
(``DecisionMade`` alone, ``DecisionsMade`` together; :mod:`events.decision_batch`) and the
replies are sent once the log has acknowledged it, so every decision a client acts on is in the
audit trail; the subscription keeps taking requests meanwhile. Deciding never changes the
state: only the consumer loop's fold of outcomes does.

Outcomes come through the gateway (``llmopt.outcome``), which forwards each to the owning
actor on ``llmopt.internal.outcome.<experiment>``: only the actor knows whether the decision
exists (folded, or issued and not yet folded), so only it can answer "unknown decision".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import propagate, trace
from opentelemetry.trace import INVALID_SPAN, Link, Span

from actors.decider import (
    MAX_BATCH,
    DecideBatchRequest,
    DecideRequest,
    Decision,
    DecisionRefused,
    decide_many,
    decision_id_for,
)
from actors.experiment_ledger import ExperimentLedger
from actors.feature_cache import FeatureCache
from actors.window_feature_filler import WindowFeatureFiller
from events.codec import encode
from events.decision_batch import Packed, pack
from events.log import LOG_STREAM, MSG_ID
from events.pipelined_append import PendingAppend, PipelinedAppender
from events.raw_delivery import RawMsg, subscribe_raw, unsubscribe_raw
from events.schema import DecisionMade, OutcomeObserved, subject_of
from gateway.metrics import DECIDE_REQUESTS_DROPPED, DECISIONS_UNLOGGED, INFERENCE_LATENCY
from gateway.wire import RequestError, decode_request, encode_reply, is_msgpack
from llmopt.tracing import tracing_enabled

if TYPE_CHECKING:
    from actors.host import EntityHost

log = logging.getLogger("llmopt.decisions")
tracer = trace.get_tracer("llmopt.decisions")

DECIDE_PREFIX: Final = "llmopt.decide"
DECIDE_BATCH_PREFIX: Final = "llmopt.decide_batch"
OUTCOME_INTERNAL_PREFIX: Final = "llmopt.internal.outcome"
SERVING_PREFIX: Final = "llmopt.internal.serving"
"""The actor says "I answer this experiment's decisions" here, every ``HEARTBEAT_S``; the
gateway's stand-in answers with the fallback arm while these stop."""
HEARTBEAT_S: Final = 0.2
LOG_WAIT_S: Final = 1.0
"""How long a decision waits for the log's acknowledgement before the reply says
"unavailable": longer than any decide budget is useless to the caller."""
HEADER_ROOM: Final = 4096
"""Bytes of a message's ``max_payload`` left for its headers."""
ISSUED_CAPACITY: Final = 100_000
MAX_WAITING: Final = 65_536
"""Decide requests queued for the next policy pass beyond which new ones are dropped (nats-py's
default pending-message limit per subscription)."""

Request = Msg | RawMsg
"""A request to answer: nats-py's message or a raw one (both have data, headers, respond)."""
Logged = tuple[RawMsg, bool, float, DecideRequest, Decision]
"""A decision waiting for the log: its request, msgpack or not, arrival time, request, reply."""


class OutcomeReport(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a client reports after the call (``llmopt.outcome``)."""

    decision_id: str
    cost_usd: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    error: bool = False
    quality: float | None = None
    feedback: float | None = None
    reward: float | None = None
    """An application's own reward in the policy's range; overrides the composite reward."""
    at: float | None = None
    """When the outcome happened (Unix seconds); defaults to its arrival."""


def outcome_event(experiment: str, report: OutcomeReport) -> OutcomeObserved:
    """The event a report becomes; its id derives from the decision, so a resent report is
    deduplicated by the log."""
    return OutcomeObserved(
        event_id=f"outcome:{report.decision_id}",
        entity_id=experiment,
        at=report.at if report.at is not None else time.time(),
        decision_id=report.decision_id,
        reward=report.reward,
        quality=report.quality,
        cost_usd=report.cost_usd,
        input_tokens=report.input_tokens,
        output_tokens=report.output_tokens,
        latency_ms=report.latency_ms,
        error=report.error,
        feedback=report.feedback,
    )


class OutcomeAccepted(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    seq: int
    duplicate: bool = False


class BatchReply(msgspec.Struct, frozen=True):
    decisions: list[Decision]


class DecisionService:
    """Subscriptions of one experiment's actor; started once the actor has recovered."""

    def __init__(self, host: EntityHost, nc: Client) -> None:
        self.host = host
        self.nc = nc
        self.js = nc.jetstream()
        self.experiment = host.entity_id
        self._subs: list[Subscription] = []
        self._decide_sub: Subscription | None = None
        """Decide requests come raw (:mod:`events.raw_delivery`): no ``Msg``, queue or task hop
        each on the hottest path."""
        self._issued: collections.OrderedDict[str, None] = collections.OrderedDict()
        """Decisions answered but perhaps not folded yet, so their outcome is not "unknown"."""
        self._replies: set[asyncio.Task[None]] = set()
        self._waiting: list[tuple[RawMsg, float]] = []
        """Decide requests received and not yet decided (see :meth:`_decide`)."""
        self._latency = INFERENCE_LATENCY.labels(self.experiment)
        self._dropped_metric = DECIDE_REQUESTS_DROPPED.labels(self.experiment)
        self._unlogged_metric = DECISIONS_UNLOGGED.labels(self.experiment)
        self._filler: WindowFeatureFiller | None = None
        """Fills configured context fields from feature windows (None: none configured)."""
        self._heartbeat: asyncio.Task[None] | None = None
        self._dropped = 0
        self._appender = PipelinedAppender(nc, LOG_STREAM)
        """Logs the decisions: one message per policy pass or batch, one wait for it."""
        self._traced = False
        """Whether spans are built (:func:`llmopt.tracing.tracing_enabled`, asked at start)."""

    @property
    def ledger(self) -> ExperimentLedger:
        state = self.host.state
        assert isinstance(state, ExperimentLedger)
        return state

    async def start(self) -> None:
        self._traced = tracing_enabled()
        await self._start_filler()  # before the first request: features are there from then on
        await self._appender.start()
        queue = f"llmopt-decide-{self.experiment}"
        self._decide_sub = await subscribe_raw(
            self.nc, f"{DECIDE_PREFIX}.{self.experiment}", self._decide, queue=queue
        )
        self._subs = [
            await self.nc.subscribe(
                f"{DECIDE_BATCH_PREFIX}.{self.experiment}", queue, cb=self._decide_batch
            ),
            await self.nc.subscribe(
                f"{OUTCOME_INTERNAL_PREFIX}.{self.experiment}",
                queue,
                cb=self._dispatch_outcome,
            ),
        ]
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat())

    async def _start_filler(self) -> None:
        settings = self.ledger.settings
        if settings is None or not settings.window_features:
            return
        cache = FeatureCache(self.nc)
        await cache.start()
        self._filler = WindowFeatureFiller(cache, settings.window_features)

    async def _beat(self) -> None:
        subject = f"{SERVING_PREFIX}.{self.experiment}"
        while True:
            with contextlib.suppress(Exception):
                await self.nc.publish(subject, b"1")
            await asyncio.sleep(HEARTBEAT_S)

    async def stop(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        with contextlib.suppress(Exception):
            await self.nc.publish(f"{SERVING_PREFIX}.{self.experiment}", b"0")
        if self._decide_sub is not None:
            await unsubscribe_raw(self.nc, self._decide_sub)
            self._decide_sub = None
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs = []
        if self._filler is not None:
            await self._filler.cache.stop()
            self._filler = None
        await self._appender.stop()

    def _decide(self, _subject: bytes, reply: bytes, data: bytes, headers: bytes) -> None:
        """Queue the request; the requests that arrive together are decided together.

        Called from the connection's parser for each request of a read, so every request of
        that read is queued here before :meth:`_decide_waiting` (scheduled by the first of
        them) runs: under load a decision shares the policy pass, the log wait and the loop
        turn with its neighbours. Beyond ``MAX_WAITING`` queued requests the actor is
        overloaded and drops the request (as nats-py drops a slow consumer's messages): its
        client times out and may retry.
        """
        if len(self._waiting) >= MAX_WAITING:
            self._dropped += 1
            self._dropped_metric.inc()
            if self._dropped % 1000 == 1:
                log.error(
                    "decide requests dropped: the actor is overloaded",
                    extra={"experiment": self.experiment, "dropped": self._dropped},
                )
            return
        self._waiting.append((RawMsg(self.nc, reply, data, headers), time.perf_counter()))
        if len(self._waiting) == 1:
            asyncio.get_running_loop().call_soon(self._decide_waiting)

    def _decide_waiting(self) -> None:
        """One policy pass, as a plain callback rather than a task: the pass decides and
        publishes the log message, and :meth:`_reply_logged` answers once the log has
        acknowledged it. Measured with the actor's plumbing alone (``scripts/bench_floor.py``,
        three alternated runs each at 5,000 requests/s), a task per pass awaiting the
        acknowledgement used 53-55% of a core, these two callbacks 52-53%."""
        waiting, self._waiting = self._waiting, []
        span: Span = INVALID_SPAN
        if self._traced:
            # One span for the pass, linked to each request's trace (OpenTelemetry's way to
            # trace a batch: the pass belongs to every caller and is the child of none).
            span = tracer.start_span(
                "ml_inference",
                links=_links(msg for msg, _ in waiting),
                attributes={"llmopt.experiment": self.experiment, "llmopt.requests": len(waiting)},
            )
        try:
            with self._current(span):
                started = self._decide_now(waiting)
        except Exception as exc:
            self._fail_all(waiting, span, exc)
            return
        if started is None:
            span.end()
            return
        logged, packed, pending = started
        pending.done.add_done_callback(lambda _: self._reply_logged(logged, packed, pending, span))

    def _decide_now(
        self, waiting: list[tuple[RawMsg, float]]
    ) -> tuple[list[Logged], list[Packed], PendingAppend] | None:
        """Decode, decide and start logging the pass's decisions; answers the requests that
        fail on the way. None when nothing is left to log."""
        accepted: list[tuple[RawMsg, bool, float]] = []
        requests: list[DecideRequest] = []
        with self._span("feature_fetch"):
            for msg, arrived in waiting:
                packed = is_msgpack(msg.headers)
                try:
                    requests.append(decode_request(msg.data, DecideRequest, msgpack=packed))
                except RequestError as exc:
                    self._respond_now(msg, exc.reply(), packed)
                    continue
                accepted.append((msg, packed, arrived))
            requests = self._filled(requests)
        if not requests:
            return None
        results = self._decide_all(requests)
        logged: list[Logged] = []
        events: list[DecisionMade] = []
        for (msg, packed, arrived), request, result in zip(
            accepted, requests, results, strict=True
        ):
            if isinstance(result, DecisionRefused):
                self._respond_now(msg, _refusal(result).reply(), packed)
                continue
            decision, event = result
            logged.append((msg, packed, arrived, request, decision))
            events.append(event)
        if not logged:
            return None
        messages, pending = self._submit(events)
        return logged, messages, pending

    def _reply_logged(
        self, logged: list[Logged], messages: list[Packed], pending: PendingAppend, span: Span
    ) -> None:
        """Answer the pass's requests once the log has settled its message(s)."""
        try:
            errors = _errors_by_decision(messages, pending, len(logged))
            with self._current(span), self._span("result_serialize"):
                for index, (msg, packed, arrived, request, decision) in enumerate(logged):
                    answer = self._answer_if_logged(errors[index], decision, [decision.decision_id])
                    self._respond_now(msg, answer, packed)
                    elapsed = time.perf_counter() - arrived
                    self._latency.observe(elapsed)
                    if log.isEnabledFor(logging.DEBUG):
                        log.debug(
                            "decision",
                            extra={
                                "experiment": self.experiment,
                                "decision_id": decision.decision_id,
                                "request_id": request.request_id,
                                "model_id": decision.model or decision.arm,
                                "arm": decision.arm,
                                "latency_ms": round(elapsed * 1e3, 3),
                            },
                        )
        except Exception as exc:
            self._fail_all([(msg, arrived) for msg, _, arrived, _, _ in logged], span, exc)
            return
        span.end()

    def _fail_all(self, waiting: list[tuple[RawMsg, float]], span: Span, exc: Exception) -> None:
        """A bug in the pass: log it and tell each request, instead of leaving it to time out."""
        log.error(
            "decision pass failed",
            exc_info=exc,
            extra={"experiment": self.experiment, "requests": len(waiting)},
        )
        span.record_exception(exc)
        span.end()
        answer = RequestError("internal", "the decision service failed on this request").reply()
        for msg, _ in waiting:
            with contextlib.suppress(Exception):
                self._respond_now(msg, answer, is_msgpack(msg.headers))

    def _submit(self, events: list[DecisionMade]) -> tuple[list[Packed], PendingAppend]:
        """Start appending the decisions: one message for those made together
        (:mod:`events.decision_batch`), one publish, one store and one acknowledgement for a
        whole ``decide_batch``."""
        messages = pack(events, at=time.time(), max_bytes=self.nc.max_payload - HEADER_ROOM)
        pending = self._appender.submit([(p.event, p.data) for p in messages], within_s=LOG_WAIT_S)
        return messages, pending

    async def _log(self, events: list[DecisionMade]) -> list[str | None]:
        """Append the decisions and wait (at most ``LOG_WAIT_S``) until the log acknowledged
        or refused them; returns, per decision, None once it is logged, else why not."""
        messages, pending = self._submit(events)
        await pending.done
        return _errors_by_decision(messages, pending, len(events))

    def _respond_now(self, msg: Request, reply: Any, packed: bool) -> None:
        """Answer without awaiting; nats-py's own publish (in a task) when it must do more
        than buffer the reply (:func:`events.raw_publish.publish_now`)."""
        if not msg.reply:
            return
        data = encode_reply(reply, msgpack=packed)
        if isinstance(msg, RawMsg) and msg.respond_now(data):
            return
        self._spawn(msg.respond(data))

    def _current(self, span: Span) -> AbstractContextManager[Any]:
        """``span`` as the current span (the parent of the pass's child spans), when traced."""
        return trace.use_span(span, end_on_exit=False) if self._traced else _UNTRACED

    async def _decide_batch(self, msg: Msg) -> None:
        """One task per batch, so the subscription takes the next batch while this one waits
        for the log (nats-py awaits a subscription's callbacks one at a time)."""
        self._spawn(self._decide_batch_traced(msg))

    async def _decide_batch_traced(self, msg: Msg) -> None:
        if not self._traced:
            await self._decide_batch_now(msg)
            return
        with tracer.start_as_current_span(
            "ml_inference",
            context=propagate.extract(msg.headers) if msg.headers else None,
            attributes={"llmopt.experiment": self.experiment, "llmopt.batch": True},
        ):
            await self._decide_batch_now(msg)

    async def _decide_batch_now(self, msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        try:
            batch = decode_request(msg.data, DecideBatchRequest, msgpack=packed)
            if not batch.requests or len(batch.requests) > MAX_BATCH:
                raise RequestError(
                    "invalid_request",
                    f"a batch holds 1 to {MAX_BATCH} requests, got {len(batch.requests)}",
                    "requests",
                )
            with self._span("feature_fetch"):
                requests = self._filled(batch.requests)
            results = self._decide_all(requests)
            decided = []
            for i, result in enumerate(results):
                if isinstance(result, DecisionRefused):
                    field = f"requests[{i}].{result.field}" if result.field else f"requests[{i}]"
                    raise RequestError(result.code, result.message, field)
                decided.append(result)
        except RequestError as exc:
            await _respond(msg, exc.reply(), packed)
            return
        # Only a batch decided whole is logged: a refused request logs none of it.
        errors = await self._log([event for _, event in decided])
        decisions = [decision for decision, _ in decided]
        ids = [decision.decision_id for decision in decisions]
        error = next((error for error in errors if error is not None), None)
        answer = self._answer_if_logged(error, BatchReply(decisions), ids)
        await _respond(msg, answer, packed)

    def _filled(self, requests: list[DecideRequest]) -> list[DecideRequest]:
        filler = self._filler
        return requests if filler is None else [filler.fill(r) for r in requests]

    def _decide_all(
        self, requests: list[DecideRequest]
    ) -> list[tuple[Decision, DecisionMade] | DecisionRefused]:
        ids = [decision_id_for(self.experiment, r.request_id) for r in requests]
        with self._span("model_predict") as span:
            span.set_attribute("llmopt.decisions", len(requests))
            return decide_many(self.ledger, requests, decision_ids=ids, now=time.time())

    def _span(self, name: str) -> AbstractContextManager[Span]:
        """A child span of the pass, or nothing to build when tracing is off."""
        return tracer.start_as_current_span(name) if self._traced else _UNTRACED

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    def _answer_if_logged(self, error: str | None, reply: Any, decision_ids: list[str]) -> Any:
        """The reply once the log holds the decisions (only then can their outcomes be
        reported), else "unavailable": a retry with the same request id is the same decision."""
        if error is not None:
            self._unlogged_metric.inc(len(decision_ids))
            log.error("decision not logged", extra={"experiment": self.experiment, "error": error})
            return RequestError(
                "unavailable", "the decision could not be logged; retry with the same request_id"
            ).reply()
        for decision_id in decision_ids:
            self._issued[decision_id] = None
        while len(self._issued) > ISSUED_CAPACITY:
            self._issued.popitem(last=False)
        return reply

    async def _dispatch_outcome(self, msg: Msg) -> None:
        """Outcomes are independent (the log orders them): one task each, so a slow append
        does not hold up the next report (nats-py awaits callbacks one at a time)."""
        self._spawn(self._outcome(msg))

    async def _outcome(self, msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        try:
            report = decode_request(msg.data, OutcomeReport, msgpack=packed)
            reply = await self._record(report)
        except RequestError as exc:
            await _respond(msg, exc.reply(), packed)
            return
        await _respond(msg, reply, packed)

    async def _record(self, report: OutcomeReport) -> OutcomeAccepted:
        ledger = self.ledger
        already_joined = report.decision_id in ledger.resolved
        known = (
            already_joined
            or report.decision_id in ledger.pending
            or report.decision_id in ledger.resolved
            or report.decision_id in self._issued
        )
        if not known:
            raise RequestError(
                "unknown_decision",
                f"no decision {report.decision_id!r} in experiment {self.experiment!r} "
                "(never made, or older than the pending window)",
                "decision_id",
            )
        event = outcome_event(self.experiment, report)
        ack = await self.js.publish(
            subject_of(event), encode(event), stream=LOG_STREAM, headers={MSG_ID: event.event_id}
        )
        duplicate = bool(ack.duplicate) or already_joined
        return OutcomeAccepted(ok=True, seq=int(ack.seq), duplicate=duplicate)


_UNTRACED: Final = contextlib.nullcontext(INVALID_SPAN)


def _links(msgs: Iterable[Request]) -> list[Link]:
    """Links to the traces of the requests that carry one (W3C ``traceparent`` header)."""
    links = []
    for msg in msgs:
        if msg.headers and "traceparent" in msg.headers:
            context = trace.get_current_span(propagate.extract(msg.headers)).get_span_context()
            if context.is_valid:
                links.append(Link(context))
    return links


def _errors_by_decision(
    messages: list[Packed], pending: PendingAppend, decisions: int
) -> list[str | None]:
    """Per decision: None once the log holds its message, else why not."""
    errors: list[str | None] = [None] * decisions
    for message, error in zip(messages, pending.errors, strict=True):
        if error is not None:
            errors[message.first : message.stop] = [error] * (message.stop - message.first)
    return errors


def _refusal(refused: DecisionRefused) -> RequestError:
    return RequestError(refused.code, refused.message, refused.field)


async def _respond(msg: Request, reply: Any, packed: bool) -> None:
    if msg.reply:
        await msg.respond(encode_reply(reply, msgpack=packed))
