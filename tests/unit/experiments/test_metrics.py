"""Running sums equal the sample statistics, and the latency histogram knows its quantiles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actors.experiments.metrics import ArmMetrics, LatencyHistogram, MetricSums
from actors.statistics import SampleSummary


def test_sums_summarise_like_the_sample() -> None:
    """MetricSums gives the count, mean and unbiased variance of what was added."""
    values = [0.5, 0.75, 0.25, 1.0, 0.0]
    sums = MetricSums()
    for v in values:
        sums.add(v)
    expected = SampleSummary.from_values(values)
    assert sums.summary().n == expected.n
    assert sums.summary().mean == pytest.approx(expected.mean, abs=1e-12)
    assert sums.summary().variance == pytest.approx(expected.variance, abs=1e-12)


@pytest.mark.parametrize("q", [0.5, 0.9, 0.95, 0.99])
def test_histogram_quantile_within_two_percent(q: float) -> None:
    """A histogram quantile is within 2% of the exact sample quantile (lognormal latencies)."""
    rng = np.random.default_rng(7)
    values = 800.0 * rng.lognormal(0.0, 0.6, 20_000)
    histogram = LatencyHistogram()
    for v in values:
        histogram.add(float(v))
    exact = float(np.quantile(values, q, method="inverted_cdf"))
    assert histogram.quantile(q) == pytest.approx(exact, rel=0.02)


def test_share_above_brackets_the_exact_share() -> None:
    """The share in buckets wholly above a threshold is at most the exact share, and close to it."""
    rng = np.random.default_rng(8)
    values = 500.0 * rng.lognormal(0.0, 0.5, 20_000)
    histogram = LatencyHistogram()
    for v in values:
        histogram.add(float(v))
    for threshold in (300.0, 500.0, 1000.0):
        exact = float((values > threshold).mean())
        assert exact - 0.02 <= histogram.share_above(threshold) <= exact + 1e-12


def test_empty_histogram_has_no_quantile() -> None:
    """An empty histogram answers NaN rather than a made-up latency."""
    assert math.isnan(LatencyHistogram().quantile(0.95))
    assert math.isnan(LatencyHistogram().share_above(10.0))


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_histogram_refuses_impossible_latencies(bad: float) -> None:
    """A negative or non-finite latency is refused with the value in the message."""
    with pytest.raises(ValueError, match="latency must be"):
        LatencyHistogram().add(bad)


def test_zero_latency_is_counted() -> None:
    """A latency of 0 ms lands in the lowest bucket instead of failing the log."""
    histogram = LatencyHistogram()
    histogram.add(0.0)
    assert histogram.n == 1


def test_arm_metrics_skip_missing_values() -> None:
    """An outcome without a metric leaves that metric's count unchanged."""
    arm = ArmMetrics()
    arm.observe(quality=0.9, cost_usd=None, latency_ms=math.nan)
    arm.observe(quality=None, cost_usd=0.02, latency_ms=120.0)
    assert (arm.quality.n, arm.cost.n, arm.latency.n) == (1, 1, 1)
