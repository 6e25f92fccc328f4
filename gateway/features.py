"""The online feature store's read side: ``llmopt.features.get`` and ``llmopt.features.get_batch``.

Values are served from memory: the server watches the KV bucket (``actors.feature_store``) and
keeps the newest record of every key, so a read is a dict lookup, never a remote call, and a
bandit in the same process can read the same map. Requests and replies are JSON (msgpack with
``Content-Type: application/msgpack``); errors are ``{"error": {"code", "message", "field"}}``.

Request::

    {"window": "latency-by-model", "kind": "tumbling_60s", "key": "gpt-4o",
     "features": ["p95", "error_rate"]}          # optional: all of WINDOW_FEATURES by default

Reply: the values, ``computed_at`` (event time the values are as of), ``age_s`` and
``stale``. A value older than its ``ttl_s``, or a key with no value yet, is answered with the
features' defaults (``stale: true`` / ``found: false``) and counted: a decision never waits or
fails for want of a feature. Freshness is the gauge ``ml_feature_staleness_seconds``, set on
every read and every update, labelled by window, kind and key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from opentelemetry import trace
from prometheus_client import Counter, Gauge

from actors.feature_store import FeatureRecord, feature_bucket, feature_key
from actors.windows.feature_set import WINDOW_FEATURES
from gateway.wire import RequestError, decode_request, encode_reply, is_msgpack

log = logging.getLogger("llmopt.features")
tracer = trace.get_tracer("llmopt.features")

GET_SUBJECT: Final = "llmopt.features.get"
GET_BATCH_SUBJECT: Final = "llmopt.features.get_batch"
QUEUE: Final = "llmopt-features"
MAX_BATCH: Final = 1000
FEATURE_NAMES: Final = tuple(f.name for f in WINDOW_FEATURES.features)

STALENESS = Gauge(
    "ml_feature_staleness_seconds",
    "Seconds since the served value's window closed (wall clock minus its event time)",
    ["window", "kind", "key"],
)
STALE_READS = Counter(
    "ml_feature_stale_total",
    "Reads answered with defaults because the value was stale or missing",
    ["window", "kind", "reason"],
)
READS = Counter("ml_feature_reads_total", "Feature reads by result", ["result"])


class FeatureRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    window: str
    kind: str
    key: str
    features: list[str] | None = None


class FeatureBatchRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    requests: list[FeatureRequest]


class FeatureReply(msgspec.Struct, kw_only=True):
    window: str
    kind: str
    key: str
    found: bool
    stale: bool
    computed_at: float | None
    age_s: float | None
    ttl_s: float | None
    revision: int | None
    values: dict[str, Any]
    defaults_used: list[str]
    """Features answered with their default (all of them when stale or not found)."""


class FeatureBatchReply(msgspec.Struct, kw_only=True):
    results: list[FeatureReply]


class FeatureServer:
    """Serves features from an in-memory copy of the bucket, kept current by a KV watch."""

    def __init__(
        self,
        nc: Client,
        *,
        clock: Callable[[], float] = time.time,
        subjects: tuple[str, str] = (GET_SUBJECT, GET_BATCH_SUBJECT),
    ) -> None:
        self.nc = nc
        self.subjects = subjects
        """(single, batch): tests serve on their own so they never reach another server."""
        self.clock = clock
        """Wall clock (the I/O shell's, never a fold's): injectable so tests can age values."""
        self.records: dict[str, FeatureRecord] = {}
        self.ready = asyncio.Event()
        self._subs: list[Subscription] = []
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        kv = await feature_bucket(self.nc.jetstream())
        self._watcher = await kv.watchall()
        self._task = asyncio.get_running_loop().create_task(self._follow())
        await asyncio.wait_for(self.ready.wait(), 30.0)
        self._subs = [
            await self.nc.subscribe(self.subjects[0], queue=QUEUE, cb=self._on_get),
            await self.nc.subscribe(self.subjects[1], queue=QUEUE, cb=self._on_get_batch),
        ]
        await self.nc.flush()  # the server knows the subscriptions once start() returns

    async def stop(self) -> None:
        for sub in self._subs:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
        self._subs = []
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        async for entry in self._watcher:
            if entry is None:  # the watch has delivered every existing value
                self.ready.set()
                continue
            if entry.operation in ("DEL", "PURGE") or not entry.value:
                self.records.pop(entry.key, None)
                continue
            try:
                record = msgspec.json.decode(entry.value, type=FeatureRecord)
            except msgspec.DecodeError:
                log.error("undecodable feature record skipped", extra={"key": entry.key})
                continue
            self.records[entry.key] = record
            STALENESS.labels(record.window, record.kind, record.key).set(
                max(self.clock() - record.computed_at, 0.0)
            )

    def read(self, request: FeatureRequest) -> FeatureReply:
        """One lookup, in memory; a bandit in this process may call it directly."""
        names = FEATURE_NAMES if request.features is None else request.features
        for i, name in enumerate(names):
            if name not in FEATURE_NAMES:
                raise RequestError(
                    "invalid_request",
                    f"unknown feature {name!r}; known: {list(FEATURE_NAMES)}",
                    f"features[{i}]",
                )
        record = self.records.get(feature_key(request.window, request.kind, request.key))
        defaults = {
            name: definition.default
            for name in names
            if (definition := WINDOW_FEATURES.get(name)) is not None
        }
        if record is None:
            READS.labels("missing").inc()
            STALE_READS.labels(request.window, request.kind, "missing").inc()
            return FeatureReply(
                window=request.window,
                kind=request.kind,
                key=request.key,
                found=False,
                stale=True,
                computed_at=None,
                age_s=None,
                ttl_s=None,
                revision=None,
                values=defaults,
                defaults_used=list(names),
            )
        age = max(self.clock() - record.computed_at, 0.0)
        STALENESS.labels(record.window, record.kind, record.key).set(age)
        stale = age > record.ttl_s
        if stale:
            READS.labels("stale").inc()
            STALE_READS.labels(request.window, request.kind, "stale").inc()
            values, used = defaults, list(names)
        else:
            READS.labels("fresh").inc()
            values = {name: getattr(record.features, name) for name in names}
            used = []
        return FeatureReply(
            window=request.window,
            kind=request.kind,
            key=request.key,
            found=True,
            stale=stale,
            computed_at=record.computed_at,
            age_s=age,
            ttl_s=record.ttl_s,
            revision=record.revision,
            values=values,
            defaults_used=used,
        )

    async def _on_get(self, msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        with tracer.start_as_current_span("features_get"):
            try:
                request = decode_request(msg.data, FeatureRequest, msgpack=packed)
                reply: Any = self.read(request)
            except RequestError as exc:
                READS.labels(exc.code).inc()
                reply = exc.reply()
        await msg.respond(encode_reply(reply, msgpack=packed))

    async def _on_get_batch(self, msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        with tracer.start_as_current_span("features_get_batch"):
            try:
                batch = decode_request(msg.data, FeatureBatchRequest, msgpack=packed)
                if len(batch.requests) > MAX_BATCH:
                    raise RequestError(
                        "invalid_request",
                        f"at most {MAX_BATCH} requests per batch, got {len(batch.requests)}",
                        "requests",
                    )
                results = []
                for i, request in enumerate(batch.requests):
                    try:
                        results.append(self.read(request))
                    except RequestError as exc:
                        raise RequestError(
                            exc.code, exc.message, f"requests[{i}].{exc.field}"
                        ) from exc
                reply: Any = FeatureBatchReply(results=results)
            except RequestError as exc:
                READS.labels(exc.code).inc()
                reply = exc.reply()
        await msg.respond(encode_reply(reply, msgpack=packed))
