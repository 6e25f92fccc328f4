"""PNG plots of the simulated workload: cost-quality curves and cumulative regret.

    python scripts/demo_simulated.py --json simulated.json     # the tables (about 2 minutes)
    python scripts/demo_simulated_plots.py simulated.json --out docs/demo

Writes ``simulated_cost_quality.png`` (each route's curve from sweeping the reward's cost
weight, mean of the seeds: quality relative to the flagship's against the cost saved, with the
95% line and the fixed routes as points) and ``simulated_regret.png`` (seed 0: cumulative
regret against the per-request oracle, with the request at which the degraded model changes).
Needs matplotlib (the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def cost_quality(data: dict[str, Any], out: Path) -> Path:
    flagship_cost = float(data["flagship"]["cost_usd"])
    flagship_quality = float(data["flagship"]["quality"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for label, points in data["curves"].items():
        pts = sorted(points, key=lambda p: p["cost_usd"])
        ax.plot(
            [1 - p["cost_usd"] / flagship_cost for p in pts],
            [p["quality"] / flagship_quality for p in pts],
            marker="o",
            markersize=3,
            linestyle="-" if label.startswith("ours") else "--",
            label=label,
        )
    for label, route in data["routes"].items():
        if label.startswith(("random", "always")):
            ax.scatter(
                1 - route["cost_usd"] / flagship_cost,
                route["quality"] / flagship_quality,
                marker="x",
                label=label,
            )
    ax.axhline(0.95, color="grey", linewidth=0.8)
    ax.set_title("simulated workload: cost saved vs quality (mean of seeds)")
    ax.set_xlabel("cost saved vs always the flagship")
    ax.set_ylabel("quality / flagship's quality")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "simulated_cost_quality.png"
    fig.savefig(path, dpi=110)
    return path


def regret(data: dict[str, Any], out: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for label, values in data["cumulative_regret"].items():
        ax.plot(values, linestyle="-" if label.startswith("ours") else "--", label=label)
    changes = {report["change_index"] for report in data["drift"].values()}
    for index in changes:
        ax.axvline(index, color="grey", linewidth=0.8, linestyle=":")
    ax.set_title("simulated workload, seed 0: regret vs the per-request oracle")
    ax.set_xlabel("requests (dotted: the model degrades)")
    ax.set_ylabel("cumulative regret (reward units)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "simulated_regret.png"
    fig.savefig(path, dpi=110)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("tables", type=Path, help="the JSON of scripts/demo_simulated.py --json")
    parser.add_argument("--out", type=Path, default=Path("docs/demo"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = json.loads(args.tables.read_text())
    written = [cost_quality(data, args.out), regret(data, args.out)]
    print("wrote " + " and ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
