"""Latency per model: lognormal time to first token plus a time per output token, both
stretched when the provider is busy.

``latency = ttft * congestion + output_tokens * ms_per_token * congestion`` with ``ttft``
lognormal around the model's median and ``congestion = 1 + sensitivity * (load - 1)``, where
``load`` is the daily load curve's rate relative to its mean (:mod:`.load_curve`): a shared
provider is slower at the daily peak, the more so the more its capacity is shared. The
figures are assumptions of the right order of magnitude for hosted APIs in 2024 (a few hundred
ms to the first token, 50-200 output tokens per second), not measurements.
"""

from __future__ import annotations

from typing import Final

import msgspec


class LatencyProfile(msgspec.Struct, frozen=True, kw_only=True):
    ttft_median_ms: float
    ttft_sigma: float
    ms_per_token: float
    congestion: float
    """How much the daily peak slows the provider (0: not at all)."""


LATENCY: Final[dict[str, LatencyProfile]] = {
    "gpt-4o": LatencyProfile(ttft_median_ms=450, ttft_sigma=0.35, ms_per_token=12, congestion=0.5),
    "claude-3.5-sonnet": LatencyProfile(
        ttft_median_ms=800, ttft_sigma=0.35, ms_per_token=16, congestion=0.4
    ),
    "llama-3.1-70b": LatencyProfile(
        ttft_median_ms=350, ttft_sigma=0.4, ms_per_token=12, congestion=0.8
    ),
    "gpt-4o-mini": LatencyProfile(
        ttft_median_ms=350, ttft_sigma=0.35, ms_per_token=9, congestion=0.5
    ),
    "claude-3-haiku": LatencyProfile(
        ttft_median_ms=400, ttft_sigma=0.35, ms_per_token=7, congestion=0.3
    ),
    "llama-3.1-8b": LatencyProfile(
        ttft_median_ms=250, ttft_sigma=0.4, ms_per_token=5, congestion=0.8
    ),
}


def congestion(profile: LatencyProfile, load: float) -> float:
    """The slow-down factor at ``load`` (the rate relative to the daily mean)."""
    return max(0.1, 1.0 + profile.congestion * (load - 1.0))
