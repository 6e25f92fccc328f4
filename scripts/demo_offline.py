"""The offline table: cost reduction at 95% of GPT-4's quality, our policies vs the anchors.

Runs the protocol of :mod:`llmopt.demo.protocol` (each prompt once in a seeded order, only the
chosen model's outcome revealed, exploration counted; ``ceil(chars/4)`` tokens, GSM8K output
from the answers, 5 for MMLU; GPT-4-1106 $10/$30, Mixtral $0.60/$0.60 per 1M tokens; mean of
the seeds) through the live decider, sweeping each policy's cost weight, and prints one table
per dataset next to the published / measured anchors of issue 7.

    python scripts/demo_offline.py [--dataset mmlu|gsm8k|both-separately] [--round-size 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_common import machine_line, progress

from llmopt.demo.cost_model import STRONG, WEAK
from llmopt.demo.dataset import DatasetName, load
from llmopt.demo.presets import PRESETS
from llmopt.demo.protocol import (
    flagship_cost_bound,
    oracle_arms,
    reward_spec,
    route_fixed,
    seeded_order,
)
from llmopt.demo.results import Point, cost_at_quality, cost_reduction
from llmopt.demo.sweep import (
    COST_WEIGHTS,
    STRONG_SHARES,
    fixed_runner,
    hindsight_runner,
    policy_runner,
    random_runner,
    sweep,
)

ANCHORS: dict[str, list[tuple[str, float]]] = {
    "mmlu": [
        ("random mix (anchor)", 0.29),
        ("VW --cb_explore_adf --squarecb (anchor)", 0.51),
        ("MABWiser LinUCB (anchor)", 0.50),
        ("per-subject Thompson (anchor)", 0.49),
        ("best fixed per subject, hindsight (anchor)", 0.62),
        ("RouteLLM, trained offline (published)", 0.45),
    ],
    "gsm8k": [
        ("random mix (anchor)", 0.19),
        ("VW epsilon-greedy (anchor)", 0.29),
        ("MABWiser LinTS (anchor)", 0.26),
        ("RouteLLM, trained offline (published)", 0.35),
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--dataset", choices=["mmlu", "gsm8k", "both-separately"], default="both-separately"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--round-size", type=int, default=1)
    parser.add_argument("--policies", nargs="+", default=list(PRESETS))
    parser.add_argument("--json", type=Path, help="also write every curve to this file")
    args = parser.parse_args()
    names: list[DatasetName] = (
        ["mmlu", "gsm8k"] if args.dataset == "both-separately" else [args.dataset]
    )
    print(machine_line([]))
    print(
        f"protocol: each prompt once, seeded order, seeds {args.seeds} (mean), outcomes folded "
        f"after rounds of {args.round_size}; cost weight swept over {list(COST_WEIGHTS)} "
        "then bisected 3x towards the target"
    )
    dump: dict[str, object] = {}
    for name in names:
        dump[name] = table(name, args.seeds, args.round_size, args.policies)
    if args.json is not None:
        args.json.write_text(json.dumps(dump, indent=1))
    return 0


def table(
    name: DatasetName, seeds: list[int], round_size: int, policies: list[str]
) -> dict[str, object]:
    prompts = load(name)
    subjects = sorted({p.subject for p in prompts})
    cost_max = flagship_cost_bound(prompts)
    order = seeded_order(prompts, seeds[0])
    strong = route_fixed(order, [STRONG] * len(order), reward_spec(0.0, cost_max))
    weak = route_fixed(order, [WEAK] * len(order), reward_spec(0.0, cost_max))
    oracle = route_fixed(order, oracle_arms(order), reward_spec(0.0, cost_max))
    target = 0.95 * strong.accuracy
    rows: list[tuple[str, float | None, str]] = []
    curves: dict[str, list[dict[str, float]]] = {}

    def add(label: str, points: list[Point], seconds: float) -> None:
        cost = cost_at_quality(points, target)
        reduction = cost_reduction(cost, strong.cost_usd)
        calls = cost_at_quality(points, target, in_calls=True)
        fewer_calls = "" if calls is None else f"{1 - calls / len(prompts):.1%} fewer GPT-4 calls"
        versus_oracle = "" if cost is None else f"{cost / oracle.cost_usd:.2f}x oracle cost"
        rows.append(
            (label, reduction, f"{fewer_calls}; {versus_oracle}; {len(points)} pts, {seconds:.0f}s")
        )
        curves[label] = [
            {
                "knob": p.knob,
                "cost_usd": p.cost_usd,
                "accuracy": p.accuracy,
                "regret": p.regret,
                "strong_calls": p.strong_calls,
            }
            for p in points
        ]

    jobs = [
        ("random mix", random_runner(cost_max), STRONG_SHARES),
        ("best fixed per subject, hindsight", hindsight_runner(cost_max), COST_WEIGHTS),
        *(
            (
                f"ours: {label}",
                policy_runner(PRESETS[label], subjects, cost_max, round_size),
                COST_WEIGHTS,
            )
            for label in policies
        ),
    ]
    for label, runner, knobs in jobs:
        if (name == "gsm8k" and "per subject" in label) or (
            name == "gsm8k" and label.endswith("per-subject")
        ):
            continue  # GSM8K has one subject: per-subject is the plain policy
        progress(f"{name}: {label}")
        started = time.perf_counter()
        seed_list = seeds if "hindsight" not in label else seeds[:1]
        add(
            label,
            sweep(prompts, runner, seeds=seed_list, knobs=knobs, target=target),
            time.perf_counter() - started,
        )
    _ = fixed_runner  # the fixed baselines are computed directly above
    print()
    print(
        f"== {name}: {len(prompts)} prompts; target accuracy "
        f"{target:.4f} = 0.95 x GPT-4 {strong.accuracy:.4f}"
    )
    print(
        f"   always GPT-4 ${strong.cost_usd:.3f}, always Mixtral ${weak.cost_usd:.3f} "
        f"(accuracy {weak.accuracy:.4f}), per-prompt oracle ${oracle.cost_usd:.3f} "
        f"(accuracy {oracle.accuracy:.4f}, {1 - oracle.cost_usd / strong.cost_usd:.1%} cheaper)"
    )
    print(f"   {'method':48}{'cost reduction at 95% quality':>32}   detail")
    for label, reduction, detail in rows:
        shown = "does not reach" if reduction is None else f"{reduction:.1%}"
        print(f"   {label:48}{shown:>32}   {detail}")
    for label, value in ANCHORS[name]:
        print(f"   {label:48}{value:>32.0%}")
    sys.stdout.flush()
    return {
        "target": target,
        "strong_cost": strong.cost_usd,
        "oracle_cost": oracle.cost_usd,
        "curves": curves,
    }


if __name__ == "__main__":
    raise SystemExit(main())
