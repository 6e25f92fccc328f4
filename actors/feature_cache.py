"""An in-memory copy of the online feature store, kept current by a KV watch.

A process that needs features (the request-reply server, or a bandit inside its actor) holds
one: every put into the ``llmopt_features`` bucket reaches it by subscription, so a read is a
dict lookup, never a remote call, and a decision never waits on one. A value older than its
``ttl_s`` (wall clock minus its event-time ``computed_at``), or a key with no value yet, reads
as the features' defaults and is counted. Freshness is the gauge
``ml_feature_staleness_seconds`` (window, kind, key), set on every update and every read.
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
from prometheus_client import Counter

from actors.feature_store import FeatureRecord, feature_bucket, feature_key
from actors.windows.feature_set import WINDOW_FEATURES
from gateway.metrics import FEATURE_STALENESS

log = logging.getLogger("llmopt.features")

FEATURE_NAMES: Final = tuple(f.name for f in WINDOW_FEATURES.features)

STALE_READS = Counter(
    "ml_feature_stale_total",
    "Reads answered with defaults because the value was stale or missing",
    ["window", "kind", "reason"],
)
READS = Counter("ml_feature_reads_total", "Feature reads by result", ["result"])


class UnknownFeature(ValueError):
    """A read named a feature the schema does not have; ``field`` says which element."""

    def __init__(self, name: str, field: str) -> None:
        super().__init__(f"unknown feature {name!r}; known: {list(FEATURE_NAMES)}")
        self.field = field


class FeatureRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    window: str
    kind: str
    key: str
    features: list[str] | None = None


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


class FeatureCache:
    def __init__(self, nc: Client, *, clock: Callable[[], float] = time.time) -> None:
        self.nc = nc
        self.clock = clock
        """Wall clock (the I/O shell's, never a fold's): injectable so tests can age values."""
        self.records: dict[str, FeatureRecord] = {}
        self.ready = asyncio.Event()
        self._watcher: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns once every value already stored has been loaded."""
        kv = await feature_bucket(self.nc.jetstream())
        self._watcher = await kv.watchall()
        self._task = asyncio.get_running_loop().create_task(self._follow())
        await asyncio.wait_for(self.ready.wait(), 30.0)

    async def stop(self) -> None:
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
            FEATURE_STALENESS.labels(record.window, record.kind, record.key).set(
                max(self.clock() - record.computed_at, 0.0)
            )

    def read(self, request: FeatureRequest) -> FeatureReply:
        """One lookup, in memory: never waits, never fails for want of a value."""
        names = FEATURE_NAMES if request.features is None else request.features
        for i, name in enumerate(names):
            if name not in FEATURE_NAMES:
                raise UnknownFeature(name, f"features[{i}]")
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
        FEATURE_STALENESS.labels(record.window, record.kind, record.key).set(age)
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
