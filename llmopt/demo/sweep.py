"""Cost-quality curves by sweeping a knob over seeds: the offline table's engine.

A policy's knob is the reward's cost weight; random mixing's is the strong model's share;
the best fixed choice per subject in hindsight is swept like a policy. Each point is the mean
over the seeds of (cost, accuracy, regret). The sweep starts from a coarse grid and then
bisects the knob interval whose points straddle the quality target, so the point read by
:func:`llmopt.demo.results.cost_at_quality` is interpolated between close neighbours rather
than across a wide gap.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from llmopt.demo.cost_model import STRONG
from llmopt.demo.dataset import Prompt
from llmopt.demo.protocol import (
    PolicySpec,
    Tally,
    best_fixed_per_subject,
    random_mix,
    reward_spec,
    route_fixed,
    run_policy,
    seeded_order,
)
from llmopt.demo.results import Point

COST_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 4.0)
"""The coarse grid of cost weights (quality weight 1, cost normalised by the flagship's
dearest call): 0 ignores cost, 1 values the dearest GPT-4 call as much as a correct answer
(MMLU's dearest is 9.3 times its mean call, GSM8K's 3.3 times)."""
STRONG_SHARES = tuple(i / 10 for i in range(11))

RunOne = Callable[[Sequence[Any], int, float], Tally]
"""(prompts in their seeded order, seed, knob) -> the run's totals."""
Order = Callable[[Sequence[Any], int], Sequence[Any]]
"""(prompts, seed) -> the requests of the seed's run, in the order they arrive."""


def sweep(
    prompts: Sequence[Any],
    run_one: RunOne,
    *,
    seeds: Sequence[int],
    knobs: Sequence[float],
    target: float,
    refine: int = 3,
    order: Order = seeded_order,
    flagship: str = STRONG,
) -> list[Point]:
    """Points for every knob of ``knobs``, then ``refine`` bisections towards ``target``.

    ``order`` gives each seed's requests (a permutation of ``prompts`` by default; a
    simulated workload generates them from the seed); ``flagship`` is the arm whose calls
    :attr:`Point.strong_calls` counts."""
    orders = {seed: order(prompts, seed) for seed in seeds}

    def point(knob: float) -> Point:
        tallies = [run_one(orders[seed], seed, knob) for seed in seeds]
        return Point(
            knob=knob,
            cost_usd=float(np.mean([t.cost_usd for t in tallies])),
            accuracy=float(np.mean([t.accuracy for t in tallies])),
            regret=float(np.mean([t.regret for t in tallies])),
            strong_calls=float(np.mean([t.arms.get(flagship, 0) for t in tallies])),
        )

    points = sorted((point(k) for k in knobs), key=lambda p: p.knob)
    for _ in range(refine):
        bracket = _straddling(points, target)
        if bracket is None:
            break
        low, high = bracket
        points = sorted([*points, point(round((low + high) / 2, 6))], key=lambda p: p.knob)
    return points


def _straddling(points: Sequence[Point], target: float) -> tuple[float, float] | None:
    """The knobs of the cheapest adjacent pair (in knob order) whose accuracies straddle
    ``target``: the segment the headline figure is read on."""
    pairs = [
        (a, b)
        for a, b in itertools.pairwise(points)
        if (a.accuracy - target) * (b.accuracy - target) < 0
    ]
    if not pairs:
        return None
    a, b = min(pairs, key=lambda pair: min(pair[0].cost_usd, pair[1].cost_usd))
    return a.knob, b.knob


def policy_runner(
    spec: PolicySpec, subjects: Sequence[str], cost_max_usd: float, round_size: int
) -> RunOne:
    """Runs ``spec`` through the live decider with the knob as the reward's cost weight."""

    def run_one(ordered: Sequence[Prompt], seed: int, knob: float) -> Tally:
        return run_policy(
            ordered,
            spec,
            experiment_id=f"offline-{spec.label}",
            seed=seed,
            subjects=subjects,
            reward=reward_spec(knob, cost_max_usd),
            round_size=round_size,
        )[0]

    return run_one


def random_runner(cost_max_usd: float) -> RunOne:
    """Random mixing with the knob as the strong model's share."""

    def run_one(ordered: Sequence[Prompt], seed: int, knob: float) -> Tally:
        return route_fixed(ordered, random_mix(ordered, knob, seed), reward_spec(0.0, cost_max_usd))

    return run_one


def hindsight_runner(cost_max_usd: float) -> RunOne:
    """The best fixed arm per subject for the knob's cost weight, chosen in hindsight."""

    def run_one(ordered: Sequence[Prompt], seed: int, knob: float) -> Tally:
        reward = reward_spec(knob, cost_max_usd)
        return route_fixed(ordered, best_fixed_per_subject(ordered, reward), reward)

    return run_one


def fixed_runner(arm: str, cost_max_usd: float) -> RunOne:
    """Every prompt to ``arm`` (the knob is ignored)."""

    def run_one(ordered: Sequence[Prompt], seed: int, knob: float) -> Tally:
        return route_fixed(ordered, [arm] * len(ordered), reward_spec(0.0, cost_max_usd))

    return run_one
