"""Projections caught up from the real log: exactly once across failures, rebuild equals catch-up."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from events.log import EventLog, Recorded
from events.schema import DecisionsMade
from events.subjects import entity_filter
from projections.projector import Batch
from projections.read_models import build_projector
from projections.runner import ProjectionRunner
from projections.tables import snapshot
from tests.projection_scenario import batched, created, traffic
from tests.waiting import eventually


def runner_for(
    event_log: EventLog, db: Path, experiment: str, **kwargs: object
) -> ProjectionRunner:
    """A runner that sees only this test's experiment (the session log is shared)."""
    return ProjectionRunner(
        event_log,
        db,
        filter_subject=entity_filter("experiment", experiment),
        **kwargs,  # type: ignore[arg-type]
    )


async def reference(
    event_log: EventLog, path: Path, experiment: str, to_seq: int | None = None
) -> Database:
    """The tables rebuilt from zero in one go, to compare with."""
    runner = runner_for(event_log, path, experiment)
    await runner.rebuild(to_seq=to_seq)
    return runner.db


class TestExactlyOnce:
    async def test_a_projection_failing_mid_stream_resumes_without_counting_twice(
        self, event_log: EventLog, entity_id: str, tmp_path: Path
    ) -> None:
        """An exception after N events keeps every whole batch before it; a restart completes the rest once."""
        await event_log.append_many([created(entity_id), *traffic(entity_id, 300)])
        projector = build_projector()
        seen = 0

        def crash_after_150(db: Database, record: Recorded, batch: Batch) -> None:
            nonlocal seen
            seen += 1
            if seen == 150:
                raise RuntimeError("killed mid-stream")

        projector.on("DecisionMade", crash_after_150)
        path = tmp_path / "projections.db"
        failing = runner_for(event_log, path, entity_id, projector=projector, batch=37)
        with pytest.raises(RuntimeError, match="killed mid-stream"):
            await failing.catch_up()
        stopped_at = failing.position
        head = await event_log.last_subject_seq(f"llmopt.log.experiment.{entity_id}.decision")
        assert 0 < stopped_at < head
        partial = await reference(event_log, tmp_path / "partial.db", entity_id, stopped_at)
        assert snapshot(failing.db) == snapshot(partial)
        failing.db.close()

        resumed = runner_for(event_log, path, entity_id, batch=37)
        result = await resumed.catch_up()
        assert result.from_seq == stopped_at
        full = await reference(event_log, tmp_path / "full.db", entity_id)
        assert snapshot(resumed.db) == snapshot(full)
        assert resumed.db.execute("SELECT COUNT(*) FROM decisions").fetchone() == (300,)
        assert resumed.db.execute("SELECT SUM(decisions) FROM arm_hourly").fetchone() == (300,)

    async def test_a_cancelled_catch_up_resumes_where_it_stopped(
        self, event_log: EventLog, entity_id: str, tmp_path: Path
    ) -> None:
        """Cancelling the catch-up task mid-stream loses nothing and, resumed, counts nothing twice."""
        await event_log.append_many([created(entity_id), *traffic(entity_id, 200, seed=3)])
        projector = build_projector()
        path = tmp_path / "projections.db"
        runner = runner_for(event_log, path, entity_id, projector=projector, batch=25)
        task = asyncio.create_task(runner.catch_up())
        seen = 0

        def cancel_after_90(db: Database, record: Recorded, batch: Batch) -> None:
            nonlocal seen
            seen += 1
            if seen == 90:
                task.cancel()

        projector.on("OutcomeObserved", cancel_after_90)
        with pytest.raises(asyncio.CancelledError):
            await task
        stopped_at = runner.position
        assert stopped_at > 0
        partial = await reference(event_log, tmp_path / "partial.db", entity_id, stopped_at)
        assert snapshot(runner.db) == snapshot(partial)

        resumed = runner_for(event_log, path, entity_id, batch=25)
        await resumed.catch_up()
        full = await reference(event_log, tmp_path / "full.db", entity_id)
        assert snapshot(resumed.db) == snapshot(full)


