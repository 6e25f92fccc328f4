"""The application's side of the hot path: ask which arm to call, then report how the call went.

An application calls :meth:`OptimizerClient.decide` before each LLM call and
:meth:`OptimizerClient.outcome` after it. Both are NATS request-reply (``llmopt.decide.<exp>``,
``llmopt.decide_batch.<exp>``, ``llmopt.outcome``), in JSON or, with ``msgpack=True``, msgpack.

The optimizer must never be the reason an LLM call fails or waits, so ``decide`` has a latency
budget (50 ms by default). If the experiment's actor does not answer within it (no responders
while Ray restarts it and it resubscribes, or a stall), the client answers *locally* with the
experiment's fallback arm, given in ``fallbacks`` - an application that routes LLM calls has a
default model anyway. Without a known fallback arm it raises :class:`OptimizerUnavailable`, so
the caller decides. This is the last resort, after the server's own: while an actor is silent,
the gateway's stand-in (``gateway/fallback.py``) answers for an experiment that has a
``fallback_arm`` and logs those decisions, so their outcomes count; a local fallback covers
what the stand-in cannot (the gateway down too, no ``fallback_arm``, batches, a blown budget)
and is not logged. Error replies (a bad context, an unknown decision) are never papered over:
they raise :class:`OptimizerError` with the server's ``code``, ``message`` and ``field``.

>>> async def answer(nc, prompt):  # doctest: +SKIP
...     client = OptimizerClient(nc, fallbacks={"checkout-router": "gpt-4"})
...     decision = await client.decide("checkout-router", {"task": "chat"})
...     reply = await call_llm(decision.arm, decision.params, prompt)
...     await client.outcome(decision.decision_id, cost_usd=reply.cost, quality=reply.score)
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeVar

import msgspec
import nats.aio.client
import nats.errors
from opentelemetry import propagate

from actors.catalogue import Eligibility
from actors.decider import MAX_BATCH, Decision, fallback_decision
from actors.decision_service import (
    DECIDE_BATCH_PREFIX,
    DECIDE_PREFIX,
    BatchReply,
    OutcomeAccepted,
)
from events.subjects import InvalidEntityId, check_token
from gateway.outcomes import OUTCOME_SUBJECT
from gateway.wire import CONTENT_TYPE_HEADER, MSGPACK, ErrorBody

__all__ = [
    "BATCH_TIMEOUT_S",
    "DECIDE_TIMEOUT_S",
    "OUTCOME_RETRIES",
    "OptimizerClient",
    "OptimizerError",
    "OptimizerUnavailable",
]

log = logging.getLogger("llmopt.client")

T = TypeVar("T")

DECIDE_TIMEOUT_S: Final = 0.05
"""The default latency budget of one decision: a small fraction of any LLM call."""
BATCH_TIMEOUT_S: Final = 5.0
"""Budget of one batch request of up to ``MAX_BATCH`` decisions, each appended to the log
before the reply: batches are the throughput path (offline jobs, evaluation), not the latency
path."""
OUTCOME_RETRIES: Final = 3
OUTCOME_BACKOFF_S: Final = 0.1
"""First pause after "no responders" on ``llmopt.outcome`` (doubling): the gateway is
restarting, and an immediate retry would fail in the same millisecond."""
LOCAL_FALLBACK_CAPACITY: Final = 50_000
"""Local fallback ids remembered so their outcomes are skipped: most of a minute of outage at
1,000 decisions/s, a few MB. An outcome for an older one reaches the server, which refuses it
as ``unknown_decision``."""
UNAVAILABLE: Final = "unavailable"

_BATCH_FIELD = re.compile(r"^requests\[(?P<index>\d+)\]")


class OptimizerError(Exception):
    """The service refused the request; ``code`` and ``field`` are the server's error reply."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{code}: {message}" + (f" (field {field})" if field else ""))
        self.code = code
        self.message = message
        self.field = field


