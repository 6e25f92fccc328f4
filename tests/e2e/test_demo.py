"""``llmopt demo``'s driver through real NATS and Ray gives the totals of the logged events."""

from __future__ import annotations

from typing import Any

import pytest

from events.log import EventLog
from events.schema import OutcomeObserved, decisions_in
from gateway.client import OptimizerClient
from llmopt.demo.command import demo_prompts
from llmopt.demo.cost_model import ARMS, call
from llmopt.demo.dataset import load
from llmopt.demo.driver import create_experiment, drive
from llmopt.demo.presets import PRESETS
from llmopt.demo.protocol import flagship_cost_bound, reward_spec, run_policy
from llmopt.replay import replay
from llmopt.runtime import Services
from llmopt.settings import Settings
from tests.e2e.helpers import actor_of, caught_up

pytestmark = pytest.mark.slow

SEED = 7
ROUND_SIZE = 15


@pytest.mark.parametrize("preset", ["linear-ts-ngrams", "linucb"])
async def test_live_demo_totals_equal_an_offline_computation_over_its_events(
    services: Services,
    nc: Any,
    settings: Settings,
    event_log: EventLog,
    entity_id: str,
    preset: str,
) -> None:
    """A seeded demo run over NATS and Ray logs one decision and one outcome per prompt, its
    cost, correct count and per-arm counts equal those recomputed from the logged events and
    from the folded ledger, and its arms equal the offline protocol's with the same rounds."""
    spec = PRESETS[preset]
    ordered = demo_prompts("mmlu", SEED, 90)
    subjects = sorted({p.subject for p in load("mmlu")})
    reward = reward_spec(0.2, flagship_cost_bound(ordered))
    created = await create_experiment(
        nc, entity_id, spec=spec, subjects=subjects, reward=reward, seed=SEED
    )
    actor = await actor_of(settings, entity_id)
    await caught_up(actor, created)

    async def folded_seq() -> int:
        return int((await actor.status.remote()).seq)

    live = await drive(
        OptimizerClient(nc),
        entity_id,
        ordered,
        spec=spec,
        reward=reward,
        round_size=ROUND_SIZE,
        folded_seq=folded_seq,
    )
    assert live.fallbacks == 0
    assert live.rounds == 6
    assert len(live.latencies_ms) == len(ordered)

    records = [r async for chunk in event_log.read_entity("experiment", entity_id) for r in chunk]
    decisions = {d.decision_id: d for r in records for d in decisions_in(r.event)}
    outcomes = [r.event for r in records if isinstance(r.event, OutcomeObserved)]
    assert len(decisions) == len(outcomes) == len(ordered)
    by_decision = dict(zip(live.decision_ids, ordered, strict=True))
    assert [o.decision_id for o in outcomes] == live.decision_ids  # folded in prompt order

    correct, cost, arms = 0, 0.0, dict.fromkeys(ARMS, 0)
    for outcome in outcomes:
        decision = decisions[outcome.decision_id]
        result = call(by_decision[outcome.decision_id], decision.arm)
        assert (outcome.input_tokens, outcome.output_tokens) == (
            result.input_tokens,
            result.output_tokens,
        )
        assert outcome.quality == float(result.correct)
        correct += result.correct
        cost += result.cost_usd
        arms[decision.arm] += 1
    assert (live.tally.correct, live.tally.arms) == (correct, arms)
    assert live.tally.cost_usd == pytest.approx(cost, rel=1e-12)
    assert len(set(live.arms)) == 2  # it learnt to use both models

    folded = (await replay(event_log, "experiment", entity_id)).state
    assert {arm: s.decisions for arm, s in folded.arms.items()} == arms
    assert sum(s.cost_usd for s in folded.arms.values()) == pytest.approx(cost, rel=1e-9)

    offline, offline_arms = run_policy(
        ordered,
        spec,
        experiment_id=entity_id,
        seed=SEED,
        subjects=subjects,
        reward=reward,
        round_size=ROUND_SIZE,
    )
    assert offline_arms == live.arms
    assert offline == live.tally
