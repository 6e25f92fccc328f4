"""Bayesian comparisons equal scipy's numerical integration and a seeded Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, special, stats

from actors.statistics import (
    BetaPosterior,
    NormalPosterior,
    SampleSummary,
    beta_expected_loss,
    compare_beta,
    compare_normal,
    normal_expected_loss,
    prob_beta_beats,
    prob_normal_beats,
)
from tests.strategies import DETERMINISTIC

TOL = 1e-9

BETA_PAIRS = {
    "typical": (BetaPosterior.from_counts(100, 1000), BetaPosterior.from_counts(130, 1000)),
    "identical variants": (BetaPosterior.from_counts(37, 200), BetaPosterior.from_counts(37, 200)),
    "zero conversions in both": (
        BetaPosterior.from_counts(0, 100),
        BetaPosterior.from_counts(0, 100),
    ),
    "zero conversions in A": (BetaPosterior.from_counts(0, 100), BetaPosterior.from_counts(3, 100)),
    "single trial each": (BetaPosterior.from_counts(1, 1), BetaPosterior.from_counts(0, 1)),
    "very unequal sizes": (
        BetaPosterior.from_counts(3, 20),
        BetaPosterior.from_counts(13_000, 100_000),
    ),
    "rare events": (
        BetaPosterior.from_counts(30, 1_000_000),
        BetaPosterior.from_counts(45, 100_000),
    ),
    "many conversions": (BetaPosterior(5000, 45000), BetaPosterior(5200, 44800)),
    "mostly converted": (
        BetaPosterior.from_counts(990, 1000),
        BetaPosterior.from_counts(995, 1000),
    ),
    "Jeffreys prior": (
        BetaPosterior.from_counts(0, 40, prior_alpha=0.5, prior_beta=0.5),
        BetaPosterior.from_counts(2, 40, prior_alpha=0.5, prior_beta=0.5),
    ),
    "U-shaped against skewed": (BetaPosterior(0.5, 0.5), BetaPosterior(1.5, 3.7)),
    "fractional rewards": (BetaPosterior(10.3, 100.2), BetaPosterior(12.5, 90.1)),
    "fractional, many": (BetaPosterior(500.5, 4500.5), BetaPosterior(520.5, 4480.5)),
}


def _breakpoints(a: BetaPosterior, b: BetaPosterior) -> list[float]:
    qs = (1e-9, 1e-4, 0.01, 0.5, 0.99, 1 - 1e-4, 1 - 1e-9)
    return sorted({float(stats.beta.ppf(q, p.alpha, p.beta)) for p in (a, b) for q in qs})


def mirrored(p: BetaPosterior) -> BetaPosterior:
    """The posterior of 1 - p."""
    return BetaPosterior(p.beta, p.alpha)


def scipy_prob(a: BetaPosterior, b: BetaPosterior) -> float:
    """P(p_B > p_A) = integral of f_A (1 - F_B), by scipy's adaptive quadrature.

    Posteriors crowded near 1 are mirrored (P(p_B > p_A) = P(1 - p_A > 1 - p_B)) so that the
    integrand is not evaluated where doubles are coarse; a density with a parameter below 1
    is integrated with QUADPACK's algebraic weight x^(a-1) (1-x)^(b-1), which handles its
    infinite ends exactly.
    """
    if a.mean > 0.5 and b.mean > 0.5:
        return scipy_prob(mirrored(b), mirrored(a))
    if min(a.alpha, a.beta) < 1.0:
        log_norm = float(special.betaln(a.alpha, a.beta))
        value, _ = integrate.quad(
            lambda x: stats.beta.sf(x, b.alpha, b.beta) * math.exp(-log_norm),
            0.0,
            1.0,
            weight="alg",
            wvar=(a.alpha - 1.0, a.beta - 1.0),
            epsabs=1e-15,
            epsrel=1e-13,
        )
        return float(value)
    value, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, a.alpha, a.beta) * stats.beta.sf(x, b.alpha, b.beta),
        0.0,
        1.0,
        points=_breakpoints(a, b),
        epsabs=1e-14,
        epsrel=1e-13,
        limit=500,
    )
    return float(value)


def scipy_loss(a: BetaPosterior, b: BetaPosterior) -> float:
    """E[max(p_A - p_B, 0)] = integral of F_B (1 - F_A), by scipy's adaptive quadrature."""
    if a.mean > 0.5 and b.mean > 0.5:
        return scipy_loss(mirrored(b), mirrored(a))
    value, _ = integrate.quad(
        lambda t: stats.beta.cdf(t, b.alpha, b.beta) * stats.beta.sf(t, a.alpha, a.beta),
        0.0,
        1.0,
        points=_breakpoints(a, b),
        epsabs=1e-15,
        epsrel=1e-13,
        limit=500,
    )
    return float(value)


