"""What ``llmopt demo --workload simulated`` prints: the routed run against the fixed routes,
the drift alarm and where the traffic went, and the decision latency.

Pure: computed from the live run's totals and chosen models, the drift events read back from
the log, and the workload's counterfactual outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np

from actors.reward import RewardSpec
from events.schema import Event
from llmopt.demo.protocol import Tally
from llmopt.demo.simulated.evaluation import baselines, drift_report
from llmopt.demo.simulated.workload import SimRequest, SimulatedWorkload


def summary(
    workload: SimulatedWorkload,
    items: Sequence[SimRequest],
    tally: Tally,
    arms: Sequence[str],
    derived: Sequence[Event],
    reward: RewardSpec,
    latencies_ms: Sequence[float],
    *,
    experiment: str,
    **facts: Any,
) -> dict[str, Any]:
    """The figures of a run that served ``items[i]`` with ``arms[i]``; ``facts`` come first."""
    if tally.prompts != len(items) or len(arms) != len(items) or not items:
        raise ValueError(f"totals of {tally.prompts} requests for {len(items)} requests")
    fixed = baselines(workload, reward)
    flagship = fixed.flagship
    latency = np.asarray(latencies_ms, dtype=float)

    return {
        **facts,
        "experiment": experiment,
        "requests": tally.prompts,
        "flagship": workload.flagship,
        "cheapest": fixed.cheapest_arm,
        "arms": dict(tally.arms),
        "routed": route_figures(tally),
        "always_flagship": route_figures(flagship),
        "always_cheapest": route_figures(fixed.cheapest),
        "oracle": route_figures(fixed.oracle),
        "cost_saved_vs_flagship": 1.0 - tally.cost_usd / flagship.cost_usd,
        "quality_retained": tally.accuracy / flagship.accuracy,
        "drift": msgspec.to_builtins(drift_report(workload, items, arms, derived, experiment)),
        "decision_latency_ms": {
            "p50": float(np.percentile(latency, 50)) if latency.size else None,
            "p99": float(np.percentile(latency, 99)) if latency.size else None,
        },
    }


def format_text(f: dict[str, Any]) -> str:
    """The summary as the lines a person reads."""
    lines = [
        f"llmopt demo: simulated workload, {f['requests']} requests over {f.get('days')} days, "
        f"seed {f.get('seed')}, policy {f.get('policy')}, cost weight {f.get('cost_weight')}, "
        f"rounds of {f.get('round_size')} (lockstep)",
        "",
        f"  {'':18}{'routed':>10}{'always ' + f['flagship']:>18}"
        f"{'always ' + f['cheapest']:>20}{'oracle':>10}",
    ]
    columns = ("routed", "always_flagship", "always_cheapest", "oracle")
    widths = (10, 18, 20, 10)
    for key, label, spec in (
        ("cost_usd", "cost (USD)", ".3f"),
        ("quality", "mean quality", ".4f"),
        ("latency_ms", "mean latency (ms)", ".0f"),
        ("regret", "regret (reward)", ".1f"),
    ):
        cells = "".join(
            f"{format(f[c][key], spec):>{w}}" for c, w in zip(columns, widths, strict=True)
        )
        lines.append(f"  {label:18}{cells}")
    arms = ", ".join(f"{arm} {n / f['requests']:.0%}" for arm, n in f["arms"].items())
    d = f["drift"]
    lines += [
        "",
        f"  cost saved vs always {f['flagship']}:  {f['cost_saved_vs_flagship']:.1%}",
        f"  quality retained:               {f['quality_retained']:.1%} of {f['flagship']}'s",
        f"  arms:                           {arms}",
        "",
        f"  drift: {d['model']} degrades from request {d['change_index']}",
    ]
    if d["alarm_index"] is None:
        lines.append("    no downward quality alarm on it")
    else:
        lines += [
            f"    alarm (DriftDetected, quality down, reset_arm) at request {d['alarm_index']}: "
            f"{d['requests_to_alarm']} requests after the change, "
            f"{d['model_calls_to_alarm']} of them served by {d['model']}",
            f"    {d['model']}'s traffic share: {d['share_before']:.1%} before the change, "
            f"{d['share_change_to_alarm']:.1%} until the alarm, "
            f"{d['share_after_alarm']:.1%} after it",
        ]
    lines.append(f"    other alarms: {len(d['other_alarms'])}")
    lat = f["decision_latency_ms"]
    if lat["p50"] is not None:
        lines.append(
            f"  decision latency (client):      p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms"
        )
    for key in ("same_as_offline", "fallbacks", "seconds"):
        if key in f:
            lines.append(f"  {key.replace('_', ' ') + ':':32}{f[key]}")
    return "\n".join(lines)


def route_figures(tally: Tally) -> dict[str, float]:
    """A route's totals as the reports print them: cost, quality, mean latency, regret."""
    return {
        "cost_usd": tally.cost_usd,
        "quality": tally.accuracy,
        "latency_ms": tally.mean_latency_ms,
        "regret": tally.regret,
    }
