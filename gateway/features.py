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

from actors.feature_cache import (
    READS,
    FeatureCache,
    FeatureReply,
    FeatureRequest,
    UnknownFeature,
)
from actors.feature_store import FeatureRecord
from gateway.wire import RequestError, decode_request, encode_reply, is_msgpack

log = logging.getLogger("llmopt.features")
tracer = trace.get_tracer("llmopt.features")

GET_SUBJECT: Final = "llmopt.features.get"
GET_BATCH_SUBJECT: Final = "llmopt.features.get_batch"
QUEUE: Final = "llmopt-features"
MAX_BATCH: Final = 1000


class FeatureBatchRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    requests: list[FeatureRequest]


class FeatureBatchReply(msgspec.Struct, kw_only=True):
    results: list[FeatureReply]


class FeatureServer:
    """Serves features from a :class:`~actors.feature_cache.FeatureCache`."""

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
        self.cache = FeatureCache(nc, clock=clock)
        self._subs: list[Subscription] = []

    async def start(self) -> None:
        await self.cache.start()
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
        await self.cache.stop()

    @property
    def records(self) -> dict[str, FeatureRecord]:
        return self.cache.records

    def read(self, request: FeatureRequest) -> FeatureReply:
        """A cache read; an unknown feature name becomes an error reply naming it."""
        try:
            return self.cache.read(request)
        except UnknownFeature as exc:
            raise RequestError("invalid_request", str(exc), exc.field) from exc

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
