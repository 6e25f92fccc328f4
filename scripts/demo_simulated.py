"""The simulated multi-model workload's tables: baselines, policies, 95%-quality cost, drift.

Six models at their published prices, six task types, a daily load curve over two simulated
days, and gpt-4o-mini degrading on day 2 (:mod:`llmopt.demo.simulated`), run through the live
decider and the experiment's fold offline (each request once, in arrival order, only the chosen
model's outcome revealed, the drift monitor on). Seeded: the same command prints the same
figures.

    python scripts/demo_simulated.py [--seeds 0 1 2] [--requests 4000] [--json curves.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import msgspec
from bench_common import machine_line, progress

from llmopt.demo.protocol import cumulative_regret_on
from llmopt.demo.results import Point, cost_at_quality, cost_reduction
from llmopt.demo.simulated.catalogue import MODELS
from llmopt.demo.simulated.evaluation import (
    COST_WEIGHTS,
    DAYS,
    DEFAULT_COST_WEIGHT,
    LATENCY_WEIGHT,
    REQUESTS,
    SIM_PRESETS,
    baselines,
    curve,
    drift_report,
    fixed_runner,
    policy_runner,
    regret_curve,
    reward_for,
    run_sim_policy,
    uniform_random,
    workload_for,
)
from llmopt.demo.simulated.report import route_figures
from llmopt.demo.tally import Tally


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--requests", type=int, default=REQUESTS)
    parser.add_argument("--cost-weight", type=float, default=DEFAULT_COST_WEIGHT)
    parser.add_argument("--json", type=Path, help="also write the curves and tables here")
    args = parser.parse_args()
    seed = args.seeds[0]
    workload = workload_for(seed, args.requests)
    assert workload.degradation is not None
    print(machine_line([]))
    degradation = workload.degradation
    print(
        f"workload: {args.requests} requests over {DAYS:g} simulated days from 2024-09-02 UTC, "
        f"seeds {args.seeds}; {degradation.model} degrades (quality x{degradation.quality_factor}"
        f", latency x{degradation.latency_factor}) {degradation.at_s / 3600:g} h in"
    )
    print(
        "models (USD per 1M tokens, in/out): "
        + ", ".join(
            f"{arm} {1000 * s.price_in_per_1k:g}/{1000 * s.price_out_per_1k:g}"
            for arm, s in MODELS.items()
        )
    )
    print(
        f"reward: quality 1, cost w (normalised by the dearest call, ${workload.cost_bound():.4f})"
        f", latency {LATENCY_WEIGHT} (by the slowest, {workload.latency_bound() / 1000:.1f} s)"
    )
    dump: dict[str, object] = {}
    reward = reward_for(workload, args.cost_weight)
    fixed = baselines(workload, reward)
    runs = {label: run_sim_policy(workload, spec, reward) for label, spec in SIM_PRESETS.items()}
    flagship = fixed.flagship
    rows: list[tuple[str, Tally]] = [
        ("random (uniform over models)", fixed.random),
        (f"always cheapest ({fixed.cheapest_arm})", fixed.cheapest),
        (f"always flagship ({workload.flagship})", flagship),
        ("best model per task type, hindsight", fixed.best_per_task),
        ("per-request oracle", fixed.oracle),
        *((f"ours: {label}", run.tally) for label, run in runs.items()),
    ]
    print()
    print(f"Routes at cost weight {args.cost_weight:g}, seed {seed}")
    header = (
        f"  {'route':38}{'cost $':>9}{'saved':>8}{'quality':>9}{'of flag':>9}"
        f"{'lat ms':>8}{'regret':>8}  most used"
    )
    print(header)
    for label, tally in rows:
        top = sorted(tally.arms.items(), key=lambda kv: -kv[1])[:2]
        used = ", ".join(f"{arm} {n / tally.prompts:.0%}" for arm, n in top)
        print(
            f"  {label:38}{tally.cost_usd:>9.3f}{1 - tally.cost_usd / flagship.cost_usd:>8.1%}"
            f"{tally.accuracy:>9.4f}{tally.accuracy / flagship.accuracy:>9.1%}"
            f"{tally.mean_latency_ms:>8.0f}{tally.regret:>8.1f}  {used}"
        )
    dump["routes"] = {label: tally_dict(t) for label, t in rows}

    print()
    print(
        f"Cost at 95% of the flagship's quality (mean of seeds {args.seeds}; "
        f"cost weight swept over {list(COST_WEIGHTS)}, bisected 3x)"
    )
    flag_tallies = [baselines_flagship(s, args.requests) for s in args.seeds]
    flag_cost = sum(t.cost_usd for t in flag_tallies) / len(flag_tallies)
    flag_quality = sum(t.accuracy for t in flag_tallies) / len(flag_tallies)
    target = 0.95 * flag_quality
    curves: dict[str, list[Point]] = {}
    jobs = [
        ("best model per task type, hindsight", fixed_runner("best-per-task")),
        ("per-request oracle", fixed_runner("oracle")),
        *((f"ours: {label}", policy_runner(spec)) for label, spec in SIM_PRESETS.items()),
    ]
    oracle_cost: float | None = None
    print(f"  {'route':38}{'saved vs flagship':>19}{'cost vs oracle':>16}{'points':>8}")
    for label, runner in jobs:
        started = time.perf_counter()
        progress(f"sweeping {label}")
        points = curve(runner, seeds=args.seeds, target=target, requests=args.requests)
        curves[label] = points
        cost = cost_at_quality(points, target)
        if label == "per-request oracle":
            oracle_cost = cost
        reduction = cost_reduction(cost, flag_cost)
        versus = "" if cost is None or not oracle_cost else f"{cost / oracle_cost:.2f}x"
        saved = "not reached" if reduction is None else f"{reduction:.1%}"
        print(f"  {label:38}{saved:>19}{versus:>16}{len(points):>8}")
        progress(f"{label}: {time.perf_counter() - started:.0f}s")
    dump["curves"] = {label: [msgspec_point(p) for p in points] for label, points in curves.items()}
    dump["target_quality"] = target
    dump["flagship"] = {"cost_usd": flag_cost, "quality": flag_quality}

    print()
    print(
        f"Drift: {degradation.model} degrades at request "
        f"{workload.after_change(workload.requests)} (seed {seed}, cost weight "
        f"{args.cost_weight:g})"
    )
    print(
        f"  {'policy':22}{'alarm after':>12}{'its calls':>10}{'share before':>14}"
        f"{'change->alarm':>15}{'after alarm':>13}  other alarms"
    )
    drift: dict[str, object] = {}
    dump["drift"] = drift
    for label, run in runs.items():
        report = drift_report(workload, workload.requests, run.arms, run.derived, "sim")
        drift[label] = msgspec.to_builtins(report)
        print(
            f"  {label:22}{fmt(report.requests_to_alarm, 'd'):>12}"
            f"{fmt(report.model_calls_to_alarm, 'd'):>10}{report.share_before:>14.1%}"
            f"{fmt(report.share_change_to_alarm, '.1%'):>15}"
            f"{fmt(report.share_after_alarm, '.1%'):>13}  {len(report.other_alarms)}"
        )

    print()
    print(f"Cumulative regret against the per-request oracle (seed {seed}, reward units)")
    print(f"  {'route':38}" + "".join(f"{q:>9}" for q in ("25%", "50%", "75%", "100%")))
    regrets: dict[str, list[float]] = {}
    for label, run in runs.items():
        regrets[f"ours: {label}"] = cumulative_regret_on(
            workload, workload.requests, run.arms, reward
        )
    for label, arm in (("random", None), ("always flagship", workload.flagship)):
        choose = (
            uniform_random(workload, workload.requests)
            if arm is None
            else [arm] * len(workload.requests)
        )
        regrets[label] = cumulative_regret_on(workload, workload.requests, choose, reward)
    for label, values in regrets.items():
        print(f"  {label:38}" + "".join(f"{v:>9.1f}" for v in regret_curve(values)))
    dump["cumulative_regret"] = regrets
    if args.json is not None:
        args.json.write_text(json.dumps(dump, indent=1))
    return 0


def baselines_flagship(seed: int, requests: int) -> Tally:
    workload = workload_for(seed, requests)
    return baselines(workload, reward_for(workload, 0.0)).flagship


def tally_dict(tally: Tally) -> dict[str, object]:
    return {**route_figures(tally), "arms": tally.arms}


def msgspec_point(point: Point) -> dict[str, float]:
    return {
        "knob": point.knob,
        "cost_usd": point.cost_usd,
        "quality": point.accuracy,
        "regret": point.regret,
        "flagship_calls": point.strong_calls,
    }


def fmt(value: float | None, spec: str) -> str:
    return "none" if value is None else format(value, spec)


if __name__ == "__main__":
    sys.exit(main())
