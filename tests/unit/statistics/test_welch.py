"""Welch's t-test from summaries equals scipy.stats.ttest_ind(equal_var=False) on the raw data."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from scipy import stats
from statsmodels.stats._delta_method import NonlinearDeltaCov

from actors.statistics import ALTERNATIVES, Alternative, SampleSummary, welch_ttest
from tests.strategies import DETERMINISTIC
from tests.unit.statistics.strategies import sample_summaries

TOL = 1e-9
SCIPY_ALTERNATIVE = {"two-sided": "two-sided", "larger": "greater", "smaller": "less"}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


SAMPLES: dict[str, tuple[list[float], list[float]]] = {
    "typical": (list(_rng(1).normal(10, 2, 50)), list(_rng(2).normal(11, 3, 80))),
    "unequal variances": (list(_rng(3).normal(0, 1, 30)), list(_rng(4).normal(0.5, 10, 30))),
    "very unequal sizes": (list(_rng(5).normal(5, 1, 5)), list(_rng(6).normal(5.2, 1, 5000))),
    "identical variants": ([1.0, 2.0, 4.0, 8.0], [1.0, 2.0, 4.0, 8.0]),
    "two observations each": ([0.0, 1.0], [2.0, 5.0]),
    "one constant arm": ([3.0, 3.0, 3.0], [1.0, 2.5, 4.0, 2.0]),
    "large offset": (list(1e6 + _rng(7).normal(0, 1, 40)), list(1e6 + _rng(8).normal(0.3, 1, 40))),
    "skewed latencies": (list(_rng(9).lognormal(5, 1, 300)), list(_rng(10).lognormal(5.1, 1, 200))),
}


def summaries(case: tuple[list[float], list[float]]) -> tuple[SampleSummary, SampleSummary]:
    return SampleSummary.from_values(case[0]), SampleSummary.from_values(case[1])


# scipy warns about its own moment computation on constant data; that is not ours to fix.
@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
class TestAgainstScipy:
    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("case", SAMPLES.values(), ids=SAMPLES.keys())
    def test_statistic_df_and_p_value(
        self, case: tuple[list[float], list[float]], alternative: Alternative
    ) -> None:
        """t, the Welch-Satterthwaite df and the p-value equal scipy's ttest_ind(b, a, equal_var=False)."""
        result = welch_ttest(*summaries(case), alternative=alternative)
        ref = stats.ttest_ind(
            case[1], case[0], equal_var=False, alternative=SCIPY_ALTERNATIVE[alternative]
        )
        assert result.statistic == pytest.approx(ref.statistic, rel=TOL, abs=TOL)
        assert result.df == pytest.approx(ref.df, rel=TOL)
        assert result.p_value == pytest.approx(ref.pvalue, rel=TOL, abs=1e-300)

    @pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
    @pytest.mark.parametrize("case", SAMPLES.values(), ids=SAMPLES.keys())
    def test_difference_interval(self, case: tuple[list[float], list[float]], alpha: float) -> None:
        """The interval for B - A equals scipy's confidence_interval at level 1 - alpha."""
        result = welch_ttest(*summaries(case), alpha=alpha)
        ref = stats.ttest_ind(case[1], case[0], equal_var=False).confidence_interval(1 - alpha)
        assert result.difference_ci == pytest.approx((ref.low, ref.high), rel=TOL, abs=TOL)

    @pytest.mark.parametrize("case", SAMPLES.values(), ids=SAMPLES.keys())
    def test_lift_interval_is_the_delta_method(self, case: tuple[list[float], list[float]]) -> None:
        """The lift interval equals statsmodels' NonlinearDeltaCov with a t quantile at the Welch df."""
        a, b = summaries(case)
        result = welch_ttest(a, b)
        cov = np.diag([a.variance / a.n, b.variance / b.n])
        delta = NonlinearDeltaCov(
            lambda m: np.array([m[1] / m[0] - 1.0]), np.array([a.mean, b.mean]), cov
        )
        ((low, high),) = delta.conf_int(alpha=0.05, use_t=True, df=result.df)
        assert result.relative_lift == pytest.approx(b.mean / a.mean - 1.0, rel=TOL, abs=1e-15)
        assert result.lift_ci == pytest.approx((low, high), rel=TOL, abs=TOL)

    def test_from_summary_statistics(self) -> None:
        """From (n, mean, variance) alone the test equals scipy's ttest_ind_from_stats."""
        a, b = (
            SampleSummary(n=12, mean=3.2, variance=1.7),
            SampleSummary(n=4000, mean=3.5, variance=9.1),
        )
        result = welch_ttest(a, b)
        ref = stats.ttest_ind_from_stats(
            b.mean, math.sqrt(b.variance), b.n, a.mean, math.sqrt(a.variance), a.n, equal_var=False
        )
        assert (result.statistic, result.p_value) == pytest.approx(
            (ref.statistic, ref.pvalue), rel=TOL
        )


