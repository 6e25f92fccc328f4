"""Each detector on cases whose answer is known by hand or by construction."""

from __future__ import annotations

import math

import pytest

from actors.drift import ADWIN, CUSUM, IQR, MAD, PSI, MultiCUSUM, PageHinkley, ZScore, psi
from actors.drift.calibration import cusum_threshold
from tests.unit.drift.streams import bernoulli, gaussian, shifted


def first_alarm(detector: object, stream: list[float]) -> int | None:
    update = detector.update  # type: ignore[attr-defined]
    return next((i for i, x in enumerate(stream) if update(x) is not None), None)


class TestCUSUM:
    def test_alarm_step_by_hand(self) -> None:
        """k=0.5, h=5 on z=2 steps: S grows by 1.5 a step and first exceeds 5 at the fourth."""
        chart = CUSUM(k=0.5, threshold=5.0, mean=0.0, sd=1.0)
        assert [chart.update(2.0) for _ in range(3)] == [None, None, None]
        alarm = chart.update(2.0)
        assert alarm is not None
        assert alarm.statistic == pytest.approx(6.0)
        assert (alarm.samples, alarm.window, alarm.direction) == (4, 4, "up")

    def test_threshold_from_arl0(self) -> None:
        """Without a threshold, h is Siegmund's threshold for the target run length."""
        chart = CUSUM(k=0.25, arl0=5000, mean=0.0, sd=1.0)
        assert chart.h == cusum_threshold(5000, 0.25)

    def test_estimated_reference_is_on_the_stream_scale(self) -> None:
        """The same shift in sd units is caught equally fast on a stream scaled by 1000."""
        base = shifted(30, 1500, 500, 1.0)
        a = first_alarm(CUSUM(k=0.5), base)
        b = first_alarm(CUSUM(k=0.5), [1000.0 * x + 7.0 for x in base])
        assert a is not None and a == b
        assert 1500 <= a < 1560

    def test_relearns_the_reference_after_an_alarm(self) -> None:
        """After a shift is reported the chart learns the new level and stays quiet on it."""
        chart = CUSUM(k=0.5, warmup=200, arl0=1e7)
        stream = shifted(31, 1000, 6000, 3.0)
        alarms = [i for i, x in enumerate(stream) if chart.update(x)]
        assert len(alarms) == 1 and 1000 <= alarms[0] < 1020


class TestMultiCUSUM:
    def test_faster_than_a_single_small_k_chart_on_a_large_shift(self) -> None:
        """With charts for several shift sizes a 1 sd shift is caught sooner than by k=0.1 alone
        at the same target rate."""
        multi, single = [], []
        for seed in range(8):
            stream = shifted(40 + seed, 1500, 1000, 1.0)
            multi.append(first_alarm(MultiCUSUM(), stream))
            single.append(first_alarm(CUSUM(k=0.1), stream))
        assert all(m is not None and m >= 1500 for m in multi)
        assert sum(m for m in multi if m) < sum(s for s in single if s)

    def test_each_chart_gets_its_share_of_the_rate(self) -> None:
        """m charts each get run length m * arl0, so their union meets arl0."""
        multi = MultiCUSUM(ks=(0.25, 0.5), arl0=1000, mean=0.0, sd=1.0)
        assert [c.h for c in multi.charts] == [
            cusum_threshold(2000, 0.25),
            cusum_threshold(2000, 0.5),
        ]

    def test_bad_ks_are_refused(self) -> None:
        """An empty, repeated or negative list of references raises ValueError naming ks."""
        for ks in ((), (0.5, 0.5), (-1.0,), "0.5"):
            with pytest.raises(ValueError, match="ks"):
                MultiCUSUM(ks=ks)  # type: ignore[arg-type]


class TestPageHinkley:
    def test_two_sided_by_hand(self) -> None:
        """With sd=1 and delta=0 a drop of 2 after a flat start alarms downward."""
        test = PageHinkley(delta=0.0, threshold=3.0, sd=1.0)
        for _ in range(20):
            assert test.update(0.0) is None
        alarm = next(a for _ in range(10) if (a := test.update(-2.0)))
        assert alarm.direction == "down"
        assert alarm.statistic > 3.0

    def test_scale_free(self) -> None:
        """A stream and its affine image alarm at the same observation."""
        base = shifted(32, 1000, 500, 0.75)
        a = first_alarm(PageHinkley(delta=0.1), base)
        b = first_alarm(PageHinkley(delta=0.1), [0.01 * x - 3.0 for x in base])
        assert a is not None and a == b