class TestBetaAgainstScipy:
    @pytest.mark.parametrize("pair", BETA_PAIRS.values(), ids=BETA_PAIRS.keys())
    def test_probability_to_beat(self, pair: tuple[BetaPosterior, BetaPosterior]) -> None:
        """P(B beats A) equals scipy's integral, whether by Miller's sum or by quadrature."""
        assert prob_beta_beats(*pair) == pytest.approx(scipy_prob(*pair), rel=TOL, abs=1e-12)

    @pytest.mark.parametrize("pair", BETA_PAIRS.values(), ids=BETA_PAIRS.keys())
    def test_expected_loss(self, pair: tuple[BetaPosterior, BetaPosterior]) -> None:
        """The expected loss of choosing B equals scipy's integral of F_B (1 - F_A)."""
        assert beta_expected_loss(*pair) == pytest.approx(scipy_loss(*pair), rel=TOL, abs=1e-14)

    @pytest.mark.parametrize("level", [0.95, 0.8, 0.99])
    @pytest.mark.parametrize("pair", BETA_PAIRS.values(), ids=BETA_PAIRS.keys())
    def test_credible_intervals(
        self, pair: tuple[BetaPosterior, BetaPosterior], level: float
    ) -> None:
        """Credible intervals equal scipy.stats.beta.interval."""
        for posterior in pair:
            expected = stats.beta.interval(level, posterior.alpha, posterior.beta)
            assert posterior.credible_interval(level) == pytest.approx(expected, rel=TOL)

    @pytest.mark.parametrize(
        "pair",
        [
            (BetaPosterior(1_000_001, 11), BetaPosterior(1_000_001, 9)),  # sums over beta
            (BetaPosterior(300_001, 700_001), BetaPosterior(300_101, 699_901)),  # all too long
        ],
        ids=["long alpha sums", "every sum too long"],
    )
    def test_shortest_sum_or_quadrature(self, pair: tuple[BetaPosterior, BetaPosterior]) -> None:
        """Huge counts sum over the smallest parameter, or integrate when every sum is too long."""
        assert prob_beta_beats(*pair) == pytest.approx(scipy_prob(*pair), rel=TOL, abs=1e-12)


class TestBetaMonteCarlo:
    @pytest.mark.parametrize(
        "pair",
        [
            BETA_PAIRS["typical"],
            BETA_PAIRS["zero conversions in A"],
            BETA_PAIRS["fractional rewards"],
        ],
        ids=["typical", "zero conversions in A", "fractional rewards"],
    )
    def test_seeded_simulation_agrees(self, pair: tuple[BetaPosterior, BetaPosterior]) -> None:
        """200,000 seeded posterior draws agree with the exact values within 5 standard errors."""
        a, b = pair
        rng = np.random.default_rng(20240601)
        draws_a = rng.beta(a.alpha, a.beta, 200_000)
        draws_b = rng.beta(b.alpha, b.beta, 200_000)
        wins = draws_b > draws_a
        p = prob_beta_beats(a, b)
        assert abs(wins.mean() - p) <= 5 * math.sqrt(p * (1 - p) / wins.size) + 1e-6
        losses = np.maximum(draws_a - draws_b, 0.0)
        assert abs(losses.mean() - beta_expected_loss(a, b)) <= 5 * losses.std() / math.sqrt(
            losses.size
        )


class TestBetaProperties:
    def test_identical_variants_are_a_coin_flip(self) -> None:
        """Identical posteriors: P(B beats A) = 1/2 and both expected losses are equal."""
        a = BetaPosterior.from_counts(37, 200)
        result = compare_beta(a, a)
        assert result.prob_b_beats_a == pytest.approx(0.5, abs=1e-12)
        assert result.expected_loss_a == pytest.approx(result.expected_loss_b, rel=1e-12)

    def test_from_counts_adds_the_prior(self) -> None:
        """x successes in n trials turn Beta(a0, b0) into Beta(a0 + x, b0 + n - x)."""
        assert BetaPosterior.from_counts(3, 10, prior_alpha=0.5, prior_beta=2.0) == BetaPosterior(
            3.5, 9.0
        )

    @pytest.mark.parametrize(("successes", "trials"), [(-1, 10), (11, 10)])
    def test_impossible_counts_raise(self, successes: int, trials: int) -> None:
        """Counts outside 0..trials raise ValueError."""
        with pytest.raises(ValueError, match="successes"):
            BetaPosterior.from_counts(successes, trials)

    @DETERMINISTIC
    @given(counts=st.tuples(*(st.integers(min_value=0, max_value=2000),) * 4))
    def test_swapping_arms_complements(self, counts: tuple[int, int, int, int]) -> None:
        """P(B > A) + P(A > B) = 1, and loss(B) - loss(A) = mean(A) - mean(B)."""
        sa, fa, sb, fb = counts
        self.check_complements(BetaPosterior(1 + sa, 1 + fa), BetaPosterior(1 + sb, 1 + fb))

    @pytest.mark.parametrize("pair", BETA_PAIRS.values(), ids=BETA_PAIRS.keys())
    def test_swapping_arms_complements_on_the_table(
        self, pair: tuple[BetaPosterior, BetaPosterior]
    ) -> None:
        """The same identities hold for every pair of the table, integrated ones included."""
        self.check_complements(*pair)

    @staticmethod
    def check_complements(a: BetaPosterior, b: BetaPosterior) -> None:
        assert prob_beta_beats(a, b) + prob_beta_beats(b, a) == pytest.approx(1.0, abs=1e-12)
        assert 0.0 <= prob_beta_beats(a, b) <= 1.0
        difference = beta_expected_loss(a, b) - beta_expected_loss(b, a)
        assert difference == pytest.approx(a.mean - b.mean, abs=1e-12)

    def test_tiny_parameters_are_refused_by_the_integral(self) -> None:
        """Below 0.1 a parameter puts mass under the smallest double, so integration raises."""
        with pytest.raises(ValueError, match=r"below 0\.1"):
            prob_beta_beats(BetaPosterior(0.05, 0.5), BetaPosterior(0.5, 0.5))


