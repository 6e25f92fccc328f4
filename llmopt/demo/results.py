"""Cost-quality curves and the headline figure: the cost reduction at 95% of GPT-4's quality.

A policy's curve is a set of points (mean cost, mean accuracy over seeds), one per setting of
its knob (the reward's cost weight, or the strong model's share for random mixing). The
headline reads the curve at a quality target, ``0.95 x`` the accuracy of always calling the
strong model: walking the points from the cheapest, the first segment that crosses the
target is interpolated linearly (RouteLLM's "cost at 95% of GPT-4 quality", Ong et al. 2024,
sec. 5); a curve whose cheapest point already meets the target is read at that point (no
extrapolation beyond the measured settings), and one that never meets it gives None.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import msgspec.structs


class Point(msgspec.Struct, frozen=True, kw_only=True):
    """One setting of a policy, averaged over seeds."""

    knob: float
    cost_usd: float
    accuracy: float
    regret: float = 0.0
    """Mean reward regret against the per-prompt oracle (in the setting's reward units)."""
    strong_calls: float = 0.0
    """Mean number of calls to the strong model: the curve read in calls instead of dollars
    (RouteLLM's "call-performance threshold"), for figures measured that way."""


def cost_at_quality(
    points: Sequence[Point], target: float, *, in_calls: bool = False
) -> float | None:
    """The cost at which the curve through ``points`` (ordered by cost) first reaches
    ``target`` accuracy, linearly interpolated; None if no point reaches it. With
    ``in_calls`` the cost of a point is its number of strong-model calls."""
    if in_calls:
        points = [msgspec.structs.replace(p, cost_usd=p.strong_calls) for p in points]
    ordered = sorted(points, key=lambda p: (p.cost_usd, -p.accuracy))
    previous: Point | None = None
    for point in ordered:
        if point.accuracy >= target:
            if previous is None:
                return point.cost_usd
            share = (target - previous.accuracy) / (point.accuracy - previous.accuracy)
            return previous.cost_usd + share * (point.cost_usd - previous.cost_usd)
        previous = point
    return None


def cost_reduction(cost: float | None, baseline_cost: float) -> float | None:
    """``1 - cost / baseline_cost`` (None stays None): the share of the baseline's spend saved."""
    if baseline_cost <= 0:
        raise ValueError(f"baseline cost must be positive, got {baseline_cost}")
    return None if cost is None else 1.0 - cost / baseline_cost
