"""The Ray actor that hosts one entity; thin: all behaviour lives in ``EntityHost``.

Ray gives placement, a name per entity (so one actor per entity cluster-wide) and restarts
after a crash (``max_restarts``). A restart reruns ``__init__``, which starts recovery again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import ray

from actors.gc_pauses import freeze_survivors, time_collections
from actors.host import EntityHost, HostStatus
from actors.registry import aggregate_for
from llmopt.logs import configure_logging
from llmopt.settings import Settings
from llmopt.tracing import configure_tracing


def actor_name(kind: str, entity_id: str) -> str:
    return f"{kind}/{entity_id}"


class EntityActor:
    def __init__(self, settings: Settings, kind: str, entity_id: str, nats_url: str) -> None:
        configure_logging()
        configure_tracing()
        time_collections()
        self.host = EntityHost(settings, aggregate_for(kind), entity_id, nats_url)
        # Ray runs an async actor's __init__ on its event loop, so the loop is running here.
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self.host.run())
        self._freeze = loop.create_task(self._freeze_when_ready())

    async def _freeze_when_ready(self) -> None:
        """Once recovered, what start-up and recovery built is left out of collections
        (:mod:`actors.gc_pauses`); this process hosts this one actor."""
        await self.host.ready.wait()
        freeze_survivors()

    async def status(self) -> HostStatus:
        return self.host.status()

    async def wait_ready(self, within_s: float = 60.0) -> HostStatus:
        await asyncio.wait_for(self.host.ready.wait(), within_s)
        return self.host.status()

    async def stop(self) -> None:
        await self.host.stop()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(self._task, 10.0)

    def pid(self) -> int:
        return os.getpid()


RemoteEntityActor: Any = ray.remote(max_restarts=-1, max_task_retries=-1, num_cpus=0)(EntityActor)


def spawn_actor(settings: Settings, kind: str, entity_id: str, nats_url: str) -> Any:
    """Get the entity's actor, creating it if no actor has the name yet."""
    return RemoteEntityActor.options(
        name=actor_name(kind, entity_id),
        namespace=settings.ray_namespace,
        get_if_exists=True,
        lifetime="detached",
    ).remote(settings, kind, entity_id, nats_url)


def find_actor(settings: Settings, kind: str, entity_id: str) -> Any | None:
    try:
        return ray.get_actor(actor_name(kind, entity_id), namespace=settings.ray_namespace)
    except ValueError:
        return None
