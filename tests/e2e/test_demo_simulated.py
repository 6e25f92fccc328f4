"""The simulated workload through NATS and Ray: the offline protocol's totals, and the drift
alarm on the model that degrades."""

from __future__ import annotations

from typing import Any

import pytest

from events.log import EventLog
from events.schema import DriftDetected, OutcomeObserved, decisions_in
from gateway.client import OptimizerClient
from llmopt.demo.driver import create_experiment, drive
from llmopt.demo.simulated.degradation import Degradation
from llmopt.demo.simulated.evaluation import (
    SIM_PRESETS,
    drift_report,
    reward_for,
    run_sim_policy,
)
from llmopt.demo.simulated.load_curve import DAY_S
from llmopt.demo.simulated.workload import DRIFT_MONITOR, SimulatedWorkload
from llmopt.replay import replay
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import actor_of, caught_up

pytestmark = pytest.mark.slow

SEED = 3
DRIFT = {
    **DRIFT_MONITOR,
    "detectors": [
        {**DRIFT_MONITOR["detectors"][0], "params": {"k": 1.0, "warmup": 50, "arl0": 100_000}}
    ],
}
"""The demo's monitor with a shorter warm-up, so a few hundred requests are enough."""


async def test_live_simulated_run_equals_the_offline_protocol_and_raises_the_drift_alarm(
    services: Services, nc: Any, settings: Settings, event_log: EventLog, entity_id: str
) -> None:
    """700 simulated requests over NATS and Ray (LinUCB, cost weight 3, rounds of one,
    gpt-4o-mini's quality falling to 40% at mid-day): one decision and one outcome per request
    with the workload's tokens, quality and latency; totals equal to those recomputed from the
    logged events, to the replayed ledger and to the offline protocol (same models chosen, same
    drift events); and a downward quality alarm on gpt-4o-mini after the change, after which
    its traffic share falls."""
    workload = SimulatedWorkload(
        SEED,
        requests=700,
        days=1.0,
        degradation=Degradation(model="gpt-4o-mini", at_s=0.5 * DAY_S, quality_factor=0.4),
        drift=DRIFT,
    )
    spec = SIM_PRESETS["linucb"]  # no random draws: the same run whatever the entity id
    reward = reward_for(workload, 3.0)
    created = await create_experiment(
        nc, entity_id, spec=spec, subjects=(), reward=reward, seed=SEED, workload=workload
    )
    actor = await actor_of(settings, entity_id)
    await caught_up(actor, created)

    async def folded_seq() -> int:
        return int((await actor.status.remote()).seq)

    async def folded_status() -> dict[str, Any]:
        return dict((await actor.status.remote()).summary)

    live = await drive(
        OptimizerClient(nc),
        entity_id,
        workload.requests,
        spec=spec,
        reward=reward,
        round_size=1,
        folded_seq=folded_seq,
        workload=workload,
        folded_status=folded_status,
    )
    assert live.fallbacks == 0

    records = [r async for chunk in event_log.read_entity("experiment", entity_id) for r in chunk]
    decisions = {d.decision_id: d for r in records for d in decisions_in(r.event)}
    outcomes = [r.event for r in records if isinstance(r.event, OutcomeObserved)]
    drifts = [r.event for r in records if isinstance(r.event, DriftDetected)]
    assert len(decisions) == len(outcomes) == len(workload.requests)
    assert [o.decision_id for o in outcomes] == live.decision_ids
    by_decision = dict(zip(live.decision_ids, workload.requests, strict=True))
    cost, quality, arms = 0.0, 0.0, dict.fromkeys(workload.arms, 0)
    for outcome in outcomes:
        arm = decisions[outcome.decision_id].arm
        result = workload.call(by_decision[outcome.decision_id], arm)
        assert (outcome.input_tokens, outcome.output_tokens) == (
            result.input_tokens,
            result.output_tokens,
        )
        assert (outcome.quality, outcome.latency_ms) == (result.quality, result.latency_ms)
        cost += result.cost_usd
        quality += result.quality
        arms[arm] += 1
    assert live.tally.arms == arms
    assert live.tally.cost_usd == pytest.approx(cost, rel=1e-12)
    assert live.tally.quality == pytest.approx(quality, rel=1e-12)

    status = await caught_up(actor, records[-1].seq)
    folded = (await replay(event_log, "experiment", entity_id)).state
    assert {arm: s.decisions for arm, s in folded.arms.items()} == arms
    assert sum(s.cost_usd for s in folded.arms.values()) == pytest.approx(cost, rel=1e-9)
    assert status.summary["drift_actions_applied"] >= 1

    offline = run_sim_policy(workload, spec, reward, experiment_id=entity_id, round_size=1)
    assert offline.arms == live.arms
    assert offline.tally == live.tally
    assert sorted(e.event_id for e in offline.derived) == sorted(d.event_id for d in drifts)

    report = drift_report(workload, workload.requests, live.arms, drifts, entity_id)
    assert report.alarm_index is not None, f"no alarm on gpt-4o-mini; drift events: {drifts}"
    assert report.share_after_alarm is not None
    assert report.share_after_alarm < report.share_before
