"""The directory of live actors: an actor per live entity, created and stopped by the log.

It folds every lifecycle event from the start of the log (they are few) into ``LiveEntities``
and reconciles Ray with it: an entity's creation event starts its actor (by name, so a second
directory or a restart finds the same actor), its archival event stops it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import nats.errors
import nats.js.errors
import ray
from nats.js import JetStreamContext, api

from actors.entity_actor import find_actor, spawn_actor
from actors.live_entities import LiveEntities
from events.codec import decode
from events.log import LOG_STREAM
from events.subjects import LOG_PREFIX
from llmopt.settings import Settings

log = logging.getLogger("llmopt.directory")
LIFECYCLE_FILTER = f"{LOG_PREFIX}.*.*.lifecycle"


class ActorDirectory:
    def __init__(self, settings: Settings, js: JetStreamContext, nats_url: str) -> None:
        self.settings = settings
        self.js = js
        self.nats_url = nats_url
        self.entities = LiveEntities()
        self.seq = 0
        self.caught_up = asyncio.Event()
        self._stopping = asyncio.Event()

    def actor(self, kind: str, entity_id: str) -> Any | None:
        """The live actor of an entity, or None if it is not live."""
        if not self.entities.is_live(kind, entity_id):
            return None
        return find_actor(self.settings, kind, entity_id)

    async def run(self) -> None:
        config = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL,
            ack_policy=api.AckPolicy.NONE,
            filter_subject=LIFECYCLE_FILTER,
            inactive_threshold=60.0,
        )
        sub = await self.js.pull_subscribe(LIFECYCLE_FILTER, stream=LOG_STREAM, config=config)
        if (await sub.consumer_info()).num_pending == 0:
            self.caught_up.set()
        try:
            while not self._stopping.is_set():
                try:
                    msgs = await sub.fetch(256, timeout=1.0)
                except (TimeoutError, nats.errors.TimeoutError):
                    self.caught_up.set()
                    continue
                except (
                    nats.errors.ConnectionClosedError,
                    nats.errors.ConnectionReconnectingError,
                    nats.js.errors.ServiceUnavailableError,
                    nats.errors.NoRespondersError,
                ):
                    await asyncio.sleep(0.2)
                    continue
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    if seq <= self.seq:
                        continue
                    self.seq = seq
                    change = self.entities.apply(decode(msg.data))
                    if change is not None:
                        await self._reconcile(*change)
                    if msg.metadata.num_pending == 0:
                        self.caught_up.set()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def stop(self) -> None:
        self._stopping.set()

    async def _reconcile(self, kind: str, entity_id: str, live: bool) -> None:
        if live:
            spawn_actor(self.settings, kind, entity_id, self.nats_url)
            log.info("actor started", extra={"kind": kind, "entity_id": entity_id})
            return
        actor = find_actor(self.settings, kind, entity_id)
        if actor is None:
            return
        with contextlib.suppress(ray.exceptions.RayActorError, asyncio.TimeoutError):
            await asyncio.wait_for(actor.stop.remote(), 15.0)
        ray.kill(actor, no_restart=True)
        log.info("actor stopped", extra={"kind": kind, "entity_id": entity_id})
