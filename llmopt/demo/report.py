"""What ``llmopt demo`` prints: cost saved, quality retained, regret, decision latency.

Pure: computed from the routed prompts' totals and the client's latencies, compared with
always calling the flagship (GPT-4-1106) and with the per-prompt oracle (the cheapest model
that answers correctly) on the same prompts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from actors.reward import RewardSpec
from llmopt.demo.cost_model import STRONG
from llmopt.demo.dataset import Prompt
from llmopt.demo.protocol import Tally, oracle_arms, route_fixed


def summary(
    ordered: Sequence[Prompt],
    tally: Tally,
    reward: RewardSpec,
    latencies_ms: Sequence[float],
    **facts: Any,
) -> dict[str, Any]:
    """The figures of a run of ``ordered`` with totals ``tally``; ``facts`` are echoed first."""
    if tally.prompts != len(ordered) or not ordered:
        raise ValueError(f"totals of {tally.prompts} prompts for {len(ordered)} prompts")
    flagship = route_fixed(ordered, [STRONG] * len(ordered), reward)
    oracle = route_fixed(ordered, oracle_arms(ordered), reward)
    latency = np.asarray(latencies_ms, dtype=float)
    return {
        **facts,
        "prompts": tally.prompts,
        "arms": dict(tally.arms),
        "cost_usd": tally.cost_usd,
        "flagship_cost_usd": flagship.cost_usd,
        "oracle_cost_usd": oracle.cost_usd,
        "cost_saved_vs_flagship": 1.0 - tally.cost_usd / flagship.cost_usd,
        "accuracy": tally.accuracy,
        "flagship_accuracy": flagship.accuracy,
        "oracle_accuracy": oracle.accuracy,
        "quality_retained": tally.accuracy / flagship.accuracy if flagship.accuracy else None,
        "regret": tally.regret,
        "regret_per_prompt": tally.regret / tally.prompts,
        "flagship_regret": flagship.regret,
        "decision_latency_ms": {
            "p50": float(np.percentile(latency, 50)) if latency.size else None,
            "p99": float(np.percentile(latency, 99)) if latency.size else None,
        },
    }


def format_text(figures: dict[str, Any]) -> str:
    """The summary as the lines a person reads."""
    f = figures
    lat = f["decision_latency_ms"]
    arms = ", ".join(f"{arm} {n} ({n / f['prompts']:.0%})" for arm, n in f["arms"].items())
    lines = [
        f"llmopt demo: {f.get('dataset', '?')}, {f['prompts']} prompts, seed {f.get('seed')}, "
        f"policy {f.get('policy')}, cost weight {f.get('cost_weight')}, "
        f"rounds of {f.get('round_size')} (lockstep)",
        "",
        f"  {'':24}{'routed':>12}{'always GPT-4':>14}{'oracle':>12}",
        f"  {'cost (USD)':24}{f['cost_usd']:>12.4f}{f['flagship_cost_usd']:>14.4f}"
        f"{f['oracle_cost_usd']:>12.4f}",
        f"  {'accuracy':24}{f['accuracy']:>12.4f}{f['flagship_accuracy']:>14.4f}"
        f"{f['oracle_accuracy']:>12.4f}",
        f"  {'regret (reward units)':24}{f['regret']:>12.1f}{f['flagship_regret']:>14.1f}"
        f"{0.0:>12.1f}",
        "",
        f"  cost saved vs always GPT-4:   {f['cost_saved_vs_flagship']:.1%}",
        f"  quality retained:             {f['quality_retained']:.1%} of GPT-4's accuracy",
        f"  regret vs per-prompt oracle:  {f['regret_per_prompt']:.4f} per prompt",
        f"  arms:                         {arms}",
    ]
    if lat["p50"] is not None:
        lines.append(
            f"  decision latency (client):    p50 {lat['p50']:.2f} ms, p99 {lat['p99']:.2f} ms"
        )
    for key in ("fallbacks", "seconds"):
        if key in f:
            lines.append(f"  {key + ':':30}{f[key]}")
    return "\n".join(lines)
