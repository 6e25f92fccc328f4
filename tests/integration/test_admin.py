"""Admin requests over real NATS: lifecycle commands, clear errors, dead letters, no forks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from nats.js import api

from events.dead_letter import DEAD_LETTER_STREAM, DeadLetter, DeadLetterLog
from events.log import EventLog
from events.schema import ExperimentArchived, ExperimentCompleted, ExperimentCreated
from events.subjects import LOG_SUBJECTS
from gateway.admin import AdminService

CREATE = "llmopt.admin.experiment.create"
ARCHIVE = "llmopt.admin.experiment.archive"
STOP = "llmopt.admin.experiment.stop"


@pytest.fixture
async def admin(nc: Any, storage: tuple[EventLog, DeadLetterLog]) -> AsyncIterator[AdminService]:
    service = AdminService(nc, *storage)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def ask(nc: Any, subject: str, body: Any) -> dict[str, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    reply = await nc.request(subject, data, timeout=5.0)
    decoded: dict[str, Any] = json.loads(reply.data)
    return decoded


async def dead_letters_about(nc: Any, marker: str) -> list[DeadLetter]:
    """Dead letters whose payload mentions ``marker`` (each test uses its own entity id)."""
    js = nc.jetstream()
    config = api.ConsumerConfig(ack_policy=api.AckPolicy.NONE, inactive_threshold=10.0)
    sub = await js.pull_subscribe("llmopt.deadletter.>", stream=DEAD_LETTER_STREAM, config=config)
    pending = (await sub.consumer_info()).num_pending
    letters: list[DeadLetter] = []
    while pending > 0:
        msgs = await sub.fetch(min(pending, 256), timeout=5.0)
        pending -= len(msgs)
        letters += [msgspec.json.decode(m.data, type=DeadLetter) for m in msgs]
    await sub.unsubscribe()
    return [letter for letter in letters if marker in letter.payload]


async def lifecycle(event_log: EventLog, entity_id: str) -> list[Any]:
    return [
        r.event async for chunk in event_log.read_entity("experiment", entity_id) for r in chunk
    ]


class TestCreate:
    async def test_create_appends_the_creation_event(
        self, nc: Any, admin: AdminService, event_log: EventLog, entity_id: str
    ) -> None:
        """A valid create is acknowledged with the log sequence of its ExperimentCreated event."""
        reply = await ask(
            nc,
            CREATE,
            {
                "experiment_id": entity_id,
                "arms": ["gpt-4", "mixtral"],
                "fallback_arm": "gpt-4",
                "seed": 7,
            },
        )
        assert reply["ok"] is True and reply["experiment_id"] == entity_id
        [event] = await lifecycle(event_log, entity_id)
        assert isinstance(event, ExperimentCreated)
        assert (event.arms, event.fallback_arm, event.seed) == (("gpt-4", "mixtral"), "gpt-4", 7)
        assert reply["seq"] == await event_log.last_subject_seq(
            f"llmopt.log.experiment.{entity_id}.lifecycle"
        )

    async def test_creating_twice_is_a_clear_error(
        self, nc: Any, admin: AdminService, event_log: EventLog, entity_id: str
    ) -> None:
        """A second create of the same experiment is refused with already_exists."""
        await ask(nc, CREATE, {"experiment_id": entity_id, "arms": ["a"]})
        reply = await ask(nc, CREATE, {"experiment_id": entity_id, "arms": ["b"]})
        assert reply == {
            "error": {
                "code": "already_exists",
                "message": f"experiment '{entity_id}' exists",
                "field": "experiment_id",
            }
        }
        assert len(await lifecycle(event_log, entity_id)) == 1

    async def test_a_retried_request_id_is_answered_with_the_first_result(
        self, nc: Any, admin: AdminService, event_log: EventLog, entity_id: str
    ) -> None:
        """The same request_id sent twice creates once and answers both with the same sequence."""
        body = {"experiment_id": entity_id, "arms": ["a"], "request_id": "r-1"}
        first, second = await ask(nc, CREATE, body), await ask(nc, CREATE, body)
        assert first["seq"] == second["seq"] and second["duplicate"] is True
        assert len(await lifecycle(event_log, entity_id)) == 1

    async def test_concurrent_creates_make_one_experiment(
        self, nc: Any, admin: AdminService, event_log: EventLog, entity_id: str
    ) -> None:
        """Twenty clients creating the same experiment at once: one succeeds, the rest are told it exists."""
        replies = await asyncio.gather(
            *(
                ask(nc, CREATE, {"experiment_id": entity_id, "arms": [f"arm-{i}"]})
                for i in range(20)
            )
        )
        ok = [r for r in replies if r.get("ok")]
        refused = [r["error"]["code"] for r in replies if "error" in r]
        assert len(ok) == 1
        assert set(refused) <= {"already_exists", "conflict"} and len(refused) == 19
        assert len(await lifecycle(event_log, entity_id)) == 1


class TestArchive:
    async def test_archive_then_archive_again(
        self, nc: Any, admin: AdminService, event_log: EventLog, entity_id: str
    ) -> None:
        """A running experiment must be stopped before it is archived; archiving appends
        ExperimentArchived once; archiving again is an invalid transition."""
        await ask(nc, CREATE, {"experiment_id": entity_id, "arms": ["a"]})
        running = await ask(nc, ARCHIVE, {"experiment_id": entity_id})
        assert running["error"]["code"] == "invalid_transition"
        assert (await ask(nc, STOP, {"experiment_id": entity_id}))["ok"]
        assert (await ask(nc, ARCHIVE, {"experiment_id": entity_id, "reason": "done"}))["ok"]
        again = await ask(nc, ARCHIVE, {"experiment_id": entity_id})
        assert again["error"]["code"] == "invalid_transition"
        events = await lifecycle(event_log, entity_id)
        assert [type(e) for e in events] == [
            ExperimentCreated,
            ExperimentCompleted,
            ExperimentArchived,
        ]

    async def test_archiving_an_unknown_experiment_is_not_found(
        self, nc: Any, admin: AdminService, entity_id: str
    ) -> None:
        """Archiving an experiment that was never created names the field and says why."""
        reply = await ask(nc, ARCHIVE, {"experiment_id": entity_id})
        assert reply["error"]["code"] == "not_found"
        assert reply["error"]["field"] == "experiment_id"


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "code", "field"),
        [
            (b"{not json", "malformed", None),
            (b"", "invalid_request", None),
            ({"experiment_id": "ID", "arms": "gpt-4"}, "invalid_request", "arms"),
            ({"experiment_id": "ID", "arms": ["a", 3]}, "invalid_request", "arms[1]"),
            ({"experiment_id": "ID"}, "invalid_request", "arms"),
            ({"experiment_id": "ID", "arms": ["a"], "colour": "red"}, "invalid_request", "colour"),
            ({"experiment_id": "ID.with.dots", "arms": ["a"]}, "invalid_request", "experiment_id"),
            ({"experiment_id": "ID", "arms": []}, "invalid_request", "arms"),
            ({"experiment_id": "ID", "arms": ["a", "a"]}, "invalid_request", "arms"),
            (
                {"experiment_id": "ID", "arms": ["a"], "fallback_arm": "b"},
                "invalid_request",
                "fallback_arm",
            ),
        ],
    )
    async def test_invalid_input_gets_an_error_and_a_dead_letter(
        self,
        nc: Any,
        admin: AdminService,
        event_log: EventLog,
        entity_id: str,
        body: Any,
        code: str,
        field: str | None,
    ) -> None:
        """Invalid input is answered with the code and field, recorded as a dead letter, and never logged."""
        if isinstance(body, dict):
            body = json.loads(json.dumps(body).replace('"ID', f'"{entity_id}'))
            marker = entity_id
        else:
            marker = body.decode()
        head = await event_log.head_seq()
        reply = await ask(nc, CREATE, body)
        assert reply["error"]["code"] == code
        assert reply["error"].get("field") == field
        assert reply["error"]["message"]
        # Other tests' services share the log and may append meanwhile: none of it is ours.
        async for chunk in event_log.read(LOG_SUBJECTS, from_seq=head + 1):
            assert not [r for r in chunk if r.event.entity_id.startswith(entity_id)]
        letters = [d for d in await dead_letters_about(nc, marker) if d.code == code]
        assert letters and letters[-1].field == field
        assert letters[-1].subject == CREATE
        # The service keeps serving after refusing input.
        assert (await ask(nc, CREATE, {"experiment_id": f"{entity_id}-ok", "arms": ["a"]}))["ok"]

    async def test_msgpack_requests_get_msgpack_replies(
        self, nc: Any, admin: AdminService, entity_id: str
    ) -> None:
        """A client that sends msgpack with its content type is answered in msgpack."""
        reply = await nc.request(
            CREATE,
            msgspec.msgpack.encode({"experiment_id": entity_id, "arms": ["a"]}),
            headers={"Content-Type": "application/msgpack"},
            timeout=5.0,
        )
        assert msgspec.msgpack.decode(reply.data)["ok"] is True
