"""Lifecycle admin requests over real NATS: start/pause/resume/stop/promote, idempotent, clear refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.dead_letter import DeadLetterLog
from events.log import EventLog
from events.schema import (
    ChallengerPromoted,
    ExperimentArchived,
    ExperimentCompleted,
    ExperimentCreated,
    ExperimentPaused,
    ExperimentResumed,
    ExperimentStarted,
)
from gateway.admin import AdminService, read_lifecycle

PREFIX = "llmopt.admin.experiment"


@pytest.fixture
async def admin(nc: Any, storage: tuple[EventLog, DeadLetterLog]) -> AsyncIterator[AdminService]:
    service = AdminService(nc, *storage)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def ask(nc: Any, action: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await nc.request(f"{PREFIX}.{action}", json.dumps(body).encode(), timeout=5.0)
    decoded: dict[str, Any] = json.loads(reply.data)
    return decoded


async def events_of(event_log: EventLog, entity_id: str) -> list[type]:
    return [
        type(r.event)
        async for chunk in event_log.read_entity("experiment", entity_id)
        for r in chunk
    ]


@pytest.mark.usefixtures("admin")
class TestLifecycleRequests:
    async def test_a_draft_walks_the_whole_lifecycle(
        self, nc: Any, storage: tuple[EventLog, DeadLetterLog]
    ) -> None:
        """Draft -> start -> pause -> resume -> stop (winner) -> archive appends one event each."""
        eid = "life-walk"
        assert (await ask(nc, "create", {"experiment_id": eid, "arms": ["a", "b"], "draft": True}))[
            "ok"
        ]
        for action, body in [
            ("start", {"reason": "launch"}),
            ("pause", {"reason": "cost spike"}),
            ("resume", {}),
            ("stop", {"winner": "b", "reason": "b wins"}),
            ("archive", {}),
        ]:
            reply = await ask(nc, action, {"experiment_id": eid, **body})
            assert reply.get("ok"), (action, reply)
        assert await events_of(storage[0], eid) == [
            ExperimentCreated,
            ExperimentStarted,
            ExperimentPaused,
            ExperimentResumed,
            ExperimentCompleted,
            ExperimentArchived,
        ]
        state = await read_lifecycle(storage[0], eid)
        assert (state.stage.status.value, state.stage.champion) == ("archived", "b")

    async def test_an_invalid_transition_is_refused_with_code_and_field(
        self, nc: Any, storage: tuple[EventLog, DeadLetterLog]
    ) -> None:
        """Resuming a running experiment is refused: invalid_transition, the state named, nothing appended."""
        eid = "life-refuse"
        await ask(nc, "create", {"experiment_id": eid, "arms": ["a", "b"]})
        reply = await ask(nc, "resume", {"experiment_id": eid})
        assert reply == {
            "error": {
                "code": "invalid_transition",
                "message": "cannot resume an experiment that is running: resume is allowed only from paused",
                "field": "experiment_id",
            }
        }
        assert await events_of(storage[0], eid) == [ExperimentCreated]

    async def test_a_retried_request_is_applied_once(
        self, nc: Any, storage: tuple[EventLog, DeadLetterLog]
    ) -> None:
        """The same request_id twice gives the same seq, duplicate on the second, one event."""
        eid = "life-retry"
        await ask(nc, "create", {"experiment_id": eid, "arms": ["a", "b"]})
        first = await ask(nc, "pause", {"experiment_id": eid, "request_id": "p-1"})
        second = await ask(nc, "pause", {"experiment_id": eid, "request_id": "p-1"})
        assert first["seq"] == second["seq"] and second["duplicate"] is True
        assert await events_of(storage[0], eid) == [ExperimentCreated, ExperimentPaused]

    async def test_promote_checks_the_arm(
        self, nc: Any, storage: tuple[EventLog, DeadLetterLog]
    ) -> None:
        """Promoting an unknown arm names the field; promoting a real one appends the event once."""
        eid = "life-promote"
        await ask(nc, "create", {"experiment_id": eid, "arms": ["a", "b"]})
        unknown = await ask(nc, "promote", {"experiment_id": eid, "arm": "zz"})
        assert unknown["error"]["code"] == "not_found" and unknown["error"]["field"] == "arm"
        assert (await ask(nc, "promote", {"experiment_id": eid, "arm": "b"}))["ok"]
        again = await ask(nc, "promote", {"experiment_id": eid, "arm": "b"})
        assert again["error"]["code"] == "invalid_transition"
        assert await events_of(storage[0], eid) == [ExperimentCreated, ChallengerPromoted]

    async def test_unknown_experiment_and_bad_fields(self, nc: Any) -> None:
        """An unknown experiment is not_found; an unknown field is invalid_request naming it."""
        missing = await ask(nc, "start", {"experiment_id": "life-none"})
        assert missing["error"]["code"] == "not_found"
        bad = await ask(nc, "pause", {"experiment_id": "life-none", "why": "x"})
        assert bad["error"]["code"] == "invalid_request" and bad["error"]["field"] == "why"
