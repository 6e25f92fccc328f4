"""Actors on a real Ray cluster and a real JetStream: crash, corruption, and restart recovery."""

from __future__ import annotations

import os
import signal
from typing import Any

import msgspec
import nats.js.errors
import pytest

from actors.checkpoint import CheckpointStore, make_checkpoint
from actors.experiment_ledger import ExperimentLedger
from actors.host import consumer_name
from events.log import LOG_STREAM, EventLog
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import (
    actor_of,
    caught_up,
    create_experiment,
    last_entity_seq,
    scratch_digest,
    status_of,
    traffic,
)
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def sigkill(actor: Any) -> int:
    pid: int = await actor.pid.remote()
    os.kill(pid, signal.SIGKILL)
    return pid


class TestCrashRecovery:
    async def test_sigkilled_actor_comes_back_with_the_replayed_state(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """An actor killed with SIGKILL in the middle of 10,000 events restarts by itself, and its
        digest equals a from-scratch replay of the same log."""
        await create_experiment(nc, entity_id)
        actor = await actor_of(settings, entity_id)
        events = traffic(entity_id, 0, 10_000)
        await event_log.append_many(events[:5_000])
        await caught_up(actor, await last_entity_seq(event_log, entity_id))
        # Due every 500 events in the test settings; a fold faster than the saves coalesces them.
        await eventually(
            lambda: status_of(actor), lambda s: s is not None and s.checkpoints_taken >= 1
        )

        killed = await sigkill(actor)
        await event_log.append_many(events[5_000:])
        head = await last_entity_seq(event_log, entity_id)
        after = await caught_up(actor, head)

        assert after.pid != killed
        assert after.recovered_from_seq > 0  # it started from a checkpoint, not from scratch
        assert after.digest == await scratch_digest(event_log, entity_id, after.seq)
        arms = after.summary["arms"]
        assert sum(arm["decisions"] for arm in arms.values()) == 5_556

    async def test_a_corrupted_checkpoint_is_skipped_and_the_state_rebuilt(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """After a crash, a newest checkpoint that fails its digest is skipped; the state is rebuilt
        from an older checkpoint or the log and equals a from-scratch replay."""
        await create_experiment(nc, entity_id)
        actor = await actor_of(settings, entity_id)
        await event_log.append_many(traffic(entity_id, 0, 1_200))
        head = await last_entity_seq(event_log, entity_id)
        await caught_up(actor, head)

        honest = ExperimentLedger.initial(entity_id).to_bytes()
        forged = make_checkpoint(
            "experiment", entity_id, head, ExperimentLedger.STATE_VERSION, honest
        )
        damaged = msgspec.structs.replace(forged, digest="0" * 64)
        await CheckpointStore(nc.jetstream()).save(damaged)
        await sigkill(actor)

        status = await eventually(
            lambda: status_of(actor),
            lambda s: s is not None and s.ready and s.checkpoints_skipped >= 1 and s.seq >= head,
            within_s=90,
        )
        assert status is not None
        assert status.digest == await scratch_digest(event_log, entity_id, status.seq)


class TestDirectory:
    async def test_actor_is_created_by_its_creation_event_and_stopped_by_archival(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """Creating an experiment starts an actor findable by name; archiving it stops the actor."""
        seq = await create_experiment(nc, entity_id)
        actor = await actor_of(settings, entity_id)
        status = await caught_up(actor, seq)
        assert status.summary["created"] is True
        assert services.directory is not None
        assert services.directory.entities.is_live("experiment", entity_id)

        for action in ("stop", "archive"):
            reply = await nc.request(
                f"llmopt.admin.experiment.{action}",
                f'{{"experiment_id": "{entity_id}"}}'.encode(),
                timeout=5.0,
            )
            assert b'"ok":true' in reply.data

        async def gone() -> bool:
            return await status_of(actor) is None

        await eventually(gone, bool, within_s=60)
        assert not services.directory.entities.is_live("experiment", entity_id)

        async def consumer_removed() -> bool:
            try:
                await nc.jetstream().consumer_info(
                    LOG_STREAM, consumer_name("experiment", entity_id)
                )
            except nats.js.errors.NotFoundError:
                return True
            return False

        await eventually(consumer_removed, bool, within_s=30)