class TestRebuild:
    async def test_rebuild_from_zero_equals_the_incremental_tables(
        self, event_log: EventLog, entity_id: str, tmp_path: Path
    ) -> None:
        """Tables caught up while traffic kept coming equal those rebuilt from sequence 1."""
        runner = runner_for(event_log, tmp_path / "live.db", entity_id, batch=50)
        await event_log.append(created(entity_id))
        # Up to the head after each append: the session's directory runs an actor for this
        # experiment too, and its checkpoints may land in the log at any time.
        for part in range(3):
            await event_log.append_many(traffic(entity_id, 120, start=part * 120))
            head = await event_log.head_seq()
            await runner.catch_up(to_seq=head)
        incremental = snapshot(runner.db)
        assert len(incremental["decisions"]) == 360
        assert len(incremental["experiment_results"]) == 3
        assert len(incremental["checkpoints"]) >= 9

        other = await reference(event_log, tmp_path / "rebuilt.db", entity_id, to_seq=head)
        assert snapshot(other) == incremental
        await runner.rebuild()
        assert snapshot(runner.db) == incremental

    async def test_catch_up_with_nothing_new_changes_nothing(
        self, event_log: EventLog, entity_id: str, tmp_path: Path
    ) -> None:
        """A second catch-up with no new events applies none and keeps the position."""
        await event_log.append_many([created(entity_id), *traffic(entity_id, 20)])
        runner = runner_for(event_log, tmp_path / "p.db", entity_id)
        first = await runner.catch_up()
        again = await runner.catch_up()
        assert first.events > 0
        assert (again.events, again.position) == (0, first.position)


class TestBatchedDecisions:
    async def test_decisions_logged_together_project_as_if_logged_alone(
        self, event_log: EventLog, entity_id: str, tmp_path: Path
    ) -> None:
        """The same traffic with its decisions in DecisionsMade batches gives the same rows."""
        alone, together = f"{entity_id}-alone", f"{entity_id}-together"
        await event_log.append_many([created(alone), *traffic(alone, 150, seed=5)])
        batches = batched(traffic(together, 150, seed=5), size=7)
        assert any(isinstance(e, DecisionsMade) for e in batches)
        await event_log.append_many([created(together), *batches])

        async def rows(experiment: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            db = (await reference(event_log, tmp_path / f"{experiment}.db", experiment)).conn
            decisions = db.execute(
                "SELECT arm, propensity, at, hour, context FROM decisions ORDER BY at"
            ).fetchall()
            hourly = db.execute(
                "SELECT * FROM arm_hourly WHERE experiment_id = ? ORDER BY arm, hour",
                [experiment],
            ).fetchall()
            return decisions, [row[1:] for row in hourly]

        alone_rows, together_rows = await rows(alone), await rows(together)
        assert len(alone_rows[0]) == 150
        assert together_rows == alone_rows


PROJECT_ROOT = Path(__file__).resolve().parents[2]
KILLED_PROCESS = """
import asyncio, os, sys
from events.log import EventLog
from events.subjects import entity_filter
from gateway.connection import connect
from llmopt.settings import Settings
from projections.read_models import build_projector
from projections.runner import ProjectionRunner

url, db, experiment, die_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
seen = 0

def die(db, record, batch):
    global seen
    seen += 1
    if seen == die_after:
        os._exit(9)  # no rollback, no close: as if the process were killed

async def main():
    nc = await connect(Settings(nats_url=url), url=url, name="killed projection")
    projector = build_projector()
    projector.on("OutcomeObserved", die)
    runner = ProjectionRunner(
        EventLog(nc.jetstream()), db, projector=projector,
        filter_subject=entity_filter("experiment", experiment), batch=40,
    )
    await runner.catch_up()

asyncio.run(main())
"""


async def test_a_killed_process_resumes_without_counting_twice(
    event_log: EventLog, settings: Any, entity_id: str, tmp_path: Path
) -> None:
    """A process that dies inside a batch's transaction leaves the last committed batch; a new one finishes once."""
    await event_log.append_many([created(entity_id), *traffic(entity_id, 250, seed=4)])
    path = tmp_path / "projections.db"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        KILLED_PROCESS,
        settings.nats_url,
        str(path),
        entity_id,
        "120",
        cwd=str(PROJECT_ROOT),
    )
    assert await proc.wait() == 9
    resumed = runner_for(event_log, path, entity_id, batch=40)
    stopped_at = resumed.position
    assert stopped_at > 0
    partial = await reference(event_log, tmp_path / "partial.db", entity_id, stopped_at)
    assert snapshot(resumed.db) == snapshot(partial)
    finished = await resumed.catch_up()
    assert finished.from_seq == stopped_at < finished.position
    full = await reference(event_log, tmp_path / "full.db", entity_id)
    assert snapshot(resumed.db) == snapshot(full)


async def test_follow_applies_new_events_until_stopped(
    event_log: EventLog, entity_id: str, tmp_path: Path
) -> None:
    """A following runner picks up events appended after it started, and returns when stopped."""
    runner = runner_for(event_log, tmp_path / "p.db", entity_id)
    stop = asyncio.Event()
    task = asyncio.create_task(runner.follow(stop, poll_s=0.05))
    await event_log.append_many([created(entity_id), *traffic(entity_id, 30)])

    async def decisions() -> int:
        return int(runner.db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    assert await eventually(decisions, lambda n: n == 30) == 30
    stop.set()
    await asyncio.wait_for(task, 10)
