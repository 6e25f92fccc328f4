"""The online feature store against a real nats-server: KV records served by request-reply."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from actors.feature_cache import STALE_READS
from actors.feature_store import FeatureRecord, feature_bucket, feature_key
from actors.windows.window_stats import WindowStats
from gateway.features import FeatureServer
from tests.waiting import eventually

NOW = 1_800_000_000.0
GET_SUBJECT = "test.features.get"
GET_BATCH_SUBJECT = "test.features.get_batch"
"""The servers of these tests answer here, so the session's ``Services`` (real clock) never do."""


class Clock:
    """A wall clock the test sets, so ageing a value needs no sleep."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def stats(p95: float) -> WindowStats:
    return WindowStats(
        count=10,
        value_count=10,
        total=1000.0,
        mean=100.0,
        low=50.0,
        high=200.0,
        std=20.0,
        error_rate=0.1,
        cost_total=0.5,
        p50=95.0,
        p95=p95,
        p99=199.0,
    )


@pytest.fixture
async def server(nc: Any) -> AsyncIterator[tuple[FeatureServer, Clock]]:
    clock = Clock()
    running = FeatureServer(nc, clock=clock, subjects=(GET_SUBJECT, GET_BATCH_SUBJECT))
    await running.start()
    try:
        yield running, clock
    finally:
        await running.stop()


async def put(nc: Any, window: str, key: str, p95: float, computed_at: float) -> None:
    kv = await feature_bucket(nc.jetstream())
    record = FeatureRecord(
        window=window,
        kind="tumbling_60s",
        key=key,
        start=computed_at - 60,
        end=computed_at,
        revision=0,
        computed_at=computed_at,
        ttl_s=300.0,
        features=stats(p95),
    )
    await kv.put(feature_key(window, "tumbling_60s", key), msgspec.json.encode(record))


async def ask(nc: Any, subject: str, body: Any) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=5.0)
    result: dict[str, Any] = json.loads(reply.data)
    return result


async def test_fresh_value_is_served(
    nc: Any, server: tuple[FeatureServer, Clock], entity_id: str
) -> None:
    """A value put into the bucket is served, with its age, once the watch has seen it."""

    await put(nc, entity_id, "gpt-4o|pro", 180.0, NOW - 30)
    request = {
        "window": entity_id,
        "kind": "tumbling_60s",
        "key": "gpt-4o|pro",
        "features": ["p95", "error_rate"],
    }
    body = await eventually(lambda: ask(nc, GET_SUBJECT, request), lambda b: b.get("found"))
    assert body["values"] == {"p95": 180.0, "error_rate": 0.1}
    assert body["stale"] is False and body["age_s"] == pytest.approx(30.0)
    assert body["defaults_used"] == []


async def test_stale_value_falls_back_to_defaults_and_is_counted(
    nc: Any, server: tuple[FeatureServer, Clock], entity_id: str
) -> None:
    """Past its TTL a value is answered with the features' defaults, and the stale read counted."""
    _, clock = server
    await put(nc, entity_id, "m", 180.0, NOW)
    request = {
        "window": entity_id,
        "kind": "tumbling_60s",
        "key": "m",
        "features": ["p95", "count"],
    }
    await eventually(lambda: ask(nc, GET_SUBJECT, request), lambda b: b.get("found"))
    before = STALE_READS.labels(entity_id, "tumbling_60s", "stale")._value.get()
    clock.now = NOW + 301
    body = await ask(nc, GET_SUBJECT, request)
    assert body["stale"] is True
    assert body["values"] == {"p95": None, "count": 0}
    assert body["defaults_used"] == ["p95", "count"]
    assert STALE_READS.labels(entity_id, "tumbling_60s", "stale")._value.get() == before + 1


async def test_missing_key_answers_defaults(
    nc: Any, server: tuple[FeatureServer, Clock], entity_id: str
) -> None:
    """A key with no value yet is answered (found: false) with defaults, not an error."""
    body = await ask(nc, GET_SUBJECT, {"window": entity_id, "kind": "tumbling_60s", "key": "none"})
    assert body["found"] is False and body["values"]["count"] == 0 and body["values"]["p95"] is None


async def test_batch_answers_in_order(
    nc: Any, server: tuple[FeatureServer, Clock], entity_id: str
) -> None:
    """A batch returns one result per request, in request order."""
    await put(nc, entity_id, "a", 1.0, NOW)
    await put(nc, entity_id, "b", 2.0, NOW)
    request = {
        "requests": [
            {"window": entity_id, "kind": "tumbling_60s", "key": k, "features": ["p95"]}
            for k in ("b", "a", "c")
        ]
    }
    body = await eventually(
        lambda: ask(nc, GET_BATCH_SUBJECT, request),
        lambda b: [r["found"] for r in b.get("results", [])] == [True, True, False],
    )
    assert [r["values"]["p95"] for r in body["results"]] == [2.0, 1.0, None]


@pytest.mark.parametrize(
    ("subject", "body", "code", "field"),
    [
        (GET_SUBJECT, {"window": "w", "kind": "k"}, "invalid_request", "key"),
        (
            GET_SUBJECT,
            {"window": "w", "kind": "k", "key": "x", "features": ["p42"]},
            "invalid_request",
            "features[0]",
        ),
        (
            GET_SUBJECT,
            {"window": "w", "kind": "k", "key": "x", "extra": 1},
            "invalid_request",
            "extra",
        ),
        (
            GET_BATCH_SUBJECT,
            {"requests": [{"window": "w", "kind": "k", "key": "x", "features": ["nope"]}]},
            "invalid_request",
            "requests[0].features[0]",
        ),
    ],
)
async def test_bad_requests_get_an_error_naming_the_field(
    nc: Any, server: tuple[FeatureServer, Clock], subject: str, body: Any, code: str, field: str
) -> None:
    """An invalid request is answered with {"error": {code, message, field}}, never dropped."""
    reply = await ask(nc, subject, body)
    assert reply["error"]["code"] == code
    assert reply["error"]["field"] == field
    assert reply["error"]["message"]


async def test_malformed_json_is_refused(nc: Any, server: tuple[FeatureServer, Clock]) -> None:
    """A body that is not JSON gets a ``malformed`` error."""
    reply = await nc.request(GET_SUBJECT, b"{not json", timeout=5.0)
    assert json.loads(reply.data)["error"]["code"] == "malformed"
