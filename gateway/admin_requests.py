"""What every admin service shares: answering a request, and deciding-then-appending an event
against the entity's history with optimistic concurrency.

An admin request is decided on the entity's lifecycle as the log tells it (a pure function of
the history and the request), and its event is appended with the sequence that history ended
at: if another writer got there first the append is refused and the request is decided again
on the newer history. A request retried with the same ``request_id`` derives the same event
id, which the decision recognises in the history (:class:`AlreadyApplied`): the client gets
the first append's sequence, not a second event.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final, Protocol, TypeVar

from nats.aio.msg import Msg
from opentelemetry import trace

from events.dead_letter import DeadLetterLog
from events.errors import ConcurrencyConflict
from events.log import EventLog
from events.schema import Event
from gateway.metrics import ADMIN_REQUESTS
from gateway.refusals import record_refusal
from gateway.wire import RequestError, encode_reply, is_msgpack

log = logging.getLogger("llmopt.admin")
tracer = trace.get_tracer("llmopt.gateway")

ADMIN_PREFIX: Final = "llmopt.admin"
CONFLICT_RETRIES: Final = 3


class AlreadyApplied(Exception):
    """The request's event is in the log already (a client retry): answer with its sequence."""

    def __init__(self, seq: int) -> None:
        super().__init__(seq)
        self.seq = seq


class History(Protocol):
    last_seq: int
    """The entity's last log sequence: the expected sequence of the next append."""


S = TypeVar("S", bound=History)


async def decide_and_append(
    event_log: EventLog,
    read: Callable[[], Awaitable[S]],
    decide: Callable[[S], Event],
    *,
    entity: str,
) -> tuple[int, bool]:
    """Read the history, decide the event, append it expecting that history; again on a
    conflict. Returns ``(seq, duplicate)``; ``RequestError("conflict")`` if the entity kept
    changing under :data:`CONFLICT_RETRIES` attempts."""
    for _attempt in range(CONFLICT_RETRIES):
        state = await read()
        try:
            event = decide(state)
        except AlreadyApplied as done:
            return done.seq, True
        try:
            appended = await event_log.append(event, expected_last_seq=state.last_seq)
        except ConcurrencyConflict:
            continue  # decide again on the newer history
        log.info(
            "admin event appended",
            extra={
                "event_type": type(event).__name__,
                "entity_id": event.entity_id,
                "seq": appended.seq,
                "duplicate": appended.duplicate,
            },
        )
        return appended.seq, appended.duplicate
    raise RequestError("conflict", f"{entity} kept changing; retry the request")


def responder(
    handler: Callable[[Msg], Awaitable[Any]], dead_letters: DeadLetterLog | None
) -> Callable[[Msg], Awaitable[None]]:
    """The subscription callback of one admin subject: the handler's reply, or its error as
    ``{"error": ...}``; refused input is also recorded as a dead letter; the service keeps
    serving whatever the handler raises."""

    async def serve(msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        with tracer.start_as_current_span("admin_request", attributes={"subject": msg.subject}):
            try:
                reply: Any = await handler(msg)
                ADMIN_REQUESTS.labels(msg.subject, "ok").inc()
            except RequestError as exc:
                reply = exc.reply()
                ADMIN_REQUESTS.labels(msg.subject, exc.code).inc()
                if dead_letters is not None and exc.code in ("invalid_request", "malformed"):
                    await record_refusal(dead_letters, msg, exc)
            except Exception:
                log.exception("admin request failed", extra={"subject": msg.subject})
                ADMIN_REQUESTS.labels(msg.subject, "internal").inc()
                reply = RequestError("internal", "the request failed; it was not applied").reply()
        if msg.reply:
            await msg.respond(encode_reply(reply, msgpack=packed))

    return serve
