"""After traffic in the log, the metrics endpoint shows the spec's metrics with the log's values."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

from prometheus_client import REGISTRY

from events.log import EventLog
from events.schema import DecisionMade, OutcomeObserved
from events.subjects import entity_filter
from llmopt.metrics_server import MetricsServer
from projections.log_metrics import LogMetrics, catch_up_log_metrics, poll_consumer_lag
from projections.runner import ProjectionRunner
from tests.projection_scenario import created, joined, traffic

SPEC = (
    # ml_inference_latency_seconds and ml_training_update_latency_seconds are measured inside
    # the actors and relayed: tests/e2e/test_actor_metrics.py.
    "ml_inference_requests_total",
    "llmopt_log_staleness_seconds",
    "ml_training_samples_total",
    "ml_model_accuracy",
    "ml_model_regret",
    "ml_checkpoint_count",
    "llmopt_projection_lag_events",
    "llmopt_consumer_lag_events",
)


async def test_metrics_endpoint_exposes_the_log_derived_values(
    event_log: EventLog, entity_id: str, tmp_path: Path
) -> None:
    """Requests, samples, accuracy, regret, checkpoints, staleness and lag equal what the log holds."""
    events = [created(entity_id), *traffic(entity_id, 150, seed=2)]
    await event_log.append_many(events)
    appended_to = await event_log.head_seq()
    projection = ProjectionRunner(
        event_log, tmp_path / "p.db", filter_subject=entity_filter("experiment", entity_id)
    )
    await projection.catch_up()

    metrics = LogMetrics()
    await catch_up_log_metrics(event_log, metrics)
    lags = await poll_consumer_lag(event_log.js, event_log.stream)
    newest = max(e.at for e in events)
    metrics.refresh_staleness(newest + 42.0)

    server = MetricsServer(0)
    server.start()
    try:
        body = await asyncio.to_thread(
            lambda: (
                urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics").read().decode()
            )
        )
    finally:
        server.stop()
    for name in SPEC:
        assert f"# TYPE {name} " in body, name
    assert f'ml_training_samples_total{{experiment="{entity_id}"}}' in body

    def value(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    decisions = [e for e in events if isinstance(e, DecisionMade)]
    for arm in ("small", "medium", "flagship"):
        assert value("ml_inference_requests_total", experiment=entity_id, arm=arm) == sum(
            d.arm == arm for d in decisions
        )
    # The metrics follower joins only outcomes that come after their decision.
    seen: set[str] = set()
    samples: list[OutcomeObserved] = []
    for e in events:
        if isinstance(e, DecisionMade):
            seen.add(e.decision_id)
        elif isinstance(e, OutcomeObserved) and e.decision_id in seen:
            seen.discard(e.decision_id)
            samples.append(e)
    assert 0 < len(samples) < len(joined(events))
    assert value("ml_training_samples_total", experiment=entity_id) == len(samples)
    ok = sum(not o.error and (o.quality or 0.0) >= 0.5 for o in samples)
    assert value("ml_model_accuracy", experiment=entity_id) == ok / len(samples)
    assert value("ml_model_regret", experiment=entity_id) == 0.0
    assert value("llmopt_log_staleness_seconds", kind="experiment") is not None
    assert (value("ml_checkpoint_count", kind="experiment") or 0) >= 3
    # Other tests' actors may append (checkpoint records) while this runs, so the lag is
    # whatever arrived since; what must hold is that both caught up past this test's events.
    assert metrics.position >= appended_to
    assert (value("llmopt_projection_lag_events", projection="metrics") or 0) >= 0
    assert value("llmopt_projection_lag_events", projection="reports") is not None
    assert all(lag >= 0 for lag in lags.values())
