"""The ``llmopt`` command against the live system: replay, verify, list the log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import ray

from actors.checkpoint import CheckpointStore, make_checkpoint
from actors.experiment_ledger import ExperimentLedger
from events.log import EventLog
from events.schema import ExperimentCreated
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import (
    actor_of,
    caught_up,
    create_experiment,
    last_entity_seq,
    status_of,
    traffic,
)
from tests.waiting import eventually

pytestmark = pytest.mark.slow
LLMOPT = str(Path(sys.executable).parent / "llmopt")


def gcs_address() -> str:
    """The test cluster's address: "auto" could find another cluster on a shared machine."""
    address: str = ray.get_runtime_context().gcs_address
    return address


async def llmopt(settings: Settings, *args: str) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "LLMOPT_NATS_URL": settings.nats_url or "",
        "LLMOPT_RAY_NAMESPACE": settings.ray_namespace,
        "LLMOPT_STATE_DIR": str(settings.state_dir),
    }
    proc = await asyncio.create_subprocess_exec(
        LLMOPT,
        "--log-level",
        "WARNING",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def verify(settings: Settings, entity_id: str) -> tuple[int, str, str]:
    return await llmopt(
        settings,
        "--ray-address",
        gcs_address(),
        "replay",
        "experiment",
        entity_id,
        "--verify",
        "--json",
    )


class TestReplay:
    async def test_replay_prints_the_digest_of_a_from_scratch_fold(
        self, settings: Settings, nc: Any, event_log: EventLog, entity_id: str, storage: Any
    ) -> None:
        """``replay --json`` folds the entity's whole log and prints its sequence and digest."""
        await event_log.append(
            ExperimentCreated(
                event_id=f"{entity_id}-c", entity_id=entity_id, at=0.0, arms=("a", "b")
            )
        )
        await event_log.append_many(traffic(entity_id, 0, 300))
        head = await last_entity_seq(event_log, entity_id)
        code, out, err = await llmopt(settings, "replay", "experiment", entity_id, "--json")
        assert code == 0, err
        report = json.loads(out)
        expected = ExperimentLedger.initial(entity_id)
        async for chunk in event_log.read_entity("experiment", entity_id):
            for recorded in chunk:
                expected.apply(recorded.event)
        assert (report["seq"], report["events_replayed"]) == (head, 301)
        assert report["digest"] == expected.digest()
        assert report["summary"] == json.loads(json.dumps(expected.summary()))
        assert report["summary"]["arms"]["a"]["decisions"] == 84  # even i of 0..166

    async def test_replay_up_to_a_sequence_and_an_event_time(
        self, settings: Settings, event_log: EventLog, entity_id: str, storage: Any
    ) -> None:
        """``--to-seq`` and ``--to-time`` stop the fold at that point of the log."""
        await event_log.append(
            ExperimentCreated(event_id=f"{entity_id}-c", entity_id=entity_id, at=0.0, arms=("a",))
        )
        acks = await event_log.append_many(traffic(entity_id, 0, 100, arms=("a",)))
        code, out, _ = await llmopt(
            settings, "replay", "experiment", entity_id, "--json", "--to-seq", str(acks[9].seq)
        )
        assert code == 0
        assert json.loads(out)["events_replayed"] == 11
        code, out, _ = await llmopt(
            settings, "replay", "experiment", entity_id, "--json", "--to-time", "10.0"
        )
        # Decisions at t=0..10 and outcomes at t+0.5 for t=1..9 (every fifth has none): 11 + 8.
        assert json.loads(out)["events_replayed"] == 1 + 11 + 8

    async def test_verify_matches_the_live_actor_and_catches_a_diverged_one(
        self, services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
    ) -> None:
        """``--verify`` exits 0 when the live actor's digest equals the replay, and 1 when the actor
        recovered from an intact but wrong checkpoint."""
        await create_experiment(nc, entity_id)
        actor = await actor_of(settings, entity_id)
        await event_log.append_many(traffic(entity_id, 0, 400))
        await caught_up(actor, await last_entity_seq(event_log, entity_id))
        code, out, err = await verify(settings, entity_id)
        assert code == 0, err
        assert json.loads(out)["live"]["match"] is True

        status = await status_of(actor)
        assert status is not None
        wrong = ExperimentLedger.initial(entity_id)  # what a buggy build might have saved
        await CheckpointStore(nc.jetstream()).save(
            make_checkpoint(
                "experiment",
                entity_id,
                status.seq,
                ExperimentLedger.STATE_VERSION,
                wrong.to_bytes(),
            )
        )
        os.kill(status.pid, signal.SIGKILL)
        await eventually(
            lambda: status_of(actor),
            lambda s: s is not None and s.pid != status.pid and s.ready,
            within_s=90,
        )
        code, out, err = await verify(settings, entity_id)
        assert code == 1, err
        assert json.loads(out)["live"]["match"] is False


class TestEvents:
    async def test_events_lists_an_entity_as_json_lines(
        self, settings: Settings, event_log: EventLog, entity_id: str, storage: Any
    ) -> None:
        """``events`` prints one JSON object per event with its sequence, subject and body."""
        acks = await event_log.append_many(traffic(entity_id, 0, 5))
        code, out, err = await llmopt(
            settings, "events", "--kind", "experiment", "--entity", entity_id
        )
        assert code == 0, err
        lines = [json.loads(line) for line in out.splitlines()]
        assert [line["seq"] for line in lines] == [a.seq for a in acks]
        assert lines[0]["data"]["type"] == "DecisionMade"
        assert lines[0]["subject"] == f"llmopt.log.experiment.{entity_id}.decision"
