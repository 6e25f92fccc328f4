"""Power and sample size equal statsmodels' normal-approximation power functions."""

from __future__ import annotations

import pytest
from scipy.optimize import brentq
from statsmodels.stats.power import NormalIndPower, zt_ind_solve_power
from statsmodels.stats.proportion import (
    power_proportions_2indep,
    samplesize_proportions_2indep_onetail,
)

from actors.statistics import (
    ALTERNATIVES,
    Alternative,
    power_means,
    power_two_proportions,
    sample_size_means,
    sample_size_two_proportions,
)

TOL = 1e-9
# statsmodels' first sample is our A, its difference is A - B, so its "larger" is our "smaller".
MIRRORED: dict[str, str] = {"two-sided": "two-sided", "larger": "smaller", "smaller": "larger"}

PROPORTIONS = {
    "10% lift on 10%": (0.10, 0.11, 1.0),
    "big lift": (0.10, 0.15, 1.0),
    "drop": (0.50, 0.45, 1.0),
    "unequal split": (0.10, 0.12, 2.5),
    "canary split": (0.20, 0.22, 1 / 19),
    "rare events": (0.001, 0.0015, 1.0),
}
MEANS = {
    "small effect": (0.1, 1.0, 1.0),
    "large effect, 3:1": (0.3, 2.0, 3.0),
    "negative effect, 1:2": (-0.2, 1.0, 0.5),
}


def sm_power_proportions(
    ra: float, rb: float, n: float, ratio: float, alpha: float, alternative: str
) -> float:
    return float(
        power_proportions_2indep(
            ra - rb,
            rb,
            n,
            ratio=ratio,
            alpha=alpha,
            alternative=MIRRORED[alternative],
            return_results=False,
        )
    )


class TestProportions:
    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("n", [50, 1000, 40_000])
    @pytest.mark.parametrize(("ra", "rb", "ratio"), PROPORTIONS.values(), ids=PROPORTIONS.keys())
    def test_power(
        self, ra: float, rb: float, ratio: float, n: int, alternative: Alternative
    ) -> None:
        """Power equals statsmodels' power_proportions_2indep (pooled variance under the null)."""
        ours = power_two_proportions(ra, rb, n, ratio=ratio, alternative=alternative)
        assert ours == pytest.approx(
            sm_power_proportions(ra, rb, n, ratio, 0.05, alternative), rel=TOL, abs=1e-15
        )

    @pytest.mark.parametrize(("power", "alpha"), [(0.8, 0.05), (0.9, 0.01), (0.5, 0.1)])
    @pytest.mark.parametrize(("ra", "rb", "ratio"), PROPORTIONS.values(), ids=PROPORTIONS.keys())
    def test_sample_size_solves_statsmodels_power(
        self, ra: float, rb: float, ratio: float, power: float, alpha: float
    ) -> None:
        """The sample size is the root of statsmodels' two-sided power function, both tails included."""
        n = sample_size_two_proportions(ra, rb, power=power, ratio=ratio, alpha=alpha)
        root = brentq(
            lambda m: sm_power_proportions(ra, rb, m, ratio, alpha, "two-sided") - power,
            1.0,
            1e9,
            xtol=1e-10,
            rtol=1e-15,
        )
        assert n == pytest.approx(root, rel=TOL)
        # statsmodels' closed form ignores the far tail, so it asks for a little more: a few
        # parts per million at 80% power or more, up to 0.25% at 50% power and alpha = 0.1.
        onetail = samplesize_proportions_2indep_onetail(
            ra - rb, rb, power, ratio=ratio, alpha=alpha
        )
        assert n <= onetail
        assert n == pytest.approx(onetail, rel=1e-5 if power >= 0.8 else 3e-3)

    @pytest.mark.parametrize("alternative", ["larger", "smaller"])
    def test_one_sided_sample_size_is_the_closed_form(self, alternative: Alternative) -> None:
        """One-sided, the sample size equals statsmodels' closed form exactly."""
        ra, rb = (0.10, 0.12) if alternative == "larger" else (0.12, 0.10)
        n = sample_size_two_proportions(ra, rb, alternative=alternative)
        expected = samplesize_proportions_2indep_onetail(
            ra - rb, rb, 0.8, alternative=MIRRORED[alternative]
        )
        assert n == pytest.approx(expected, rel=TOL)

    def test_effect_in_the_wrong_direction_raises(self) -> None:
        """A one-sided test cannot gain power from an effect in the other direction: ValueError."""
        with pytest.raises(ValueError, match="other direction"):
            sample_size_two_proportions(0.10, 0.09, alternative="larger")

    def test_identical_rates_raise(self) -> None:
        """No difference can be detected with no difference: ValueError."""
        with pytest.raises(ValueError, match="zero"):
            sample_size_two_proportions(0.10, 0.10)


class TestMeans:
    @pytest.mark.parametrize("alternative", ALTERNATIVES)
    @pytest.mark.parametrize("n", [10, 500, 20_000])
    @pytest.mark.parametrize(("difference", "sd", "ratio"), MEANS.values(), ids=MEANS.keys())
    def test_power(
        self, difference: float, sd: float, ratio: float, n: int, alternative: Alternative
    ) -> None:
        """Power equals NormalIndPower().power with effect size difference / sd."""
        ours = power_means(difference, sd, n, ratio=ratio, alternative=alternative)
        expected = NormalIndPower().power(
            difference / sd, n, 0.05, ratio=ratio, alternative=alternative
        )
        assert ours == pytest.approx(expected, rel=TOL, abs=1e-15)

    @pytest.mark.parametrize(("difference", "sd", "ratio"), MEANS.values(), ids=MEANS.keys())
    def test_sample_size(self, difference: float, sd: float, ratio: float) -> None:
        """The sample size equals zt_ind_solve_power's (to its solver's tolerance) and hits the power exactly."""
        n = sample_size_means(difference, sd, power=0.8, ratio=ratio)
        solved = zt_ind_solve_power(
            effect_size=abs(difference) / sd, nobs1=None, alpha=0.05, power=0.8, ratio=ratio
        )
        assert n == pytest.approx(solved, rel=1e-9)
        assert power_means(difference, sd, n, ratio=ratio) == pytest.approx(0.8, rel=1e-13)

    def test_more_units_more_power(self) -> None:
        """Power grows with the sample size and reaches 1."""
        powers = [power_means(0.1, 1.0, n) for n in (10, 100, 1000, 10_000, 100_000)]
        assert powers == sorted(powers)
        assert powers[-1] == pytest.approx(1.0)
