"""Metrics measured inside actors reach the serve process's registry over NATS."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from gateway.actor_metrics import RelayedMetrics, relay
from gateway.client import OptimizerClient
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.test_decisions import serving_experiment
from tests.waiting import eventually

pytestmark = pytest.mark.slow


async def test_decision_latency_and_fold_time_are_relayed_from_the_actor(
    services: Services, settings: Settings, nc: Any, entity_id: str
) -> None:
    """After 30 decisions and their outcomes, the relayed registry counts at least 30 timed
    decisions for the experiment and some timed folds for its actor, with plausible sums."""
    collector = RelayedMetrics()
    registry = CollectorRegistry()
    registry.register(collector)
    subscription = await relay(nc, collector)
    try:
        await serving_experiment(nc, settings, entity_id, ["a", "b"], {"policy": "thompson_beta"})
        client = OptimizerClient(nc, timeout_s=5.0)
        for i in range(30):
            decision = await client.decide(entity_id, request_id=f"m{i}")
            await client.outcome(decision.decision_id, reward=float(i % 2))

        def sample(name: str, **labels: str) -> float:
            return registry.get_sample_value(name, labels) or 0.0

        async def counts() -> tuple[float, float]:
            return (
                sample("ml_inference_latency_seconds_count", experiment=entity_id),
                sample(
                    "ml_training_update_latency_seconds_count",
                    kind="experiment",
                    entity_id=entity_id,
                ),
            )

        decided, folds = await eventually(counts, lambda c: c[0] >= 30 and c[1] > 0, within_s=15)
        latency_sum = sample("ml_inference_latency_seconds_sum", experiment=entity_id)
        assert 0.0 < latency_sum / decided < 1.0  # seconds per decision, replies included
        assert folds >= 1
    finally:
        await subscription.unsubscribe()
