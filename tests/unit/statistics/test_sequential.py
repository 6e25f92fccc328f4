"""The mixture SPRT is an exact mixture likelihood ratio, and peeking at it keeps the error at alpha."""

from __future__ import annotations

import itertools
import math

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, stats

from actors.statistics import SequentialLook, always_valid_p_values, mixing_variance, msprt
from actors.statistics.sequential import mixture_log_likelihood_ratio
from tests.strategies import DETERMINISTIC

TOL = 1e-9
Z_975 = 1.959963984540054

LOOKS = {
    "no effect yet": (0.0, 1e-4, 1e-3),
    "small effect": (0.01, 2e-5, 5.7e-4),
    "clear effect": (0.05, 1e-4, 5.7e-4),
    "negative effect": (-0.3, 0.01, 0.05),
    "tau much larger than V": (0.004, 1e-6, 10.0),
    "tau much smaller than V": (0.5, 1.0, 1e-4),
}


def integrated_likelihood_ratio(
    estimate: float, variance: float, tau2: float, null: float
) -> float:
    """The mixture ratio by quadrature: N(est; theta, V) / N(est; null, V) averaged over theta ~ N(null, tau^2)."""
    sd, tau = math.sqrt(variance), math.sqrt(tau2)
    reach = 40 * (tau + sd) + abs(estimate - null)
    value, _ = integrate.quad(
        lambda theta: (
            stats.norm.pdf(estimate, loc=theta, scale=sd)
            * stats.norm.pdf(theta, loc=null, scale=tau)
        ),
        null - reach,
        null + reach,
        points=sorted(
            {estimate + k * sd for k in (-10, -3, -1, 0, 1, 3, 10)}
            | {null + k * tau for k in (-3, 0, 3)}
        ),
        epsabs=0.0,
        epsrel=1e-13,
        limit=1000,
    )
    return float(value / stats.norm.pdf(estimate, loc=null, scale=sd))


class TestMixtureLikelihoodRatio:
    @pytest.mark.parametrize("null", [0.0, 0.02])
    @pytest.mark.parametrize(("estimate", "variance", "tau2"), LOOKS.values(), ids=LOOKS.keys())
    def test_closed_form_equals_the_integral(
        self, estimate: float, variance: float, tau2: float, null: float
    ) -> None:
        """The closed-form ratio equals the normal-mixture integral computed by scipy."""
        ours = math.exp(mixture_log_likelihood_ratio(estimate, variance, tau2, null))
        assert ours == pytest.approx(
            integrated_likelihood_ratio(estimate, variance, tau2, null), rel=TOL
        )

    @pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
    @pytest.mark.parametrize(("estimate", "variance", "tau2"), LOOKS.values(), ids=LOOKS.keys())
    def test_interval_ends_are_where_the_ratio_reaches_one_over_alpha(
        self, estimate: float, variance: float, tau2: float, alpha: float
    ) -> None:
        """At either end of a look's confidence interval the ratio against that value is exactly 1/alpha."""
        look = msprt(estimate, variance, tau2, alpha=alpha)
        for end in look.ci:
            assert mixture_log_likelihood_ratio(estimate, variance, tau2, end) == pytest.approx(
                -math.log(alpha), rel=TOL
            )

    @pytest.mark.parametrize("n_star", [1000.0, 5000.0, 10000.0])
    @pytest.mark.parametrize("total_n", [200, 5000, 80_000])
    def test_half_width_is_growthbooks_boundary(self, n_star: float, total_n: int) -> None:
        """With tau^2 from N*, the half-width equals GrowthBook's s sqrt(2(N rho^2+1)/(N^2 rho^2) log(sqrt(N rho^2+1)/alpha))."""
        alpha, unit_variance = 0.05, 0.36
        rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / n_star
        growthbook = math.sqrt(unit_variance) * math.sqrt(
            2
            * (total_n * rho2 + 1)
            / (total_n**2 * rho2)
            * math.log(math.sqrt(total_n * rho2 + 1) / alpha)
        )
        tau2 = mixing_variance(n_star, unit_variance, alpha)
        look = msprt(0.01, unit_variance / total_n, tau2, alpha=alpha)
        assert (look.ci[1] - look.ci[0]) / 2 == pytest.approx(growthbook, rel=TOL)


