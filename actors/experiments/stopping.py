r"""When an experiment may stop: enough samples, a significant and large enough effect, or time.

The rule reads the always-valid looks of each treatment against the control (one
:class:`~actors.experiments.contrast.ContrastMonitor` per treatment on the primary metric), so
it may be evaluated after every batch without inflating the error. In order:

1. **max duration** (event time since the start) reached: stop, whatever the data say;
2. some variant has fewer than ``min_samples_per_variant``: continue;
3. a treatment's always-valid p-value, Holm-adjusted across the treatments (valid for
   always-valid p-values because Holm only needs each to be valid at the stopping time), is at
   most ``alpha`` and its observed relative lift is at least ``min_improvement``: stop with
   that treatment as the winner (the largest lift if several qualify);
4. every treatment's confidence sequence lies below ``min_improvement`` times the control mean:
   no treatment can still reach the minimum improvement, stop without a winner (futility);
5. otherwise continue.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import msgspec

from actors.experiments.contrast import ContrastMonitor
from actors.statistics import holm

__all__ = ["StopDecision", "StoppingRule", "evaluate_stop"]

StopReason = Literal["max_duration", "min_samples", "significant", "futile", "continue"]


class StoppingRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    min_samples_per_variant: int = 1000
    max_duration_s: float | None = 30 * 86400.0
    """Event time from start to a forced stop; None for no limit."""
    alpha: float = 0.05
    min_improvement: float = 0.0
    """Relative lift of the primary metric a winner must show (0.02 = 2%)."""
    n_star: float = 5000.0
    """Tuning size of the mixture (GrowthBook's default)."""

    def __post_init__(self) -> None:
        if self.min_samples_per_variant < 2:
            raise ValueError("min_samples_per_variant must be >= 2")
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.max_duration_s is not None and not self.max_duration_s > 0.0:
            raise ValueError("max_duration_s must be positive")
        if not (math.isfinite(self.min_improvement) and self.min_improvement >= 0.0):
            raise ValueError("min_improvement must be >= 0")
        if not self.n_star > 0.0:
            raise ValueError("n_star must be positive")


class StopDecision(msgspec.Struct, frozen=True, kw_only=True):
    stop: bool
    reason: StopReason
    winner: str | None = None
    detail: str = ""


def _p_value(monitor: ContrastMonitor) -> float:
    return 1.0 if monitor.look is None else monitor.look.p_value


def evaluate_stop(
    rule: StoppingRule,
    *,
    elapsed_s: float,
    samples: Mapping[str, int],
    control_mean: float,
    monitors: Mapping[str, ContrastMonitor],
) -> StopDecision:
    """Decide from the per-variant sample counts and each treatment's monitor (vs. control)."""
    if rule.max_duration_s is not None and elapsed_s >= rule.max_duration_s:
        return StopDecision(
            stop=True,
            reason="max_duration",
            detail=f"ran {elapsed_s:.0f} s of event time, limit {rule.max_duration_s:.0f} s",
        )
    short = sorted(v for v, n in samples.items() if n < rule.min_samples_per_variant)
    if short:
        return StopDecision(
            stop=False,
            reason="min_samples",
            detail=f"below {rule.min_samples_per_variant} samples: {', '.join(short)}",
        )
    names = sorted(monitors)
    raw = [_p_value(monitors[v]) for v in names]
    adjusted = holm(raw) if names else []
    scale = abs(control_mean)
    qualifying: list[tuple[float, str]] = []
    for name, p in zip(names, adjusted, strict=True):
        look = monitors[name].look
        if look is None or p > rule.alpha or look.estimate <= 0.0:
            continue
        lift = look.estimate / scale if scale > 0.0 else math.inf
        if lift >= rule.min_improvement:
            qualifying.append((lift, name))
    if qualifying:
        lift, winner = max(qualifying)
        return StopDecision(
            stop=True,
            reason="significant",
            winner=winner,
            detail=f"{winner} beats control by {100 * lift:.2f}% (always-valid, Holm-adjusted)",
        )
    bar = rule.min_improvement * scale
    if names and all(monitors[v].look is not None and monitors[v].ci[1] < bar for v in names):
        return StopDecision(
            stop=True,
            reason="futile",
            detail=f"no variant can reach a {100 * rule.min_improvement:g}% improvement",
        )
    return StopDecision(stop=False, reason="continue")
