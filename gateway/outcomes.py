"""``llmopt.outcome``: clients report what happened after a decision.

The gateway validates the report, finds the experiment from the decision id and hands it to
the experiment's actor, which knows its decisions and appends the outcome. If the actor cannot
answer (restarting), the gateway appends the outcome itself rather than lose it: the fold joins
it when the decision is known and counts it as unmatched when not. Refused reports (malformed,
invalid, unknown experiment or decision) get an error reply and a dead-letter record.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import msgspec
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from actors.decider import DecisionRefused, experiment_of
from actors.decision_service import (
    OUTCOME_INTERNAL_PREFIX,
    OutcomeAccepted,
    OutcomeReport,
    outcome_event,
)
from actors.live_entities import LiveEntities
from events.dead_letter import DeadLetterLog
from events.log import EventLog
from gateway.metrics import OUTCOMES
from gateway.refusals import record_refusal
from gateway.wire import MSGPACK, RequestError, decode_request, encode_reply, is_msgpack

log = logging.getLogger("llmopt.outcomes")

OUTCOME_SUBJECT: Final = "llmopt.outcome"
ACTOR_TIMEOUT_S: Final = 0.5
"""Then the gateway keeps the outcome itself; well inside a client's retry budget."""
_REFUSALS_TO_RECORD = frozenset({"malformed", "invalid_request", "not_found", "unknown_decision"})


class OutcomeService:
    def __init__(
        self, nc: Client, event_log: EventLog, dead_letters: DeadLetterLog, entities: LiveEntities
    ) -> None:
        self.nc = nc
        self.event_log = event_log
        self.dead_letters = dead_letters
        self.entities = entities
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._sub = await self.nc.subscribe(OUTCOME_SUBJECT, "llmopt-ingest", cb=self._dispatch)

    async def _dispatch(self, msg: Msg) -> None:
        """nats-py awaits a subscription's callbacks one at a time; outcomes are independent
        (the log orders them), so each is handled in its own task."""
        task = asyncio.get_running_loop().create_task(self._serve(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    async def _serve(self, msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        try:
            reply: bytes = await self._handle(msg, packed)
            OUTCOMES.labels("ok").inc()
        except RequestError as exc:
            OUTCOMES.labels(exc.code).inc()
            reply = encode_reply(exc.reply(), msgpack=packed)
            if exc.code in _REFUSALS_TO_RECORD:
                await record_refusal(self.dead_letters, msg, exc)
        if msg.reply:
            await msg.respond(reply)

    async def _handle(self, msg: Msg, packed: bool) -> bytes:
        report = decode_request(msg.data, OutcomeReport, msgpack=packed)
        try:
            experiment = experiment_of(report.decision_id)
        except DecisionRefused as exc:
            raise RequestError(exc.code, exc.message, exc.field) from exc
        if not self.entities.exists("experiment", experiment):
            raise RequestError(
                "not_found",
                f"decision names experiment {experiment!r}, which does not exist",
                "decision_id",
            )
        headers = {"Content-Type": MSGPACK} if packed else None
        try:
            answer = await self.nc.request(
                f"{OUTCOME_INTERNAL_PREFIX}.{experiment}",
                msg.data,
                timeout=ACTOR_TIMEOUT_S,
                headers=headers,
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            return encode_reply(await self._append_unverified(experiment, report), msgpack=packed)
        error = _error_of(answer.data, packed)
        if error is not None:
            raise RequestError(
                error.get("code", "internal"), error.get("message", ""), error.get("field")
            )
        return answer.data

    async def _append_unverified(self, experiment: str, report: OutcomeReport) -> OutcomeAccepted:
        """The actor is away: keep the outcome; the fold decides whether it joins a decision."""
        event = outcome_event(experiment, report)
        appended = await self.event_log.append(event)
        log.warning(
            "outcome appended without its actor",
            extra={"experiment": experiment, "decision_id": report.decision_id},
        )
        return OutcomeAccepted(ok=True, seq=appended.seq, duplicate=appended.duplicate)


def _error_of(data: bytes, packed: bool) -> dict[str, Any] | None:
    decoded = msgspec.msgpack.decode(data) if packed else msgspec.json.decode(data)
    if isinstance(decoded, dict) and isinstance(decoded.get("error"), dict):
        error: dict[str, Any] = decoded["error"]
        return error
    return None