class TestADWIN:
    def test_catches_an_error_rate_jump_and_restarts_empty(self) -> None:
        """An error rate going from 0.1 to 0.5 is cut within 300 samples; the window restarts."""
        adwin = ADWIN()
        stream = bernoulli(33, 2000, 0.1) + bernoulli(34, 2000, 0.5)
        at = first_alarm(adwin, stream)
        assert at is not None and 2000 <= at < 2300
        assert adwin.width == 0

    def test_estimation_is_the_window_mean(self) -> None:
        """Without a cut the estimate is the mean of everything seen."""
        adwin = ADWIN()
        values = gaussian(35, 500, mean=2.0, sd=0.1)
        for x in values:
            adwin.update(x)
        assert adwin.width == 500
        assert adwin.estimation == pytest.approx(sum(values) / 500, rel=1e-12)

    def test_memory_is_logarithmic(self) -> None:
        """100,000 observations are held in at most max_buckets + 1 buckets per level."""
        adwin = ADWIN(clock=100_000)
        for x in gaussian(36, 100_000):
            adwin.update(x)
        assert adwin.width == 100_000
        assert len(adwin.totals) <= 17
        assert all(len(level) <= adwin.max_buckets for level in adwin.totals)


class TestPSI:
    def test_formula_by_hand(self) -> None:
        """Two bins with shares 0.5/0.5 against 0.8/0.2 give 0.3 ln(1.6) + 0.3 ln(2.5)."""
        reference = [0.0] * 50 + [1.0] * 50
        current = [0.0] * 80 + [1.0] * 20
        expected = 0.3 * math.log(0.8 / 0.5) + 0.3 * math.log(0.5 / 0.2)
        assert psi(reference, current, bins=2) == pytest.approx(expected, rel=1e-12)

    def test_identical_samples_give_zero(self) -> None:
        """A sample against itself has index 0."""
        values = gaussian(37, 400)
        assert psi(values, values) == pytest.approx(0.0, abs=1e-15)

    def test_threshold_is_configurable(self) -> None:
        """An index between 0.1 and 0.2 alarms at Evidently's 0.1 and not at 0.2."""
        reference = [0.0] * 50 + [1.0] * 50
        current = [0.0] * 70 + [1.0] * 30
        index = psi(reference, current, bins=2)
        assert 0.1 < index < 0.2
        stream = reference + current
        evidently = PSI(threshold=0.1, bins=2, reference_size=100, window_size=100, every=100)
        common = PSI(threshold=0.2, bins=2, reference_size=100, window_size=100, every=100)
        assert first_alarm(evidently, stream) == 199
        assert first_alarm(common, stream) is None


class TestAnomalies:
    def test_zscore_threshold_from_rate(self) -> None:
        """One false alarm per 10,000 Gaussian observations is |z| > 3.8906."""
        assert ZScore(rate=1e-4).z == pytest.approx(3.890591886, rel=1e-9)

    def test_mad_is_not_masked_by_an_earlier_outlier(self) -> None:
        """After one huge outlier the z-score misses a second one that MAD still flags."""
        stream = [*gaussian(38, 100), 1000.0, *gaussian(39, 20), 8.0]
        z = ZScore(threshold=3.5, window=200, min_samples=30)
        m = MAD(threshold=3.5, window=200, min_samples=30)
        z_flags = [i for i, x in enumerate(stream) if z.update(x)]
        m_flags = [i for i, x in enumerate(stream) if m.update(x)]
        assert 100 in z_flags and 121 not in z_flags
        assert 100 in m_flags and 121 in m_flags

    def test_iqr_fences_by_hand(self) -> None:
        """Quartiles 4.75 and 14.25 of 0..19: 14.25 + 3 * 9.5 = 42.75 is the upper fence."""
        detector = IQR(k=3.0, window=20, min_samples=20)
        for x in range(20):
            assert detector.update(float(x)) is None
        assert IQR.from_bytes(detector.to_bytes()).update(42.7) is None
        alarm = detector.update(42.8)
        assert alarm is not None
        assert alarm.statistic == pytest.approx((42.8 - 14.25) / 9.5)

    def test_mad_falls_back_to_mean_absolute_deviation(self) -> None:
        """A window mostly at one value has MAD 0; the scale falls back to sqrt(pi/2) times the
        mean absolute deviation, so the score stays finite."""
        detector = MAD(window=40, min_samples=40, threshold=3.5)
        for x in [0.0] * 36 + [1.0] * 4:
            detector.update(x)
        alarm = detector.update(1.0)
        assert alarm is not None
        assert alarm.statistic == pytest.approx(1.0 / (1.253314 * 0.1))
