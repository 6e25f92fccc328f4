"""The two-proportion z-test equals statsmodels, and degenerate data give defined results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from statsmodels.stats._delta_method import NonlinearDeltaCov
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from actors.statistics import ALTERNATIVES, Alternative, two_proportion_ztest
from tests.strategies import DETERMINISTIC
from tests.unit.statistics.strategies import arm_counts

TOL = 1e-9

# (successes_a, trials_a, successes_b, trials_b)
CASES = {
    "typical": (100, 1000, 130, 1000),
    "small lift": (5_000, 50_000, 5_100, 50_000),
    "identical variants": (37, 200, 37, 200),
    "zero conversions in A": (0, 50, 3, 50),
    "zero conversions in B": (4, 80, 0, 120),
    "single trial each": (1, 1, 0, 1),
    "single trial against many": (0, 1, 30, 100),
    "very unequal sizes": (5, 20, 700, 100_000),
    "all converted in A": (25, 25, 20, 25),
    "rare events": (3, 1_000_000, 11, 1_000_000),
}
DEGENERATE = {
    "zero conversions in both": (0, 10, 0, 10),
    "zero conversions, single trials": (0, 1, 0, 1),
    "all converted in both": (40, 40, 7, 7),
}
# statsmodels names B > A "larger" when B is its first sample, as here.
ALPHAS = [0.05, 0.01, 0.2]


def as_statsmodels(case: tuple[int, int, int, int]) -> tuple[list[int], list[int]]:
    sa, na, sb, nb = case
    return [sb, sa], [nb, na]


class TestAgainstStatsmodels:
    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
    def test_statistic_and_p_value(
        self, case: tuple[int, int, int, int], alternative: Alternative
    ) -> None:
        """z and the p-value equal statsmodels' proportions_ztest (pooled standard error)."""
        result = two_proportion_ztest(*case, alternative=alternative)
        z, p = proportions_ztest(*as_statsmodels(case), alternative=alternative)
        assert result.statistic == pytest.approx(z, rel=TOL, abs=TOL)
        assert result.p_value == pytest.approx(p, rel=TOL, abs=1e-300)

    @pytest.mark.parametrize("alpha", ALPHAS)
    @pytest.mark.parametrize(
        "case", {**CASES, **DEGENERATE}.values(), ids={**CASES, **DEGENERATE}.keys()
    )
    def test_difference_interval(self, case: tuple[int, int, int, int], alpha: float) -> None:
        """The interval for B - A equals statsmodels' unpooled Wald interval, degenerate data included."""
        sa, na, sb, nb = case
        result = two_proportion_ztest(*case, alpha=alpha)
        low, high = confint_proportions_2indep(
            sb, nb, sa, na, method="wald", compare="diff", alpha=alpha
        )
        assert result.difference_ci == pytest.approx((low, high), rel=TOL, abs=TOL)
        assert result.difference == pytest.approx(sb / nb - sa / na, abs=1e-15)

    @pytest.mark.parametrize("alpha", ALPHAS)
    @pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
    def test_lift_interval_is_the_delta_method(
        self, case: tuple[int, int, int, int], alpha: float
    ) -> None:
        """The lift interval equals statsmodels' NonlinearDeltaCov for p_B / p_A - 1 (NaN over a zero A)."""
        sa, na, sb, nb = case
        result = two_proportion_ztest(*case, alpha=alpha)
        ra, rb = sa / na, sb / nb
        if ra == 0.0:
            assert math.isnan(result.relative_lift)
            assert all(math.isnan(bound) for bound in result.lift_ci)
            return
        cov = np.diag([ra * (1 - ra) / na, rb * (1 - rb) / nb])
        delta = NonlinearDeltaCov(lambda p: np.array([p[1] / p[0] - 1.0]), np.array([ra, rb]), cov)
        ((low, high),) = delta.conf_int(alpha=alpha)
        assert result.relative_lift == pytest.approx(rb / ra - 1.0, rel=TOL)
        assert result.lift_ci == pytest.approx((low, high), rel=TOL, abs=TOL)


class TestDegenerateData:
    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("case", DEGENERATE.values(), ids=DEGENERATE.keys())
    def test_no_variation_means_nothing_to_detect(
        self, case: tuple[int, int, int, int], alternative: Alternative
    ) -> None:
        """With no variation in either arm (statsmodels: 0/0 = NaN) z is 0 and the p-value 1."""
        result = two_proportion_ztest(*case, alternative=alternative)
        assert (result.statistic, result.p_value) == (0.0, 1.0)
        with pytest.warns(RuntimeWarning):
            assert all(math.isnan(v) for v in proportions_ztest(*as_statsmodels(case)))

    def test_identical_variants(self) -> None:
        """Identical arms have z = 0, p = 1, a zero difference and a zero lift."""
        result = two_proportion_ztest(37, 200, 37, 200)
        assert (result.statistic, result.p_value, result.difference, result.relative_lift) == (
            0.0,
            1.0,
            0.0,
            0.0,
        )

    @pytest.mark.parametrize(
        ("case", "message"),
        [
            ((0, 0, 1, 10), "at least one trial"),
            ((1, 10, 0, 0), "at least one trial"),
            ((11, 10, 1, 10), "successes <= trials"),
            ((-1, 10, 1, 10), "successes <= trials"),
        ],
    )
    def test_impossible_counts_raise(self, case: tuple[int, int, int, int], message: str) -> None:
        """An arm without trials, or with counts outside 0..trials, raises ValueError."""
        with pytest.raises(ValueError, match=message):
            two_proportion_ztest(*case)

    def test_unknown_alternative_or_alpha_raises(self) -> None:
        """An alternative outside the three names, or alpha outside (0, 1), raises ValueError."""
        with pytest.raises(ValueError, match="alternative"):
            two_proportion_ztest(1, 10, 2, 10, alternative="greater")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="alpha"):
            two_proportion_ztest(1, 10, 2, 10, alpha=1.0)


class TestProperties:
    @DETERMINISTIC
    @given(a=arm_counts(), b=arm_counts())
    def test_p_values_are_probabilities(self, a: tuple[int, int], b: tuple[int, int]) -> None:
        """Every p-value lies in [0, 1], and the two one-sided ones add up to 1 when z is defined."""
        results = {alt: two_proportion_ztest(*a, *b, alternative=alt) for alt in ALTERNATIVES}
        assert all(0.0 <= r.p_value <= 1.0 for r in results.values())
        if results["larger"].p_value != 1.0 or results["smaller"].p_value != 1.0:
            assert results["larger"].p_value + results["smaller"].p_value == pytest.approx(
                1.0, abs=1e-14
            )

    @DETERMINISTIC
    @given(a=arm_counts(), b=arm_counts())
    def test_swapping_arms_mirrors_the_result(self, a: tuple[int, int], b: tuple[int, int]) -> None:
        """Swapping A and B negates z, the difference and its interval; the two-sided p is unchanged."""
        forward, backward = two_proportion_ztest(*a, *b), two_proportion_ztest(*b, *a)
        assert backward.statistic == -forward.statistic
        assert backward.p_value == pytest.approx(forward.p_value, rel=1e-12)
        assert backward.difference == -forward.difference
        assert backward.difference_ci == pytest.approx(
            (-forward.difference_ci[1], -forward.difference_ci[0]), abs=1e-15
        )
