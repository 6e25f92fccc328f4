"""The simulated workload's results: baselines, policies, cost-quality curves, drift, regret.

Everything runs through the offline protocol (:func:`llmopt.demo.protocol.run_policy_on`:
the live decider and the experiment's fold, each request once in arrival order, only the
chosen model's outcome revealed), so the figures are those the live service gives on the same
requests (:mod:`llmopt.demo.simulated.command` drives it). The reward is the experiment's
composite: quality (weight 1), cost (the swept weight) normalised by the dearest call of the
workload, latency (:data:`LATENCY_WEIGHT`) normalised by its slowest call.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import msgspec
import numpy as np

from actors.decider import decision_id_for
from actors.reward import RewardSpec
from events.schema import DriftDetected, Event
from llmopt.demo.protocol import (
    PolicySpec,
    Tally,
    best_fixed_per_group,
    oracle_arms_on,
    reward_spec,
    route_fixed_on,
    run_policy_on,
)
from llmopt.demo.results import Point
from llmopt.demo.simulated.workload import SimRequest, SimulatedWorkload, default_degradation
from llmopt.demo.sweep import RunOne, sweep

LATENCY_WEIGHT = 0.1
"""The latency term's weight: a tenth of quality's; a slow answer is worth a little less."""
COST_WEIGHTS = (0.0, 0.3, 0.6, 1.0, 1.5, 2.0, 3.0, 5.0)
"""The coarse grid of cost weights (quality weight 1, cost normalised by the dearest call)."""
DEFAULT_POLICY = "squarecb"
"""The live run's policy: the best curve of the four at 95% of the flagship's quality (mean of
seeds 0-2), and the quickest of the contextual ones to the drift alarm."""
DEFAULT_COST_WEIGHT = 0.9
"""The live run's cost weight: the largest (on a 0.1 grid) at which SquareCB's seed-0 run keeps
95% of the flagship's quality, read off that run (so chosen in hindsight)."""
REQUESTS = 4000
DAYS = 2.0
WINDOW = 500
"""Requests on each side of the change over which the degraded model's traffic share is read."""

SIM_PRESETS: dict[str, PolicySpec] = {
    spec.label: spec
    for spec in (
        PolicySpec(label="linucb", policy="linucb", params={"alpha": 0.2}),
        PolicySpec(label="linear-ts", policy="linear_thompson", params={"v": 0.1}),
        PolicySpec(label="squarecb", policy="squarecb"),
        PolicySpec(label="epsilon-greedy", policy="epsilon_greedy", params={"epsilon": 0.1}),
    )
}
"""The simulated run's policies. LinUCB's ``alpha`` = 0.2 and linear TS's ``v`` = 0.1 were
picked from {0.2, 0.5} and {0.1} on seeds 0-2 of this workload (in hindsight): with six arms
and twelve context columns the default ``alpha`` = 1 explores for most of a 4,000-request run.
SquareCB runs with Vowpal Wabbit's default schedule, untuned. Epsilon-greedy is the context-free
baseline."""


@functools.lru_cache(maxsize=8)
def workload_for(seed: int, requests: int = REQUESTS, days: float = DAYS) -> SimulatedWorkload:
    """The seed's workload (requests, degradation, drift monitor), generated once."""
    return SimulatedWorkload(
        seed, requests=requests, days=days, degradation=default_degradation(days)
    )


def reward_for(workload: SimulatedWorkload, cost_weight: float) -> RewardSpec:
    """The composite reward at ``cost_weight``, bounded by the workload's dearest and slowest
    calls (so neither term is ever clipped)."""
    return reward_spec(
        cost_weight,
        workload.cost_bound(),
        latency_weight=LATENCY_WEIGHT,
        latency_max_ms=workload.latency_bound(),
    )


class Baselines(msgspec.Struct, kw_only=True):
    """The fixed routes of one workload, each with its totals."""

    random: Tally
    cheapest: Tally
    flagship: Tally
    best_per_task: Tally
    """The best fixed model per task type in hindsight."""
    oracle: Tally
    """The per-request oracle: the model of the largest reward on each request."""
    cheapest_arm: str


def cheapest_arm(workload: SimulatedWorkload) -> str:
    """The model whose calls on the whole workload cost least."""
    totals = {
        arm: sum(workload.call(r, arm).cost_usd for r in workload.requests) for arm in workload.arms
    }
    return min(totals, key=lambda arm: totals[arm])


def uniform_random(workload: SimulatedWorkload, items: Sequence[SimRequest]) -> list[str]:
    """Each request to a model drawn uniformly, from the generator of ``(seed, 1)``."""
    draws = np.random.default_rng([workload.seed, 1]).integers(len(workload.arms), size=len(items))
    return [workload.arms[int(i)] for i in draws]


def baselines(workload: SimulatedWorkload, reward: RewardSpec) -> Baselines:
    items = workload.requests
    cheap = cheapest_arm(workload)
    return Baselines(
        random=route_fixed_on(workload, items, uniform_random(workload, items), reward),
        cheapest=route_fixed_on(workload, items, [cheap] * len(items), reward),
        flagship=route_fixed_on(workload, items, [workload.flagship] * len(items), reward),
        best_per_task=route_fixed_on(
            workload, items, best_fixed_per_group(workload, items, reward), reward
        ),
        oracle=route_fixed_on(workload, items, oracle_arms_on(workload, items, reward), reward),
        cheapest_arm=cheap,
    )


