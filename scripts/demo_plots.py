"""PNG plots of the demo: cost-quality curves and cumulative regret against the oracle.

    python scripts/demo_offline.py --json curves.json      # the curves (about 8 minutes)
    python scripts/demo_plots.py curves.json --out docs/demo

Writes ``cost_quality.png`` (each policy's curve, accuracy relative to GPT-4 against the cost
saved, with the 95% line and the fixed and oracle routes) and ``cumulative_regret.png`` (MMLU,
seed 0, the demo's default cost weight, every outcome folded before the next decision).
Needs matplotlib (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmopt.demo.cost_model import STRONG, WEAK
from llmopt.demo.dataset import load
from llmopt.demo.presets import DEFAULT_COST_WEIGHT, DEFAULT_POLICY, PRESETS
from llmopt.demo.protocol import (
    cumulative_regret,
    flagship_cost_bound,
    oracle_arms,
    random_mix,
    reward_spec,
    route_fixed,
    run_policy,
    seeded_order,
)


def cost_quality(curves: dict[str, dict[str, object]], out: Path) -> None:
    fig, axes = plt.subplots(1, len(curves), figsize=(6.5 * len(curves), 5))
    for ax, (name, data) in zip(axes, curves.items(), strict=True):
        target = float(data["target"])  # type: ignore[arg-type]
        strong_cost = float(data["strong_cost"])  # type: ignore[arg-type]
        gpt4_accuracy = target / 0.95
        for label, points in data["curves"].items():  # type: ignore[attr-defined]
            pts = sorted(points, key=lambda p: p["cost_usd"])
            ax.plot(
                [1 - p["cost_usd"] / strong_cost for p in pts],
                [p["accuracy"] / gpt4_accuracy for p in pts],
                marker="o",
                markersize=3,
                linestyle="--" if "ours" not in label else "-",
                label=label,
            )
        oracle_saved = 1 - float(data["oracle_cost"]) / strong_cost  # type: ignore[arg-type]
        ax.axhline(0.95, color="grey", linewidth=0.8)
        ax.axvline(oracle_saved, color="grey", linewidth=0.8, linestyle=":")
        ax.set_title(f"{name}: cost saved vs quality (mean of 3 seeds)")
        ax.set_xlabel("cost saved vs always GPT-4")
        ax.set_ylabel("accuracy / GPT-4 accuracy")
        ax.set_ylim(0.75, 1.12)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "cost_quality.png", dpi=110)


def regret(out: Path) -> None:
    prompts = load("mmlu")
    subjects = sorted({p.subject for p in prompts})
    reward = reward_spec(DEFAULT_COST_WEIGHT["mmlu"], flagship_cost_bound(prompts))
    order = seeded_order(prompts, 0)
    fig, ax = plt.subplots(figsize=(7.5, 5))
    strong_share = 0.0
    default = DEFAULT_POLICY["mmlu"]
    for label in (default, "linucb", "thompson-per-subject", "epsilon-greedy"):
        _, arms = run_policy(
            order,
            PRESETS[label],
            experiment_id=f"plot-{label}",
            seed=0,
            subjects=subjects,
            reward=reward,
            round_size=1,
        )
        if label == default:
            strong_share = arms.count(STRONG) / len(arms)
        ax.plot(cumulative_regret(order, arms, reward), label=f"ours: {label}")
    for label, arms in (
        (f"random mix ({strong_share:.0%} GPT-4)", random_mix(order, strong_share, 0)),
        ("always GPT-4", [STRONG] * len(order)),
        ("always Mixtral", [WEAK] * len(order)),
    ):
        ax.plot(cumulative_regret(order, arms, reward), linestyle="--", label=label)
    assert route_fixed(order, oracle_arms(order), reward).regret < 1e-6
    ax.set_title(f"MMLU, seed 0, cost weight {DEFAULT_COST_WEIGHT['mmlu']}: regret vs oracle")
    ax.set_xlabel("prompts")
    ax.set_ylabel("cumulative regret (reward units)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "cumulative_regret.png", dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("curves", type=Path, help="the JSON of scripts/demo_offline.py --json")
    parser.add_argument("--out", type=Path, default=Path("docs/demo"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    cost_quality(json.loads(args.curves.read_text()), args.out)
    regret(args.out)
    print(f"wrote {args.out / 'cost_quality.png'} and {args.out / 'cumulative_regret.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
