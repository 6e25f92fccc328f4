"""A NATS server restart, on its own server: no acknowledged event is lost, actors reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import nats.errors
import pytest

from actors.entity_actor import spawn_actor
from events.schema import ExperimentCreated
from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer
from llmopt.runtime import prepare_storage
from llmopt.settings import Settings
from tests.e2e.helpers import caught_up, scratch_digest, traffic
from tests.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    server = EmbeddedNatsServer(tmp_path / "nats", sync_interval="1s")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def own_client(own_server: EmbeddedNatsServer, settings: Settings) -> AsyncIterator[Any]:
    client = await connect(settings, url=own_server.url, name="restart test")
    try:
        yield client
    finally:
        await client.close()


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
async def test_restart_loses_no_acknowledged_event_and_actors_reconnect(
    own_server: EmbeddedNatsServer,
    own_client: Any,
    settings: Settings,
    ray_cluster: None,
    entity_id: str,
    stop: str,
) -> None:
    """Every event acknowledged before a NATS stop or crash is there after the restart, and the
    actor, reconnecting by itself, folds the events appended afterwards."""
    own_log, _ = await prepare_storage(own_client.jetstream(), settings)
    await own_log.append(
        ExperimentCreated(event_id=f"{entity_id}-c", entity_id=entity_id, at=0.0, arms=("a", "b"))
    )
    actor: Any = spawn_actor(settings, "experiment", entity_id, own_server.url)
    acked = await own_log.append_many(traffic(entity_id, 0, 3_000))
    await caught_up(actor, acked[-1].seq)

    await asyncio.to_thread(own_server.stop if stop == "sigterm" else own_server.kill)
    await asyncio.to_thread(own_server.start)

    async def log_answers() -> bool:
        # A request sent before the client noticed the restart is lost (NATS core is
        # at-most-once) and times out; an idempotent read is simply asked again.
        try:
            await asyncio.wait_for(own_log.head_seq(), 1.0)
        except (TimeoutError, nats.errors.Error):
            return False
        return True

    await eventually(log_answers, bool, within_s=30)

    async def read_ids() -> list[str]:
        return [
            r.event.event_id
            async for chunk in own_log.read_entity("experiment", entity_id)
            for r in chunk
        ]

    stored = [i for i in await read_ids() if not i.startswith("checkpoint:")]
    assert stored[1:] == [e.event_id for e in traffic(entity_id, 0, 3_000)]

    later = await own_log.append_many(traffic(entity_id, 10_000, 1_000))
    status = await caught_up(actor, later[-1].seq)
    # The actor may have appended a checkpoint record since: compare at its own sequence.
    assert status.digest == await scratch_digest(own_log, entity_id, status.seq)
    await actor.stop.remote()
