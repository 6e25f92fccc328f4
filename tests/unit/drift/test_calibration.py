"""Thresholds from a target false-alarm rate: the approximations, and the rates they give on
seeded stable streams (within Monte-Carlo error of the target)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from actors.drift import ADWIN, CUSUM, PageHinkley
from actors.drift.calibration import (
    adjustment_coefficient,
    adwin_delta,
    calibrate,
    cusum_threshold,
    false_alarm_rate,
    side_thresholds,
    siegmund_arl,
)
from tests.unit.drift.streams import bernoulli, gaussian


def rate_per_10k(make: object, streams: list[list[float]], warmup: int = 0) -> tuple[float, int]:
    """False alarms per 10,000 monitored observations: the ``warmup`` observations after each
    (re)start, when a detector cannot alarm, are not part of a run length."""
    alarms = monitored = 0
    for stream in streams:
        a, n = false_alarm_rate(make(), stream)  # type: ignore[operator]
        alarms += a
        monitored += n - warmup * (a + 1)
    return alarms / monitored * 10_000, alarms


class TestApproximations:
    @pytest.mark.parametrize(("h", "arl"), [(4.0, 168.0), (5.0, 465.0)])
    def test_siegmund_matches_the_textbook_table(self, h: float, arl: float) -> None:
        """Two-sided k=0.5 CUSUM: Montgomery's run lengths 168 (h=4) and 465 (h=5) within 2 %."""
        assert siegmund_arl(h, 0.5) / 2 == pytest.approx(arl, rel=0.02)
        assert cusum_threshold(arl, 0.5) == pytest.approx(h, abs=0.03)

    def test_threshold_grows_with_the_run_length(self) -> None:
        """A rarer false alarm needs a higher threshold."""
        hs = [cusum_threshold(arl, 0.25) for arl in (100, 1_000, 10_000, 100_000)]
        assert hs == sorted(hs) and len(set(hs)) == 4

    def test_adjustment_coefficient_of_a_gaussian_is_2k(self) -> None:
        """For N(-k, 1) increments the root of E[exp(theta x)] = 1 is 2k."""
        z = np.random.default_rng(0).normal(0.0, 1.0, 200_000)
        assert adjustment_coefficient(z - 0.25) == pytest.approx(0.5, rel=0.02)

    def test_adjustment_coefficient_of_a_walk_that_cannot_rise_is_infinite(self) -> None:
        """Increments that are never positive give an infinite root; a non-negative mean is refused."""
        assert adjustment_coefficient(np.array([-1.0, -0.5])) == math.inf
        with pytest.raises(ValueError, match="negative mean"):
            adjustment_coefficient(np.array([1.0, -0.5]))

    def test_gaussian_sample_gives_the_gaussian_thresholds(self) -> None:
        """On a large Gaussian sample both sides get Siegmund's Gaussian threshold."""
        z = np.random.default_rng(1).normal(0.0, 1.0, 200_000)
        z = (z - z.mean()) / z.std(ddof=1)
        up, down = side_thresholds(z, 0.25, 10_000)
        assert up == pytest.approx(cusum_threshold(10_000, 0.25), rel=0.03)
        assert down == pytest.approx(cusum_threshold(10_000, 0.25), rel=0.03)

    def test_skewed_sample_raises_the_side_its_tail_pushes(self) -> None:
        """An error indicator at 10 % gets a higher upper and a lower lower threshold."""
        b = np.array(bernoulli(2, 2000, 0.1))
        z = (b - b.mean()) / b.std(ddof=1)
        up, down = side_thresholds(z, 0.1, 10_000)
        gaussian_h = cusum_threshold(10_000, 0.1)
        assert up > gaussian_h > down

    def test_mean_error_raises_the_thresholds(self) -> None:
        """Averaging over the warm-up mean's error asks for higher thresholds than ignoring it."""
        z = np.random.default_rng(3).normal(0.0, 1.0, 1000)
        z = (z - z.mean()) / z.std(ddof=1)
        plain = side_thresholds(z, 0.1, 10_000)
        careful = side_thresholds(z, 0.1, 10_000, mean_error_sd=1 / math.sqrt(1000))
        assert careful[0] > plain[0] and careful[1] > plain[1]

    def test_adwin_delta_is_a_union_bound(self) -> None:
        """delta = rate * clock, capped below 1."""
        assert adwin_delta(1e-4, clock=32) == pytest.approx(0.0032)
        assert adwin_delta(0.1, clock=32) == 0.5


class TestSimulatedRates:
    """Each case runs 400,000 stable observations: with the target at 1 per 1,000 that is a few
    hundred false alarms, a Monte-Carlo standard error of about 5 %. Rates are per monitored
    observation (the warm-up after each restart cannot alarm and is no part of a run length)."""

    def test_known_reference_cusum_meets_the_target(self) -> None:
        """CUSUM with known mean and sd, h from ARL0=1000: the rate is within 4 standard errors."""
        streams = [gaussian(100 + s, 40_000) for s in range(10)]
        rate, alarms = rate_per_10k(lambda: CUSUM(k=0.5, arl0=1000, mean=0.0, sd=1.0), streams)
        assert abs(rate - 10.0) <= 4 * 10.0 / math.sqrt(alarms)

    def test_estimated_reference_cusum_meets_the_target_on_a_gaussian(self) -> None:
        """With the reference and thresholds learnt from a 1000-sample warm-up, the realised rate
        on a Gaussian stream is within 25 % of the target (Monte-Carlo error about 5 %)."""
        streams = [gaussian(200 + s, 40_000) for s in range(10)]
        rate, _ = rate_per_10k(lambda: CUSUM(k=0.25, arl0=1000), streams, warmup=1000)
        assert 7.5 <= rate <= 12.5

    def test_estimated_reference_cusum_meets_the_target_on_an_error_indicator(self) -> None:
        """On a 10 % error indicator the per-side thresholds keep the rate within 25 % of the
        target (Gaussian thresholds would give about two to three times the target)."""
        streams = [bernoulli(300 + s, 40_000, 0.1) for s in range(10)]
        rate, _ = rate_per_10k(lambda: CUSUM(k=0.25, arl0=1000), streams, warmup=1000)
        assert 7.5 <= rate <= 12.5

    def test_page_hinkley_meets_the_target(self) -> None:
        """Page-Hinkley with thresholds from its warm-up is within 25 % of the target."""
        streams = [gaussian(400 + s, 40_000) for s in range(10)]
        rate, _ = rate_per_10k(lambda: PageHinkley(delta=0.25, arl0=1000), streams, warmup=500)
        assert 7.5 <= rate <= 12.5

    def test_adwin_delta_from_rate_is_conservative(self) -> None:
        """ADWIN with delta from the union bound alarms no more often than the target."""
        streams = [gaussian(500 + s, 40_000) for s in range(5)]
        rate, _ = rate_per_10k(lambda: ADWIN(delta=adwin_delta(1e-3)), streams)
        assert rate <= 10.0


def test_calibrate_finds_the_threshold_for_a_rate() -> None:
    """Bisection on a CUSUM threshold reaches the target rate within Monte-Carlo error."""
    streams = [gaussian(600 + s, 20_000) for s in range(5)]
    h = calibrate(
        lambda t: CUSUM(k=0.5, threshold=t, mean=0.0, sd=1.0), lambda: streams, 2e-3, 0.5, 20.0
    )
    assert h == pytest.approx(cusum_threshold(500, 0.5), abs=0.5)
