"""Metrics recorded inside actors, relayed over NATS to the ``llmopt serve`` endpoint.

Decisions are timed and events folded in Ray worker processes, which have no HTTP endpoint of
their own and come and go as Ray places and restarts them. So each actor records into
:data:`gateway.metrics.ACTOR_REGISTRY`, publishes a snapshot of it every
:data:`PUBLISH_EVERY_S` on ``llmopt.internal.metrics.<kind>.<entity>`` (core NATS: a lost
snapshot is replaced by the next), and the serve process keeps the newest snapshot of each
actor in :class:`RelayedMetrics`, a prometheus-client collector that exposes them with its own
metrics. A restarted actor starts its counters from zero, which Prometheus reads as a counter
reset, as it would for a restarted process; an actor silent for :data:`STALE_AFTER_S` is
dropped from the exposition.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

import msgspec
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from gateway.metrics import ACTOR_REGISTRY

METRICS_PREFIX: Final = "llmopt.internal.metrics"
PUBLISH_EVERY_S: Final = 1.0
STALE_AFTER_S: Final = 60.0


class Family(msgspec.Struct, array_like=True):
    name: str
    documentation: str
    type: str
    samples: list[tuple[str, dict[str, str], float]]


class Snapshot(msgspec.Struct):
    source: str
    pid: int
    families: list[Family]


def snapshot(registry: CollectorRegistry, source: str) -> bytes:
    """The registry's current families, as the relay reads them."""
    families = [
        Family(
            metric.name,
            metric.documentation,
            metric.type,
            [(sample.name, dict(sample.labels), float(sample.value)) for sample in metric.samples],
        )
        for metric in registry.collect()
    ]
    return msgspec.json.encode(Snapshot(source, os.getpid(), families))


async def publish_forever(nc: Any, kind: str, entity_id: str) -> None:
    """Publish this process's actor metrics until cancelled; a failed publish is skipped."""
    subject = f"{METRICS_PREFIX}.{kind}.{entity_id}"
    source = f"{kind}/{entity_id}"
    while True:
        with contextlib.suppress(Exception):
            await nc.publish(subject, snapshot(ACTOR_REGISTRY, source))
        await asyncio.sleep(PUBLISH_EVERY_S)


class RelayedMetrics(Collector):
    """The newest snapshot of every actor, exposed as the actors' own metric families."""

    def __init__(self, *, stale_after_s: float = STALE_AFTER_S) -> None:
        self._stale_after_s = stale_after_s
        self._latest: dict[str, tuple[float, Snapshot]] = {}
        self._lock = threading.Lock()  # collect() runs on the HTTP server's thread

    def take(self, data: bytes) -> None:
        """Keep a snapshot (as published by :func:`publish_forever`); garbage is ignored."""
        try:
            received = msgspec.json.decode(data, type=Snapshot)
        except msgspec.DecodeError:
            return
        with self._lock:
            self._latest[received.source] = (time.monotonic(), received)

    def collect(self) -> Iterator[Metric]:
        horizon = time.monotonic() - self._stale_after_s
        with self._lock:
            for source in [s for s, (seen, _) in self._latest.items() if seen < horizon]:
                del self._latest[source]
            snapshots = [snap for _, snap in self._latest.values()]
        merged: dict[str, Metric] = {}
        for snap in snapshots:
            for family in snap.families:
                metric = merged.get(family.name)
                if metric is None:
                    metric = merged[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for name, labels, value in family.samples:
                    metric.add_sample(name, labels, value)
        yield from merged.values()

    def describe(self) -> list[Metric]:
        """Nothing up front: the families exist once actors have reported them."""
        return []


async def relay(nc: Any, collector: RelayedMetrics) -> Any:
    """Subscribe ``collector`` to every actor's snapshots; returns the subscription."""

    async def received(msg: Any) -> None:
        collector.take(msg.data)

    return await nc.subscribe(f"{METRICS_PREFIX}.>", cb=received)
