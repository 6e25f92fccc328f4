"""Creating and archiving feature windows over NATS, against the real log."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from events.log import EventLog
from events.schema import FeatureWindowArchived, FeatureWindowDefined
from events.subjects import entity_subject
from gateway.window_admin import ARCHIVE_SUBJECT, CREATE_SUBJECT, WindowAdminService

CONFIG = {"experiment": "exp-1", "windows": [{"type": "tumbling", "size": 60}]}


@pytest.fixture
async def admin(nc: Any, event_log: EventLog) -> AsyncIterator[WindowAdminService]:
    service = WindowAdminService(nc, event_log)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


async def ask(nc: Any, subject: str, body: Any) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=10.0)
    result: dict[str, Any] = json.loads(reply.data)
    return result


async def lifecycle(event_log: EventLog, window_id: str) -> list[Any]:
    subject = entity_subject("window", window_id, "lifecycle")
    return [r.event async for chunk in event_log.read(subject) for r in chunk]


async def test_create_appends_the_full_config(
    nc: Any, event_log: EventLog, admin: WindowAdminService, entity_id: str
) -> None:
    """A create appends one FeatureWindowDefined whose config has every default filled in."""
    body = await ask(nc, CREATE_SUBJECT, {"window_id": entity_id, "config": CONFIG})
    assert body["ok"] is True and body["window_id"] == entity_id
    (event,) = await lifecycle(event_log, entity_id)
    assert isinstance(event, FeatureWindowDefined)
    assert event.config["allowed_lateness"] == 60.0 and event.config["key_by"] == ["arm"]
    assert event.config["windows"] == [{"type": "tumbling", "size": 60.0, "offset": 0.0}]


async def test_second_create_is_refused_and_a_retry_is_idempotent(
    nc: Any, event_log: EventLog, admin: WindowAdminService, entity_id: str
) -> None:
    """The same request id answers with the first result; another create is already_exists."""
    request = {"window_id": entity_id, "config": CONFIG, "request_id": "r1"}
    first = await ask(nc, CREATE_SUBJECT, request)
    again = await ask(nc, CREATE_SUBJECT, request)
    assert again == {**first, "duplicate": True}
    other = await ask(nc, CREATE_SUBJECT, {"window_id": entity_id, "config": CONFIG})
    assert other["error"]["code"] == "already_exists"
    assert len(await lifecycle(event_log, entity_id)) == 1


async def test_archive_after_create(
    nc: Any, event_log: EventLog, admin: WindowAdminService, entity_id: str
) -> None:
    """Archiving a window appends FeatureWindowArchived; archiving an unknown one is not_found."""
    missing = await ask(nc, ARCHIVE_SUBJECT, {"window_id": entity_id})
    assert missing["error"]["code"] == "not_found"
    await ask(nc, CREATE_SUBJECT, {"window_id": entity_id, "config": CONFIG})
    body = await ask(nc, ARCHIVE_SUBJECT, {"window_id": entity_id, "reason": "done"})
    assert body["ok"] is True
    assert isinstance((await lifecycle(event_log, entity_id))[-1], FeatureWindowArchived)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"window_id": "a.b", "config": CONFIG}, "window_id"),
        ({"window_id": "w", "config": {**CONFIG, "windows": []}}, "config"),
        (
            {"window_id": "w", "config": {**CONFIG, "windows": [{"type": "tumbling", "size": 0}]}},
            "config.windows[0]",
        ),
        ({"window_id": "w", "config": {**CONFIG, "metric": "vibes"}}, "config.metric"),
        ({"window_id": "w"}, "config"),
    ],
)
async def test_invalid_requests_name_the_field(
    nc: Any, admin: WindowAdminService, body: Any, field: str
) -> None:
    """An invalid create is refused with invalid_request naming the field; nothing appended."""
    reply = await ask(nc, CREATE_SUBJECT, body)
    assert reply["error"]["code"] == "invalid_request"
    assert reply["error"]["field"] == field
