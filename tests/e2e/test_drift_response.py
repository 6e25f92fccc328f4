"""A model whose quality drops in live traffic raises a drift event, and the bandit leaves it."""

from __future__ import annotations

import random
from typing import Any

import pytest

from events.log import EventLog
from events.schema import DriftDetected
from gateway.client import OptimizerClient
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import actor_of, caught_up, last_entity_seq, scratch_digest
from tests.e2e.test_decisions import serving_experiment

pytestmark = pytest.mark.slow

DRIFT = {
    "detectors": [
        {"metric": "quality", "detector": "cusum", "params": {"warmup": 200, "arl0": 10_000}}
    ],
    "rules": [{"metric": "quality", "direction": "down", "action": {"kind": "reset_arm"}}],
}
DETECTION_DELAY = 60
"""Outcomes of the degraded arm after the change within which the alarm must come (README)."""


async def test_a_quality_drop_raises_drift_and_the_bandit_stops_preferring_the_model(
    services: Services, settings: Settings, nc: Any, event_log: EventLog, entity_id: str
) -> None:
    """gpt is better (quality 0.9 vs 0.6) until its quality drops to 0.3: a DriftDetected for
    gpt (quality, down) follows within DETECTION_DELAY of its outcomes, its memory is reset,
    and over the last 300 decisions the bandit sends most traffic to the other model; the
    actor's state equals a replay of the log."""
    await serving_experiment(
        nc,
        settings,
        entity_id,
        ["gpt", "mixtral"],
        {"policy": "thompson_beta", "drift": DRIFT},
    )
    client = OptimizerClient(nc, timeout_s=5.0)
    world = random.Random(11)
    quality = {"gpt": 0.9, "mixtral": 0.6}
    after_change: list[str] = []  # outcome event ids of gpt after the drop, in order
    late_arms: list[str] = []
    for i in range(2_600):
        if i == 1_500:
            quality["gpt"] = 0.3
        decision = await client.decide(entity_id, request_id=f"r{i}")
        q = 1.0 if world.random() < quality[decision.arm] else 0.0
        await client.outcome(decision.decision_id, quality=q, reward=q)
        if i >= 1_500 and decision.arm == "gpt":
            after_change.append(f"outcome:{decision.decision_id}")
        if i >= 2_300:
            late_arms.append(decision.arm)

    actor = await actor_of(settings, entity_id)
    status = await caught_up(actor, await last_entity_seq(event_log, entity_id))
    drifts = [
        r.event
        async for chunk in event_log.read_entity("experiment", entity_id)
        for r in chunk
        if isinstance(r.event, DriftDetected)
    ]
    down = [d for d in drifts if d.arm == "gpt" and d.direction == "down"]
    assert down, f"no downward drift for gpt; drift events: {drifts}"
    assert down[0].metric == "quality" and down[0].action == {"kind": "reset_arm"}
    assert down[0].cause_event_id in after_change[:DETECTION_DELAY]
    assert late_arms.count("mixtral") / len(late_arms) > 0.8
    assert status.summary["drift_actions_applied"] >= 1
    assert status.digest == await scratch_digest(event_log, entity_id, status.seq)