class TestDegenerateData:
    @pytest.mark.parametrize(
        "case", [([1.0], [1.0, 2.0, 3.0]), ([1.0, 2.0], [5.0]), ([4.0], [4.0])]
    )
    def test_single_observation_is_undefined(self, case: tuple[list[float], list[float]]) -> None:
        """With one observation in an arm the variance is unknown: t, df, p and intervals are NaN, as in scipy."""
        result = welch_ttest(*summaries(case))
        assert all(
            math.isnan(v)
            for v in (
                result.statistic,
                result.df,
                result.p_value,
                *result.difference_ci,
                *result.lift_ci,
            )
        )
        assert result.difference == pytest.approx(float(np.mean(case[1]) - np.mean(case[0])))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert math.isnan(stats.ttest_ind(case[1], case[0], equal_var=False).pvalue)

    def test_constant_and_equal_arms_have_nothing_to_detect(self) -> None:
        """Both arms constant and equal (scipy: NaN): t = 0, p = 1, a zero-width interval."""
        result = welch_ttest(*summaries(([2.0, 2.0, 2.0], [2.0, 2.0])))
        assert (result.statistic, result.p_value, result.difference_ci) == (0.0, 1.0, (0.0, 0.0))
        assert math.isnan(result.df)

    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    def test_constant_and_different_arms_are_certain(self, alternative: Alternative) -> None:
        """Both arms constant but different: t is infinite and the p-value 0 or 1, as in scipy."""
        a, b = [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]
        result = welch_ttest(*summaries((a, b)), alternative=alternative)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = stats.ttest_ind(b, a, equal_var=False, alternative=SCIPY_ALTERNATIVE[alternative])
        assert (result.statistic, result.p_value) == (ref.statistic, ref.pvalue)
        assert result.difference_ci == (1.0, 1.0)

    def test_zero_baseline_has_no_lift(self) -> None:
        """A control mean of 0 leaves the lift and its interval NaN; the test itself is unaffected."""
        result = welch_ttest(*summaries(([-1.0, 1.0, 0.0], [0.5, 1.5, 1.0])))
        assert math.isnan(result.relative_lift) and all(math.isnan(v) for v in result.lift_ci)
        assert not math.isnan(result.p_value)

    def test_empty_arm_raises(self) -> None:
        """An arm without observations raises ValueError."""
        with pytest.raises(ValueError, match="at least one observation"):
            welch_ttest(SampleSummary(0, math.nan, math.nan), SampleSummary(3, 1.0, 1.0))


class TestSampleSummary:
    @pytest.mark.parametrize("case", SAMPLES.values(), ids=SAMPLES.keys())
    def test_running_sums_agree_with_values(self, case: tuple[list[float], list[float]]) -> None:
        """A summary from running sums (n, sum, sum of squares) matches the two-pass one."""
        values = case[1]
        direct = SampleSummary.from_values(values)
        running = SampleSummary.from_sums(len(values), sum(values), sum(v * v for v in values))
        assert running.n == direct.n
        assert running.mean == pytest.approx(direct.mean, rel=1e-12)
        # The raw-sum formula loses digits to cancellation when the mean dwarfs the spread:
        # about eps * mean^2 / variance relative, as its docstring says.
        lost = 1e-15 * direct.mean**2 / direct.variance
        assert running.variance == pytest.approx(direct.variance, rel=1e-12 + lost)

    def test_variance_matches_numpy(self) -> None:
        """The variance has divisor n - 1, like numpy's var(ddof=1)."""
        values = SAMPLES["typical"][0]
        assert SampleSummary.from_values(values).variance == pytest.approx(
            float(np.var(values, ddof=1)), rel=1e-13
        )


class TestProperties:
    @DETERMINISTIC
    @given(a=sample_summaries(), b=sample_summaries())
    def test_p_values_are_probabilities_or_nan(self, a: SampleSummary, b: SampleSummary) -> None:
        """The p-value lies in [0, 1], or is NaN exactly when an arm has a single observation."""
        for alternative in ALTERNATIVES:
            p = welch_ttest(a, b, alternative=alternative).p_value
            assert math.isnan(p) == (a.n < 2 or b.n < 2)
            assert math.isnan(p) or 0.0 <= p <= 1.0

    @DETERMINISTIC
    @given(a=sample_summaries(), b=sample_summaries())
    def test_swapping_arms_mirrors_the_result(self, a: SampleSummary, b: SampleSummary) -> None:
        """Swapping A and B negates t and the interval and keeps the df and two-sided p."""
        forward, backward = welch_ttest(a, b), welch_ttest(b, a)
        assert backward.statistic == pytest.approx(-forward.statistic, rel=1e-12, nan_ok=True)
        assert backward.df == pytest.approx(forward.df, rel=1e-12, nan_ok=True)
        assert backward.p_value == pytest.approx(forward.p_value, rel=1e-9, abs=1e-300, nan_ok=True)
        low, high = forward.difference_ci
        assert backward.difference_ci == pytest.approx(
            (-high, -low), rel=1e-12, abs=1e-9, nan_ok=True
        )
