"""Session fixtures: one real nats-server and one real local Ray cluster for the whole run.

Both are started by handle and stopped by handle. Tests that need a server of their own
(restarts, crashes) start one in their own fixture.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import ray

from events.dead_letter import DeadLetterLog
from events.log import EventLog
from gateway.connection import connect
from gateway.nats_server import EmbeddedNatsServer
from llmopt.runtime import Services, prepare_storage
from llmopt.settings import Settings

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNatsServer]:
    server = EmbeddedNatsServer(tmp_path_factory.mktemp("nats"), sync_interval="1s")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def settings(nats_server: EmbeddedNatsServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        state_dir=tmp_path_factory.mktemp("state"),
        nats_url=nats_server.url,
        ray_namespace="llmopt-test",
        checkpoint_every_events=500,
        checkpoint_every_seconds=5.0,
    )


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """A local Ray cluster; CPU count pinned so the suite behaves alike on every machine."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    ray.init(num_cpus=2, namespace="llmopt-test", include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
async def nc(settings: Settings) -> AsyncIterator[Any]:
    client = await connect(settings, name="tests")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture(scope="session")
async def storage(nc: Any, settings: Settings) -> tuple[EventLog, DeadLetterLog]:
    return await prepare_storage(nc.jetstream(), settings)


@pytest.fixture
def event_log(storage: tuple[EventLog, DeadLetterLog]) -> EventLog:
    return storage[0]


@pytest.fixture(scope="session")
async def services(
    settings: Settings, storage: Any, ray_cluster: None, nats_server: EmbeddedNatsServer
) -> AsyncIterator[Services]:
    """The directory and the admin gateway, as ``llmopt serve`` runs them."""
    running = Services(settings, nats_server.url)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def entity_id(request: pytest.FixtureRequest) -> str:
    """An id no other test uses, readable in logs."""
    name = request.node.name.split("[")[0].removeprefix("test_")[:40].replace("_", "-")
    return f"{name}-{next(_ids)}-{os.getpid()}"
