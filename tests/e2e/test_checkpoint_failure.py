"""A checkpoint the server refuses (larger than its max payload) must not stop the actor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from actors.entity_actor import spawn_actor
from events.schema import DecisionMade, ExperimentCreated
from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer
from llmopt.runtime import prepare_storage
from llmopt.settings import Settings
from tests.e2e.helpers import caught_up

pytestmark = pytest.mark.slow


@pytest.fixture
def small_server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    server = EmbeddedNatsServer(tmp_path / "nats", max_payload=64 * 1024)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_an_oversized_checkpoint_is_counted_and_the_actor_keeps_folding(
    small_server: EmbeddedNatsServer, settings: Settings, ray_cluster: None, entity_id: str
) -> None:
    """When checkpoints outgrow the server's max payload, the actor logs and counts the failure
    and goes on folding the log instead of restarting in a loop."""
    own = msgspec.structs.replace(
        settings, nats_url=small_server.url, nats_max_payload=64 * 1024, checkpoint_every_events=500
    )
    client = await connect(own, name="checkpoint failure test")
    try:
        event_log, _ = await prepare_storage(client.jetstream(), own)
        await event_log.append(
            ExperimentCreated(
                event_id=f"{entity_id}-c", entity_id=entity_id, at=0.0, arms=("a", "b")
            )
        )
        actor = spawn_actor(own, "experiment", entity_id, small_server.url)
        # Decisions without outcomes: the pending table, and so the state, grows past 64 KiB.
        acks = await event_log.append_many(
            [
                DecisionMade(
                    event_id=f"{entity_id}-d{i}",
                    entity_id=entity_id,
                    at=float(i),
                    decision_id=f"{entity_id}-d{i}",
                    arm="ab"[i % 2],
                    propensity=0.5,
                )
                for i in range(5_000)
            ]
        )
        status = await caught_up(actor, acks[-1].seq)
        assert status.checkpoints_failed >= 1
        assert status.recoveries == 1
        assert status.summary["pending_decisions"] == 5_000
        await actor.stop.remote()
    finally:
        await client.close()
