"""The simulated workload's baselines, oracle, policy runs and drift report over N arms."""

from __future__ import annotations

import pytest

from llmopt.demo.protocol import oracle_reward_on, outcome_reward, route_fixed_on
from llmopt.demo.simulated.catalogue import ARMS
from llmopt.demo.simulated.evaluation import (
    SIM_PRESETS,
    baselines,
    cheapest_arm,
    drift_report,
    reward_for,
    run_sim_policy,
    uniform_random,
    workload_for,
)
from llmopt.demo.simulated.workload import SimulatedWorkload

WORKLOAD = workload_for(0)
REWARD = reward_for(WORKLOAD, 1.5)
FIXED = baselines(WORKLOAD, REWARD)


def test_the_oracle_has_no_regret_and_beats_every_fixed_model() -> None:
    """The per-request oracle's regret is 0, and its reward is at least every single model's
    on every request (six arms)."""
    assert FIXED.oracle.regret == pytest.approx(0.0, abs=1e-9)
    for item in WORKLOAD.requests[::97]:
        best = oracle_reward_on(WORKLOAD, item, REWARD)
        for arm in ARMS:
            assert outcome_reward(WORKLOAD.call(item, arm), REWARD) <= best


def test_baselines_count_every_arm_and_rank_as_expected() -> None:
    """Totals list all six arms; the cheapest model costs least, the flagship serves every
    request, the uniform mix uses every model, and the oracle is cheaper than the flagship."""
    assert set(FIXED.flagship.arms) == set(ARMS)
    assert FIXED.flagship.arms[WORKLOAD.flagship] == len(WORKLOAD.requests)
    assert FIXED.cheapest.cost_usd == min(
        route_fixed_on(WORKLOAD, WORKLOAD.requests, [a] * 4000, REWARD).cost_usd for a in ARMS
    )
    assert FIXED.cheapest_arm == cheapest_arm(WORKLOAD)
    assert all(n > 0 for n in FIXED.random.arms.values())
    assert FIXED.oracle.cost_usd < FIXED.flagship.cost_usd
    assert len(uniform_random(WORKLOAD, WORKLOAD.requests)) == len(WORKLOAD.requests)


def test_a_policy_run_is_reproducible_and_its_totals_are_its_routes() -> None:
    """Two runs choose the same models; routing the requests to them gives the same totals."""
    first = run_sim_policy(WORKLOAD, SIM_PRESETS["linucb"], REWARD)
    again = run_sim_policy(WORKLOAD, SIM_PRESETS["linucb"], REWARD)
    assert first.arms == again.arms
    assert route_fixed_on(WORKLOAD, WORKLOAD.requests, first.arms, REWARD) == first.tally
    assert len(set(first.arms)) == len(ARMS)  # it tried every model


def test_the_drift_monitor_catches_the_degraded_model_and_traffic_leaves_it() -> None:
    """With the drift monitor in the experiment's config, a downward quality alarm on the
    degraded model follows its change within a few hundred requests, and its traffic share
    after the alarm is below its share before the change."""
    run = run_sim_policy(WORKLOAD, SIM_PRESETS["linucb"], REWARD, experiment_id="sim")
    report = drift_report(WORKLOAD, WORKLOAD.requests, run.arms, run.derived, "sim")
    assert report.model == "gpt-4o-mini"
    assert report.alarm_index is not None and report.requests_to_alarm is not None
    assert report.alarm_index >= report.change_index
    assert report.requests_to_alarm < 300
    assert report.share_after_alarm is not None
    assert report.share_after_alarm < report.share_before


def test_without_a_drift_monitor_no_alarm_is_raised() -> None:
    """The same workload with no ``config.drift`` derives no events and reports no alarm."""
    quiet = SimulatedWorkload(
        0, requests=4000, days=2.0, degradation=WORKLOAD.degradation, drift=None
    )
    run = run_sim_policy(quiet, SIM_PRESETS["linucb"], REWARD, experiment_id="sim")
    assert run.derived == []
    assert drift_report(quiet, quiet.requests, run.arms, [], "sim").alarm_index is None