class TestAlwaysValidState:
    def test_p_value_is_a_running_minimum_and_interval_a_running_intersection(self) -> None:
        """Across looks the p-value never rises and the interval never widens."""
        tau2 = 1e-3
        look: SequentialLook | None = None
        history = []
        for estimate, variance in [
            (0.05, 0.01),
            (0.09, 0.004),
            (0.01, 0.002),
            (0.03, 0.001),
            (0.0, 0.0008),
        ]:
            look = msprt(estimate, variance, tau2, previous=look)
            history.append(look)
        assert [h.looks for h in history] == [1, 2, 3, 4, 5]
        assert all(b.p_value <= a.p_value for a, b in itertools.pairwise(history))
        assert all(
            a.ci[0] <= b.ci[0] and b.ci[1] <= a.ci[1] for a, b in itertools.pairwise(history)
        )

    def test_vectorised_p_values_equal_the_fold(self) -> None:
        """always_valid_p_values over a batch equals folding msprt look by look."""
        rng = np.random.default_rng(3)
        estimates = rng.normal(0.0, 0.05, (4, 10))
        variances = rng.uniform(1e-4, 1e-2, (4, 10))
        variances[1, 3] = math.nan  # an arm with a single observation at that look
        batch = always_valid_p_values(estimates, variances, 2e-3)
        for row in range(4):
            look: SequentialLook | None = None
            for k in range(10):
                look = msprt(
                    float(estimates[row, k]), float(variances[row, k]), 2e-3, previous=look
                )
                assert batch[row, k] == pytest.approx(look.p_value, rel=1e-12)

    def test_zero_variance(self) -> None:
        """With no variation a differing estimate rejects outright and an equal one never does."""
        assert msprt(0.1, 0.0, 1e-3).p_value == 0.0
        assert msprt(0.0, 0.0, 1e-3).p_value == 1.0
        assert msprt(0.1, 0.0, 1e-3).ci == (0.1, 0.1)

    def test_undefined_variance_keeps_the_previous_state(self) -> None:
        """A look whose variance is NaN (an arm with one observation) changes neither p-value nor interval."""
        first = msprt(0.05, 0.01, 1e-3)
        second = msprt(0.2, math.nan, 1e-3, previous=first)
        assert (second.p_value, second.ci, second.looks) == (first.p_value, first.ci, 2)

    def test_settings_must_stay_fixed(self) -> None:
        """Changing alpha or tau^2 between looks voids the guarantee, so it raises ValueError."""
        first = msprt(0.05, 0.01, 1e-3)
        with pytest.raises(ValueError, match="fixed"):
            msprt(0.05, 0.01, 2e-3, previous=first)

    @DETERMINISTIC
    @given(
        estimate=st.floats(min_value=-10, max_value=10),
        variance=st.floats(min_value=1e-8, max_value=10),
        tau2=st.floats(min_value=1e-8, max_value=10),
    )
    def test_p_value_and_interval_agree(
        self, estimate: float, variance: float, tau2: float
    ) -> None:
        """At a single look, p <= alpha exactly when 0 lies outside the interval; p is in [0, 1]."""
        look = msprt(estimate, variance, tau2, alpha=0.05)
        assert 0.0 <= look.p_value <= 1.0
        margin = 1e-9 * max(abs(look.ci[0]), abs(look.ci[1]), 1e-12)
        if not (abs(look.ci[0]) < margin or abs(look.ci[1]) < margin):
            assert look.reject == (not look.ci[0] <= 0.0 <= look.ci[1])


def simulate(
    rate_a: float,
    rate_b: float,
    *,
    experiments: int = 2000,
    looks: int = 28,
    batch: int = 100,
    seed: int = 7,
) -> dict[str, npt.NDArray[np.bool_] | float]:
    """Seeded conversion experiments read after every ``batch`` units per arm.

    Returns, per experiment, whether repeated naive z-tests ever rejected at 5%, whether the
    always-valid test did, and the median units per arm to its first rejection.
    """
    rng = np.random.default_rng(seed)
    n = batch * np.arange(1, looks + 1)
    conversions_a = rng.binomial(batch, rate_a, size=(experiments, looks)).cumsum(axis=1)
    conversions_b = rng.binomial(batch, rate_b, size=(experiments, looks)).cumsum(axis=1)
    ra, rb = conversions_a / n, conversions_b / n
    pooled = (conversions_a + conversions_b) / (2 * n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.nan_to_num((rb - ra) / np.sqrt(pooled * (1 - pooled) * 2 / n))
    variance = ra * (1 - ra) / n + rb * (1 - rb) / n
    tau2 = mixing_variance(n_star=5000, unit_variance=4 * rate_a * (1 - rate_a), alpha=0.05)
    p = always_valid_p_values(rb - ra, variance, tau2)
    rejected = p <= 0.05
    first = rejected.argmax(axis=1)
    decided = rejected.any(axis=1)
    return {
        "naive": (np.abs(z) > Z_975).any(axis=1),
        "fixed": np.abs(z[:, -1]) > Z_975,
        "always_valid": decided,
        "median_units": float(np.median((first[decided] + 1) * batch))
        if decided.any()
        else math.nan,
    }


class TestPeeking:
    def test_naive_peeking_inflates_errors_and_the_always_valid_test_does_not(self) -> None:
        """Over 2,000 A/A tests read 28 times, naive z-tests reject about 26%, the mSPRT at most alpha."""
        result = simulate(0.10, 0.10)
        margin = 3 * math.sqrt(0.05 * 0.95 / 2000)  # three Monte-Carlo standard errors
        assert float(np.mean(result["naive"])) > 0.20  # 0.2585 with this seed
        assert abs(float(np.mean(result["fixed"])) - 0.05) < margin  # one look is fine: 0.0495
        assert float(np.mean(result["always_valid"])) <= 0.05 + margin  # 0.0115

    def test_always_valid_test_has_power(self) -> None:
        """Against a 30% lift (10% to 13%) the always-valid test finds it in most experiments."""
        result = simulate(0.10, 0.13)
        assert float(np.mean(result["always_valid"])) > 0.7  # 0.7585; one fixed look: 0.9305
        assert float(np.mean(result["naive"])) > 0.9
        assert result["median_units"] <= 2000  # 1600 per arm