NORMAL_PAIRS = {
    "typical": (NormalPosterior(10.0, 0.04), NormalPosterior(10.3, 0.09)),
    "identical variants": (NormalPosterior(2.0, 0.5), NormalPosterior(2.0, 0.5)),
    "far apart": (NormalPosterior(0.0, 1e-4), NormalPosterior(1.0, 1e-4)),
    "very unequal precision": (NormalPosterior(5.0, 1e-6), NormalPosterior(4.0, 25.0)),
}


class TestNormal:
    @pytest.mark.parametrize("pair", NORMAL_PAIRS.values(), ids=NORMAL_PAIRS.keys())
    def test_against_scipy(self, pair: tuple[NormalPosterior, NormalPosterior]) -> None:
        """P(B beats A), the expected loss and the intervals equal scipy's norm and quad."""
        a, b = pair
        sd = math.sqrt(a.variance + b.variance)
        d = a.mean - b.mean
        assert prob_normal_beats(a, b) == pytest.approx(
            stats.norm.sf(0.0, loc=-d, scale=sd), rel=TOL
        )
        loss, _ = integrate.quad(
            lambda x: x * stats.norm.pdf(x, loc=d, scale=sd),
            0.0,
            math.inf,
            epsabs=1e-14,
            epsrel=1e-13,
        )
        assert normal_expected_loss(a, b) == pytest.approx(loss, rel=TOL, abs=1e-14)
        result = compare_normal(a, b, level=0.9)
        assert result.credible_interval_b == pytest.approx(
            stats.norm.interval(0.9, loc=b.mean, scale=math.sqrt(b.variance)), rel=TOL
        )

    def test_flat_prior_posterior_is_the_sampling_distribution(self) -> None:
        """With the default flat prior the posterior is N(mean, variance / n)."""
        summary = SampleSummary(n=50, mean=3.0, variance=2.0)
        assert NormalPosterior.from_summary(summary) == NormalPosterior(3.0, 0.04)

    def test_conjugate_update(self) -> None:
        """A normal prior is updated by precision weighting: 1/v = 1/v0 + n/s^2."""
        summary = SampleSummary(n=50, mean=3.0, variance=2.0)
        posterior = NormalPosterior.from_summary(summary, prior_mean=1.0, prior_variance=0.01)
        assert posterior.variance == pytest.approx(1.0 / (100.0 + 25.0), rel=1e-15)
        assert posterior.mean == pytest.approx((100.0 * 1.0 + 25.0 * 3.0) / 125.0, rel=1e-15)

    def test_single_observation_is_undefined(self) -> None:
        """One observation leaves the variance unknown: the probability to beat is NaN."""
        a = NormalPosterior.from_summary(SampleSummary(n=1, mean=3.0, variance=math.nan))
        assert math.isnan(prob_normal_beats(a, NormalPosterior(2.0, 1.0)))

    def test_point_masses(self) -> None:
        """Zero-variance posteriors compare by their means; equal ones are a coin flip."""
        assert prob_normal_beats(NormalPosterior(1.0, 0.0), NormalPosterior(2.0, 0.0)) == 1.0
        assert prob_normal_beats(NormalPosterior(1.0, 0.0), NormalPosterior(1.0, 0.0)) == 0.5
        assert normal_expected_loss(NormalPosterior(3.0, 0.0), NormalPosterior(1.0, 0.0)) == 2.0
