"""Bringing the system up and down: NATS (embedded or given), the log's streams, Ray, the
directory of actors and the gateway's services. ``llmopt serve`` and the tests share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ray
from nats.aio.client import Client

from actors.checkpoint import CheckpointStore
from actors.directory import ActorDirectory
from actors.ray_cluster import init_ray
from events.dead_letter import DeadLetterLog
from events.log import EventLog
from gateway.admin import AdminService
from gateway.connection import connect, start_or_connect
from gateway.fallback import FallbackStandIn
from gateway.features import FeatureServer
from gateway.nats_server import EmbeddedNatsServer
from gateway.outcomes import OutcomeService
from gateway.window_admin import WindowAdminService
from llmopt.settings import Settings

log = logging.getLogger("llmopt.runtime")


async def prepare_storage(js: Any, settings: Settings) -> tuple[EventLog, DeadLetterLog]:
    """Create (or update) the log stream, the dead-letter stream and the checkpoint bucket."""
    event_log = EventLog(js)
    await event_log.ensure(
        replicas=settings.stream_replicas, duplicate_window_s=settings.duplicate_window_s
    )
    dead_letters = DeadLetterLog(js)
    await dead_letters.ensure(replicas=settings.stream_replicas)
    await CheckpointStore(js).ensure(
        history=settings.checkpoint_history,
        replicas=settings.stream_replicas,
        max_value_size=settings.nats_max_payload,
    )
    return event_log, dead_letters


def url_file(settings: Settings) -> Path:
    """Where a running ``serve`` leaves the URL of its embedded server for the CLI."""
    return settings.state_dir / "nats.url"


def ray_address_file(settings: Settings) -> Path:
    """Where a running ``serve`` leaves the address of its Ray cluster for the CLI."""
    return settings.state_dir / "ray.address"


class Services:
    """Everything ``serve`` runs, started in order and stopped in reverse."""

    def __init__(self, settings: Settings, nats_url: str) -> None:
        self.settings = settings
        self.nats_url = nats_url
        self.nc: Client | None = None
        self.event_log: EventLog | None = None
        self.directory: ActorDirectory | None = None
        self.admin: AdminService | None = None
        self.outcomes: OutcomeService | None = None
        self.stand_in: FallbackStandIn | None = None
        self.features: FeatureServer | None = None
        self.window_admin: WindowAdminService | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.nc = await connect(self.settings, url=self.nats_url, name="llmopt gateway")
        js = self.nc.jetstream()
        self.event_log, dead_letters = await prepare_storage(js, self.settings)
        init_ray(self.settings)
        ray_address_file(self.settings).write_text(ray.get_runtime_context().gcs_address)
        self.directory = ActorDirectory(self.settings, js, self.nats_url)
        self._tasks.append(asyncio.create_task(self.directory.run(), name="directory"))
        self.admin = AdminService(self.nc, self.event_log, dead_letters)
        await self.admin.start()
        self.outcomes = OutcomeService(
            self.nc, self.event_log, dead_letters, self.directory.entities
        )
        await self.outcomes.start()
        self.stand_in = FallbackStandIn(self.nc, self.event_log, self.directory)
        await self.stand_in.start()
        self.features = FeatureServer(self.nc)
        await self.features.start()
        self.window_admin = WindowAdminService(self.nc, self.event_log, dead_letters)
        await self.window_admin.start()
        await asyncio.wait_for(self.directory.caught_up.wait(), 60.0)
        log.info("services ready", extra={"nats_url": self.nats_url, "pid": os.getpid()})

    async def stop(self) -> None:
        if self.admin is not None:
            await self.admin.stop()
        if self.outcomes is not None:
            await self.outcomes.stop()
        if self.stand_in is not None:
            await self.stand_in.stop()
        if self.features is not None:
            await self.features.stop()
        if self.window_admin is not None:
            await self.window_admin.stop()
        if self.directory is not None:
            self.directory.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(task, 5.0)
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.drain()
        with contextlib.suppress(FileNotFoundError):
            ray_address_file(self.settings).unlink()


@contextlib.asynccontextmanager
async def nats_endpoint(settings: Settings) -> AsyncIterator[tuple[str, EmbeddedNatsServer | None]]:
    """The configured NATS URL, or an embedded server started for the duration of the block."""
    url, server = await asyncio.to_thread(start_or_connect, settings)
    if server is not None:
        url_file(settings).write_text(url)
    try:
        yield url, server
    finally:
        if server is not None:
            with contextlib.suppress(FileNotFoundError):
                url_file(settings).unlink()
            await asyncio.to_thread(server.stop)