class PolicyRun(msgspec.Struct, kw_only=True):
    """One policy's run over one workload: totals, the model of each request, derived events."""

    label: str
    tally: Tally
    arms: list[str]
    derived: list[Event]


def run_sim_policy(
    workload: SimulatedWorkload,
    spec: PolicySpec,
    reward: RewardSpec,
    *,
    experiment_id: str = "sim",
    round_size: int = 1,
    items: Sequence[SimRequest] | None = None,
) -> PolicyRun:
    """``spec`` over the workload (or the first ``items``) through the live decider's code."""
    derived: list[Event] = []
    tally, arms = run_policy_on(
        workload,
        workload.requests if items is None else items,
        spec,
        experiment_id=experiment_id,
        seed=workload.seed,
        reward=reward,
        round_size=round_size,
        derived=derived,
    )
    return PolicyRun(label=spec.label, tally=tally, arms=arms, derived=derived)


def policy_runner(spec: PolicySpec, round_size: int = 1) -> RunOne:
    """For :func:`llmopt.demo.sweep.sweep`: the seed's workload, the knob as cost weight."""

    def run_one(items: Sequence[SimRequest], seed: int, knob: float) -> Tally:
        workload = workload_for(seed, len(items))
        return run_sim_policy(workload, spec, reward_for(workload, knob), items=items).tally

    return run_one


def fixed_runner(choose: str) -> RunOne:
    """Baselines as sweep runners: ``best-per-task`` (hindsight at the knob's cost weight) or
    ``oracle`` (per request at the knob's cost weight)."""

    def run_one(items: Sequence[SimRequest], seed: int, knob: float) -> Tally:
        workload = workload_for(seed, len(items))
        reward = reward_for(workload, knob)
        if choose == "oracle":
            arms = oracle_arms_on(workload, items, reward)
        else:
            arms = best_fixed_per_group(workload, items, reward)
        return route_fixed_on(workload, items, arms, reward)

    return run_one


def curve(
    runner: RunOne,
    *,
    seeds: Sequence[int],
    target: float,
    requests: int = REQUESTS,
    knobs: Sequence[float] = COST_WEIGHTS,
    refine: int = 3,
) -> list[Point]:
    """The cost-quality curve (mean over ``seeds``) by sweeping the cost weight."""
    return sweep(
        [],
        runner,
        seeds=seeds,
        knobs=knobs,
        target=target,
        refine=refine,
        order=lambda _items, seed: workload_for(seed, requests).requests,
        flagship=workload_for(seeds[0], requests).flagship,
    )


class DriftReport(msgspec.Struct, kw_only=True):
    """When the monitor caught the degradation, and where the traffic went."""

    model: str
    change_index: int
    """The first request at or after the change (its index in arrival order)."""
    alarm_index: int | None
    """The request whose outcome raised the first downward alarm on the model after the
    change (None: no alarm)."""
    requests_to_alarm: int | None
    """Requests from the change to the alarm, the alarm's included."""
    model_calls_to_alarm: int | None
    """The degraded model's calls among them: the outcomes the detector needed."""
    share_before: float
    """The model's traffic share over the ``WINDOW`` requests before the change."""
    share_change_to_alarm: float | None
    share_after_alarm: float | None
    """Its share over the ``WINDOW`` requests after the alarm."""
    other_alarms: list[tuple[str, str, int]]
    """Every other alarm: (arm, direction, request index)."""


def drift_report(
    workload: SimulatedWorkload,
    items: Sequence[SimRequest],
    arms: Sequence[str],
    derived: Sequence[Event],
    experiment_id: str,
) -> DriftReport:
    """Read the alarm and the traffic shift off a run: ``arms[i]`` served ``items[i]``;
    ``derived`` are the run's ``DriftDetected`` events (offline, or read from the live log)."""
    if workload.degradation is None:
        raise ValueError("the workload has no degradation")
    model = workload.degradation.model
    change = workload.after_change(items)
    index_of = {
        f"outcome:{decision_id_for(experiment_id, workload.key(item))}": i
        for i, item in enumerate(items)
    }
    alarm: int | None = None
    others: list[tuple[str, str, int]] = []
    for event in derived:
        if not isinstance(event, DriftDetected):
            continue
        at = index_of.get(event.cause_event_id or "", -1)
        hit = event.arm == model and event.direction == "down" and at >= change
        if hit and alarm is None:
            alarm = at
        else:
            others.append((event.arm or "", event.direction, at))

    def share(lo: int, hi: int) -> float | None:
        window = arms[max(lo, 0) : hi]
        return window.count(model) / len(window) if window else None

    return DriftReport(
        model=model,
        change_index=change,
        alarm_index=alarm,
        requests_to_alarm=None if alarm is None else alarm - change + 1,
        model_calls_to_alarm=None if alarm is None else list(arms[change : alarm + 1]).count(model),
        share_before=share(change - WINDOW, change) or 0.0,
        share_change_to_alarm=None if alarm is None else share(change, alarm + 1),
        share_after_alarm=None if alarm is None else share(alarm + 1, alarm + 1 + WINDOW),
        other_alarms=others,
    )


def regret_curve(tally_regrets: Sequence[float], checkpoints: int = 4) -> list[float]:
    """The cumulative regret at ``checkpoints`` evenly spaced points of the run."""
    n = len(tally_regrets)
    return [tally_regrets[max(0, n * k // checkpoints - 1)] for k in range(1, checkpoints + 1)]
