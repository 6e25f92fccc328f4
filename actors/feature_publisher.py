"""Runs inside a feature window's actor once it has recovered: puts every window the fold
emitted into the feature store's KV bucket.

The fold only records what changed (``FeatureWindowAggregate.changed``); this task drains it
every ``PUBLISH_EVERY_S`` on the actor's own event loop, so it never races the fold. After a
recovery everything in ``latest`` counts as changed and is published again (idempotent puts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any, Final

import msgspec
from nats.js.kv import KeyValue
from opentelemetry import trace
from prometheus_client import Counter

from actors.feature_store import FeatureRecord, feature_bucket, feature_key
from actors.feature_window import FeatureWindowAggregate

if TYPE_CHECKING:
    from actors.host import EntityHost

log = logging.getLogger("llmopt.features")
tracer = trace.get_tracer("llmopt.features")
PUBLISH_EVERY_S: Final = 0.2

PUBLISHED = Counter(
    "ml_feature_published_total", "Window values put into the feature store", ["window"]
)
PUBLISH_FAILURES = Counter(
    "ml_feature_publish_failures_total", "Feature store puts that failed (retried)", ["window"]
)


class FeaturePublisher:
    def __init__(self, host: EntityHost, nc: Any) -> None:
        self.host = host
        self.nc = nc
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    async def start(self) -> None:
        self._kv = await feature_bucket(self.nc.jetstream())
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.publish()  # what the last fold emitted

    async def _run(self) -> None:
        while True:
            try:
                await self.publish()
            except Exception as exc:
                PUBLISH_FAILURES.labels(self.host.entity_id).inc()
                log.warning(
                    "feature publish failed; retrying",
                    extra={"window": self.host.entity_id, "error": repr(exc)},
                )
            await asyncio.sleep(PUBLISH_EVERY_S)

    async def publish(self) -> int:
        state = self.host.state
        if self._kv is None or not isinstance(state, FeatureWindowAggregate):
            return 0
        settings = state.settings
        results = state.drain_changed()
        if settings is None or not results:
            return 0
        window = state.entity_id
        with tracer.start_as_current_span(
            "features_publish", attributes={"window": window, "values": len(results)}
        ):
            for i, result in enumerate(results):
                record = FeatureRecord.of(window, result, settings.ttl_s)
                try:
                    await self._kv.put(
                        feature_key(window, result.window, result.key),
                        msgspec.json.encode(record),
                    )
                except Exception:
                    # Not lost: back into the changed set, retried on the next round.
                    state.changed.update(f"{r.window}/{r.key}" for r in results[i:])
                    raise
        self.published += len(results)
        PUBLISHED.labels(window).inc(len(results))
        return len(results)
