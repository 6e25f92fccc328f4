"""The directory of live actors: an actor per live entity, created and stopped by the log.

It folds every lifecycle event from the start of the log (they are few) into ``LiveEntities``
and reconciles Ray with it: an entity's creation event starts its actor (by name, so a second
directory or a restart finds the same actor), its archival event stops it for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import nats.errors
import nats.js.errors
import ray
from nats.js import JetStreamContext, api

from actors.entity_actor import find_actor, spawn_actor
from actors.host import consumer_name
from actors.live_entities import LiveEntities
from events.codec import decode
from events.log import LOG_STREAM
from events.pull_consumer import PullConsumer, client_of
from events.schema import Event
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
        self.definitions: dict[str, Event] = {}
        """The creation event of every entity, by ``kind/entity_id`` (e.g. for fallbacks)."""
        self.seq = 0
        self.caught_up = asyncio.Event()
        self._stopping = asyncio.Event()
        self.consumer = f"llmopt-directory-{uuid.uuid4().hex[:12]}"
        """Durable, to survive a NATS restart; one per directory, removed by the server once
        the directory has been gone for five minutes."""

    def actor(self, kind: str, entity_id: str) -> Any | None:
        """The live actor of an entity, or None if it is not live."""
        if not self.entities.is_live(kind, entity_id):
            return None
        return find_actor(self.settings, kind, entity_id)

    async def run(self) -> None:
        """Fold the lifecycle events from the start, then follow them until stopped."""
        info = await self.js.add_consumer(
            LOG_STREAM,
            api.ConsumerConfig(
                durable_name=self.consumer,
                deliver_policy=api.DeliverPolicy.ALL,
                ack_policy=api.AckPolicy.NONE,
                filter_subject=LIFECYCLE_FILTER,
                inactive_threshold=300.0,
            ),
        )
        changes: list[tuple[str, str, bool]] = []

        def on_event(seq: int, subject: str, data: bytes) -> None:
            if seq <= self.seq:
                return
            self.seq = seq
            event = decode(data)
            change = self.entities.apply(event)
            if change is not None:
                changes.append(change)
                if change[2]:
                    self.definitions[LiveEntities.key(change[0], change[1])] = event

        consumer = PullConsumer(client_of(self.js), LOG_STREAM, self.consumer, on_event)
        await consumer.start()
        pending = int(info.num_pending or 0)
        try:
            while not self._stopping.is_set():
                catching_up = not self.caught_up.is_set()
                try:
                    delivered = await consumer.pull(256, wait_s=None if catching_up else 1.0)
                except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
                    await asyncio.sleep(0.2)
                    continue
                pending -= delivered
                while changes:
                    await self._reconcile(*changes.pop(0))
                if catching_up and (pending <= 0 or delivered == 0):
                    self.caught_up.set()
        finally:
            await consumer.close()

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
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await self.js.delete_consumer(LOG_STREAM, consumer_name(kind, entity_id))
        log.info("actor stopped", extra={"kind": kind, "entity_id": entity_id})