class OptimizerUnavailable(OptimizerError):
    """No answer in time and no fallback arm to serve instead.

    A subclass of :class:`OptimizerError` (code ``unavailable``), so one ``except`` clause
    handles every way the optimizer can fail to give a decision; the cause (no responders,
    timeout) is chained as ``__cause__``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(UNAVAILABLE, message)


class _Envelope(msgspec.Struct):
    """Every reply read as a possible error: a success reply has no ``error`` key."""

    error: ErrorBody | None = None


class OptimizerClient:
    """Decide and report outcomes over an existing nats-py connection.

    The connection is the application's: the client never connects, drains or closes it.
    ``timeout_s`` is the default latency budget of :meth:`decide`; ``fallbacks`` maps an
    experiment id to the arm served when the service cannot answer within it (give the same
    arm as the experiment's ``fallback_arm``); ``msgpack`` sends and reads msgpack bodies
    (``Content-Type: application/msgpack``) instead of JSON.
    """

    def __init__(
        self,
        nc: nats.aio.client.Client,
        *,
        timeout_s: float = DECIDE_TIMEOUT_S,
        fallbacks: Mapping[str, str] | None = None,
        msgpack: bool = False,
    ) -> None:
        _require_positive(timeout_s)
        self._nc = nc
        self._timeout_s = timeout_s
        self._fallbacks = dict(fallbacks or {})
        self._msgpack = msgpack
        self._headers = {CONTENT_TYPE_HEADER: MSGPACK} if msgpack else None
        self._local_fallbacks: collections.OrderedDict[str, None] = collections.OrderedDict()
        self.fallbacks_served = 0
        """Local fallback decisions returned so far: a non-zero count means an outage."""

    async def decide(
        self,
        experiment: str,
        context: Mapping[str, Any] | None = None,
        *,
        request_id: str | None = None,
        constraints: Eligibility | Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> Decision:
        """The arm to call for this request, chosen by the experiment's live policy.

        The reply comes once the decision is in the log, so it can be audited and its outcome
        joined. A ``request_id`` makes a retry the same decision (same id, arm, propensity).
        ``constraints`` are per-request limits (prompt tokens, budget, latency SLA, tiers,
        excluded arms; see :class:`~actors.catalogue.Eligibility`).

        If the service does not answer within ``timeout_s`` (default: the client's budget),
        "no responders" being retried once at once because an actor may be resubscribing,
        the experiment's fallback arm from ``fallbacks`` is returned: ``fallback=True``,
        ``reason="unavailable"``, propensity 1.0, no ``params`` or ``model`` (the catalogue is
        the server's), and the id ``decision_id_for(experiment, request_id)``. **A local
        fallback decision is not in the log**, so learning from it is impossible and its
        outcome would be refused as ``unknown_decision``; and if a timed-out request *was*
        logged after all, that logged decision may name another arm than the one called, so
        its outcome would teach the policy the wrong arm. :meth:`outcome` therefore skips
        local fallback decisions (returns None). Raises :class:`OptimizerUnavailable` when no
        fallback arm is known, :class:`OptimizerError` for an error reply.
        """
        budget = self._timeout_s if timeout_s is None else _require_positive(timeout_s)
        subject = f"{DECIDE_PREFIX}.{_experiment_token(experiment)}"
        body = _decide_body(context, request_id, constraints)
        try:
            data = await self._ask(subject, self._encode(body), budget)
        except OptimizerUnavailable as exc:
            return self._fallbacks_for(experiment, [request_id], exc)[0]
        decision = self._decode(data, Decision)
        self._local_fallbacks.pop(decision.decision_id, None)
        return decision

    async def decide_batch(
        self,
        experiment: str,
        contexts: Sequence[Mapping[str, Any]],
        *,
        request_ids: Sequence[str | None] | None = None,
        constraints: Eligibility | Mapping[str, Any] | None = None,
        timeout_s: float | None = None,
    ) -> list[Decision]:
        """One decision per context, in order, asked ``MAX_BATCH`` at a time.

        Each chunk is one request with a budget of ``timeout_s`` (default
        :data:`BATCH_TIMEOUT_S`); a chunk the service cannot answer gets local fallback
        decisions as :meth:`decide` does. ``constraints`` apply to every request. Not atomic:
        if a chunk is refused, the chunks before it are already decided and logged; the
        :class:`OptimizerError` names the request by its index in ``contexts``
        (``requests[1203].context.input_tokens``).
        """
        if request_ids is not None and len(request_ids) != len(contexts):
            raise ValueError(
                f"request_ids has {len(request_ids)} entries for {len(contexts)} contexts"
            )
        budget = BATCH_TIMEOUT_S if timeout_s is None else _require_positive(timeout_s)
        subject = f"{DECIDE_BATCH_PREFIX}.{_experiment_token(experiment)}"
        ids: Sequence[str | None] = request_ids or [None] * len(contexts)
        limits = _constraints_body(constraints)
        decisions: list[Decision] = []
        for start in range(0, len(contexts), MAX_BATCH):
            chunk_ids = ids[start : start + MAX_BATCH]
            requests = [
                _decide_body(context, request_id, limits)
                for context, request_id in zip(
                    contexts[start : start + MAX_BATCH], chunk_ids, strict=True
                )
            ]
            try:
                data = await self._ask(subject, self._encode({"requests": requests}), budget)
            except OptimizerUnavailable as exc:
                decisions.extend(self._fallbacks_for(experiment, chunk_ids, exc))
                continue
            except OptimizerError as exc:
                field = _reindexed(exc.field, start)
                if field == exc.field:
                    raise
                raise OptimizerError(exc.code, exc.message, field) from exc
            for decision in self._decode(data, BatchReply).decisions:
                self._local_fallbacks.pop(decision.decision_id, None)
                decisions.append(decision)
        return decisions

    async def outcome(
        self,
        decision_id: str,
        *,
        cost_usd: float | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        latency_ms: float | None = None,
        error: bool = False,
        quality: float | None = None,
        feedback: float | None = None,
        reward: float | None = None,
        at: float | None = None,
        timeout_s: float = 2.0,
    ) -> OutcomeAccepted | None:
        """Report what happened after the call, so the policy learns from it.

        Returns the log sequence of the outcome (``duplicate=True`` if it was reported
        before), or None for a local fallback decision from this client, which the service
        never logged (see :meth:`decide`). ``reward`` overrides the experiment's composite
        reward; ``at`` (Unix seconds) defaults to the outcome's arrival.

        A timeout or "no responders" is retried up to :data:`OUTCOME_RETRIES` times with the
        same body. That is safe: the outcome's event id is derived from the decision id, so a
        retry of an outcome that did arrive is dropped by the log's deduplication. Raises
        :class:`OptimizerUnavailable` when every attempt went unanswered,
        :class:`OptimizerError` for an error reply (``unknown_decision``, ``not_found``,
        ``invalid_request`` with its ``field``).
        """
        _require_positive(timeout_s)
        if decision_id in self._local_fallbacks:
            return None
        fields: dict[str, Any] = {
            "cost_usd": cost_usd,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "latency_ms": latency_ms,
            "quality": quality,
            "feedback": feedback,
            "reward": reward,
            "at": at,
        }
        body = {"decision_id": decision_id, "error": error}
        body.update((name, value) for name, value in fields.items() if value is not None)
        payload = self._encode(body)
        last: nats.errors.Error | None = None
        for attempt in range(1 + OUTCOME_RETRIES):
            if isinstance(last, nats.errors.NoRespondersError):
                await asyncio.sleep(OUTCOME_BACKOFF_S * 2 ** (attempt - 1))
            try:
                msg = await self._nc.request(
                    OUTCOME_SUBJECT, payload, timeout=timeout_s, headers=self._request_headers()
                )
            except (nats.errors.NoRespondersError, nats.errors.TimeoutError) as exc:
                last = exc
                continue
            return self._decode(self._checked(msg.data), OutcomeAccepted)
        raise OptimizerUnavailable(
            f"outcome of {decision_id!r} unanswered after {1 + OUTCOME_RETRIES} attempts: {last}"
        ) from last

    async def _ask(self, subject: str, payload: bytes, budget_s: float) -> bytes:
        """One decide request within ``budget_s``; "no responders" is retried once.

        Raises :class:`OptimizerUnavailable` when nothing answered in time, or when the
        service answered ``unavailable`` (its log did not acknowledge the decision).
        """
        deadline = time.monotonic() + budget_s
        last: nats.errors.Error | None = None
        for _ in range(2):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                msg = await self._nc.request(
                    subject, payload, timeout=remaining, headers=self._request_headers()
                )
            except nats.errors.NoRespondersError as exc:
                last = exc
                continue
            except nats.errors.TimeoutError as exc:
                raise OptimizerUnavailable(
                    f"no answer on {subject} within {budget_s * 1000:.0f} ms"
                ) from exc
            return self._checked(msg.data)
        raise OptimizerUnavailable(
            f"no responders on {subject}: the experiment's actor is not running "
            "(restarting, archived or never created)"
        ) from last

    def _fallbacks_for(
        self, experiment: str, request_ids: Sequence[str | None], exc: OptimizerUnavailable
    ) -> list[Decision]:
        arm = self._fallbacks.get(experiment)
        if arm is None:
            raise OptimizerUnavailable(
                f"experiment {experiment!r}: {exc.message}; no fallback arm configured"
            ) from exc
        decisions = [
            fallback_decision(experiment, arm, request_id=request_id, reason=UNAVAILABLE)
            for request_id in request_ids
        ]
        for decision in decisions:
            self._local_fallbacks[decision.decision_id] = None
            self._local_fallbacks.move_to_end(decision.decision_id)
        while len(self._local_fallbacks) > LOCAL_FALLBACK_CAPACITY:
            self._local_fallbacks.popitem(last=False)
        self.fallbacks_served += len(decisions)
        log.debug(
            "local fallback served",
            extra={"experiment": experiment, "arm": arm, "count": len(decisions), "why": str(exc)},
        )
        return decisions

    def _request_headers(self) -> dict[str, str] | None:
        """The content type, and the caller's trace context (W3C ``traceparent``) when a span
        is active, so the service's spans join the application's trace."""
        headers = dict(self._headers or {})
        propagate.inject(headers)
        return headers or None

    def _encode(self, body: Any) -> bytes:
        return msgspec.msgpack.encode(body) if self._msgpack else msgspec.json.encode(body)

    def _decode(self, data: bytes, type_: type[T]) -> T:
        if self._msgpack:
            return msgspec.msgpack.decode(data, type=type_)
        return msgspec.json.decode(data, type=type_)

    def _checked(self, data: bytes) -> bytes:
        """``data`` if it is not an error reply; else the error, raised."""
        error = self._decode(data, _Envelope).error
        if error is None:
            return data
        if error.code == UNAVAILABLE:
            raise OptimizerUnavailable(error.message)
        raise OptimizerError(error.code, error.message, error.field)


def _experiment_token(experiment: str) -> str:
    """Refuse an id that is not one subject token before it silently routes nowhere."""
    try:
        return check_token(experiment, "experiment")
    except InvalidEntityId as exc:
        raise OptimizerError("invalid_request", str(exc), "experiment") from exc


def _constraints_body(
    constraints: Eligibility | Mapping[str, Any] | None,
) -> Eligibility | dict[str, Any] | None:
    """Send a mapping as it is: the server validates it and names a bad field."""
    if constraints is None or isinstance(constraints, Eligibility):
        return constraints
    return dict(constraints)


def _decide_body(
    context: Mapping[str, Any] | None,
    request_id: str | None,
    constraints: Eligibility | Mapping[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"context": dict(context or {})}
    if request_id is not None:
        body["request_id"] = request_id
    limits = _constraints_body(constraints)
    if limits is not None:
        body["constraints"] = limits
    return body


def _reindexed(field: str | None, offset: int) -> str | None:
    """The server numbers requests within its chunk; the caller numbers them in ``contexts``."""
    if field is None or not offset:
        return field
    return _BATCH_FIELD.sub(lambda m: f"requests[{int(m.group('index')) + offset}]", field, count=1)


def _require_positive(timeout_s: float) -> float:
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    return timeout_s
