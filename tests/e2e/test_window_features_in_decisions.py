"""A feature window's value joins the decision's context inside the actor, and is logged."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import pytest

from actors.feature_store import FeatureRecord, feature_bucket, feature_key
from actors.windows.window_stats import WindowStats
from events.log import EventLog
from events.schema import decisions_in
from gateway.client import OptimizerClient
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.test_decisions import serving_experiment

pytestmark = pytest.mark.slow


def stats(p95: float) -> WindowStats:
    return WindowStats(
        count=40, value_count=40, total=p95 * 30, mean=p95 * 0.75, low=10.0, high=p95 * 1.2,
        std=5.0, error_rate=0.05, cost_total=0.04, p50=p95 * 0.6, p95=p95, p99=p95 * 1.1,
    )  # fmt: skip


async def test_a_window_value_fills_the_context_the_decision_logs(
    services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
) -> None:
    """An experiment whose config reads a service's p95 latency from a feature window gets it
    filled into the context before deciding (and logged with the decision); a service with no
    value gets the feature's default (missing), and a value the application sent is kept."""
    window = f"{entity_id}-w"
    kv = await feature_bucket(nc.jetstream())
    record = FeatureRecord(
        window=window, kind="tumbling_60s", key="checkout", start=time.time() - 60,
        end=time.time(), revision=0, computed_at=time.time(), ttl_s=3600.0, features=stats(812.5),
    )  # fmt: skip
    await kv.put(feature_key(window, "tumbling_60s", "checkout"), msgspec.json.encode(record))
    config = {
        "policy": "linucb",
        "features": {
            "features": [
                {"kind": "bias", "name": "bias"},
                {"kind": "numeric", "name": "svc_p95_ms", "scale": "log1p"},
            ]
        },
        "window_features": [
            {
                "field": "svc_p95_ms", "window": window, "kind": "tumbling_60s",
                "feature": "p95", "key_from": "service",
            }
        ],
    }  # fmt: skip
    await serving_experiment(nc, settings, entity_id, ["a", "b"], config)
    client = OptimizerClient(nc, timeout_s=5.0)
    filled = await client.decide(entity_id, {"service": "checkout"}, request_id="f1")
    unknown = await client.decide(entity_id, {"service": "search"}, request_id="f2")
    sent = await client.decide(
        entity_id, {"service": "checkout", "svc_p95_ms": 3.0}, request_id="f3"
    )

    logged = {
        decision.decision_id: decision
        async for chunk in event_log.read_entity("experiment", entity_id)
        for r in chunk
        for decision in decisions_in(r.event)
    }
    assert logged[filled.decision_id].context == {"service": "checkout", "svc_p95_ms": 812.5}
    assert filled.missing_features == []
    assert logged[unknown.decision_id].context == {"service": "search", "svc_p95_ms": None}
    assert unknown.missing_features == ["svc_p95_ms"]
    assert logged[sent.decision_id].context["svc_p95_ms"] == 3.0
