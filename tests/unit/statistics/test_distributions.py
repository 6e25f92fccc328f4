"""The pure-Python distribution functions agree with scipy to 1e-12 relative, tails included."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special, stats

from actors.statistics import distributions as d
from actors.statistics import special as incomplete
from tests.strategies import DETERMINISTIC

REL = 1e-12

NORMAL_X = [-37.0, -30.0, -20.0, -10.0, -5.0, -2.0, -1.0, -0.5, -1e-3, 0.0, 1e-5, 0.3, 1.0]
NORMAL_X += [1.96, 3.0, 8.0, 20.0, 37.0]
PROBABILITIES = [1e-300, 1e-100, 1e-20, 1e-10, 1e-5, 1e-3, 0.025, 0.1, 0.3, 0.5, 0.7, 0.9]
PROBABILITIES += [0.975, 0.999, 1 - 1e-10]
T_DFS = [0.5, 1.0, 1.5, 2.0, 3.0, 4.7, 10.0, 30.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7, 1e9]
T_VALUES = [-1e6, -1e3, -100.0, -40.0, -10.0, -5.0, -3.0, -2.0, -1.0, -0.1, 0.0, 0.01, 0.5]
T_VALUES += [1.96, 3.0, 8.0, 30.0, 1e4]
CHI2_DFS = [0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 50.0, 100.0, 1000.0, 1e5]
CHI2_X = [1e-5, 0.01, 0.5, 1.0, 2.0, 3.84, 10.0, 50.0, 100.0, 300.0, 1000.0, 2000.0, 1e5]
BETA_PARAMETERS = [0.1, 0.5, 1.0, 2.0, 3.5, 10.0, 51.0, 1000.0, 1e5, 1e6]
BETA_X = [1e-10, 1e-4, 0.01, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1 - 1e-6]


def close(got: float, want: float, rel: float) -> bool:
    """Relative closeness; subnormal values (below 2.2e-308) carry few digits and are compared
    absolutely."""
    if math.isnan(want):
        return math.isnan(got)
    if abs(want) < sys.float_info.min:
        return abs(got - want) <= 1e-312
    return got == want or abs(got - want) <= rel * abs(want)


def mismatches(
    ours: Callable[..., float],
    reference: Callable[..., Any],
    cases: Iterable[Sequence[float]],
    rel: float = REL,
) -> list[tuple[Sequence[float], float, float]]:
    """The cases where ``ours`` and ``reference`` differ by more than ``rel``, with both values."""
    bad = []
    for case in cases:
        got, want = ours(*case), float(reference(*case))
        if not close(got, want, rel):
            bad.append((case, got, want))
    return bad


class TestNormal:
    @pytest.mark.parametrize(
        ("ours", "reference"),
        [
            (d.normal_cdf, stats.norm.cdf),
            (d.normal_sf, stats.norm.sf),
            (d.normal_pdf, stats.norm.pdf),
        ],
    )
    def test_matches_scipy_into_the_tails(
        self, ours: Callable[[float], float], reference: Any
    ) -> None:
        """cdf, sf and pdf equal scipy's from -37 to 37 standard deviations."""
        assert mismatches(ours, reference, [(x,) for x in NORMAL_X]) == []

    @pytest.mark.parametrize(
        ("ours", "reference"), [(d.normal_ppf, stats.norm.ppf), (d.normal_isf, stats.norm.isf)]
    )
    def test_quantiles_match_scipy(self, ours: Callable[[float], float], reference: Any) -> None:
        """The quantile and inverse survival function equal scipy's for p from 1e-300 to 1 - 1e-10."""
        assert mismatches(ours, reference, [(p,) for p in PROBABILITIES]) == []

    @pytest.mark.parametrize(("p", "expected"), [(0.0, -math.inf), (1.0, math.inf)])
    def test_quantile_at_the_ends_is_infinite(self, p: float, expected: float) -> None:
        """The quantiles of 0 and 1 are the ends of the real line."""
        assert d.normal_ppf(p) == expected

    @pytest.mark.parametrize("p", [-0.1, 1.1, math.nan])
    def test_quantile_outside_unit_interval_is_nan(self, p: float) -> None:
        """A probability outside [0, 1] has no quantile: NaN, as in scipy."""
        assert math.isnan(d.normal_ppf(p))


class TestStudentT:
    @pytest.mark.parametrize("df", T_DFS)
    def test_cdf_and_sf_match_scipy(self, df: float) -> None:
        """cdf and sf equal scipy's for |t| up to 1e6 and 0.5 to 1e9 degrees of freedom."""
        cases = [(t, df) for t in T_VALUES]
        assert mismatches(d.student_t_cdf, stats.t.cdf, cases) == []
        assert mismatches(d.student_t_sf, stats.t.sf, cases) == []

    @pytest.mark.parametrize("df", T_DFS)
    def test_pdf_matches_scipy(self, df: float) -> None:
        """The density equals scipy's to 1e-11 (scipy's own is off by 2e-12 near 1e4 df, ours is not)."""
        assert mismatches(d.student_t_pdf, stats.t.pdf, [(t, df) for t in T_VALUES], 1e-11) == []

    @pytest.mark.parametrize("df", T_DFS)
    def test_quantiles_match_scipy(self, df: float) -> None:
        """ppf and isf equal scipy's for p from 1e-300 to 1 - 1e-10 wherever scipy's is finite."""
        # Below two degrees of freedom the 1e-300 quantile is past 1e150, where scipy squares
        # it and overflows (giving -8e153 for 1.5 df; the quantile is -5.2e199); below one
        # the same happens from 1e-100.
        probabilities = [p for p in PROBABILITIES if p >= (1e-100 if df >= 2 else 1e-20)]
        assert mismatches(d.student_t_ppf, stats.t.ppf, [(p, df) for p in probabilities]) == []
        assert mismatches(d.student_t_isf, stats.t.isf, [(p, df) for p in probabilities]) == []

    @pytest.mark.parametrize("t", [-1e300, -1e200, -1e100, -1e10, -7.0, -0.3, 0.2, 5.0, 1e12])
    def test_closed_forms_for_one_and_two_degrees_of_freedom(self, t: float) -> None:
        """With 1 and 2 degrees of freedom the cdf equals its closed form, even past 1e150."""
        cauchy = math.atan2(1.0, -t) / math.pi  # 1/2 + atan(t)/pi without cancellation
        assert d.student_t_cdf(t, 1.0) == pytest.approx(cauchy, rel=REL)
        two = (
            0.5 * (1.0 + t / math.sqrt(2.0 + t * t))
            if t > 0
            else 1.0 / ((math.sqrt(2.0 + t * t) - t) * math.sqrt(2.0 + t * t))
        )
        assert d.student_t_cdf(t, 2.0) == pytest.approx(two, rel=REL)

    @pytest.mark.parametrize("df", [0.5, 1.0, 1.5, 2.0, 3.0])
    def test_extreme_quantile_inverts_the_cdf(self, df: float) -> None:
        """The 1e-300 quantile, beyond scipy's reach for small df, maps back to 1e-300 (or is -inf)."""
        t = d.student_t_ppf(1e-300, df)
        if df < 1.0:
            assert t == -math.inf  # the true quantile is past the largest double
        else:
            assert d.student_t_cdf(t, df) == pytest.approx(1e-300, rel=1e-12)

    def test_infinite_df_is_normal(self) -> None:
        """Infinitely many degrees of freedom give the normal distribution."""
        assert d.student_t_cdf(-2.5, math.inf) == d.normal_cdf(-2.5)
        assert d.student_t_ppf(0.01, math.inf) == d.normal_ppf(0.01)

    @pytest.mark.parametrize(
        ("t", "df"), [(1.0, 0.0), (1.0, -1.0), (math.nan, 3.0), (1.0, math.nan)]
    )
    def test_invalid_arguments_give_nan(self, t: float, df: float) -> None:
        """Non-positive or NaN degrees of freedom, or a NaN argument, give NaN."""
        assert math.isnan(d.student_t_cdf(t, df))
        assert math.isnan(d.student_t_pdf(t, df))


class TestChiSquare:
    @pytest.mark.parametrize("df", CHI2_DFS)
    def test_sf_and_cdf_match_scipy(self, df: float) -> None:
        """sf and cdf equal scipy's for 0.5 to 1e5 degrees of freedom, down to 1e-220."""
        cases = [(x, df) for x in CHI2_X]
        assert mismatches(d.chi2_sf, stats.chi2.sf, cases) == []
        assert mismatches(d.chi2_cdf, stats.chi2.cdf, cases) == []

    @pytest.mark.parametrize("x", [1e-8, 0.5, 3.0, 40.0, 700.0, 1400.0])
    def test_closed_forms_for_one_and_two_degrees_of_freedom(self, x: float) -> None:
        """With 2 degrees of freedom the sf is exp(-x/2); with 1, erfc(sqrt(x/2))."""
        assert d.chi2_sf(x, 2.0) == pytest.approx(math.exp(-x / 2.0), rel=REL)
        assert d.chi2_sf(x, 1.0) == pytest.approx(math.erfc(math.sqrt(x / 2.0)), rel=REL)

    def test_non_positive_statistic(self) -> None:
        """A statistic of 0 or below has survival probability 1."""
        assert d.chi2_sf(0.0, 3.0) == 1.0
        assert d.chi2_cdf(-1.0, 3.0) == 0.0


class TestIncompleteFunctions:
    @pytest.mark.parametrize("a", BETA_PARAMETERS)
    def test_regularized_beta_matches_scipy(self, a: float) -> None:
        """I_x(a, b) equals scipy.special.betainc over the parameter grid."""
        cases = [(a, b, x) for b in BETA_PARAMETERS for x in [0.0, *BETA_X, 1.0]]
        assert mismatches(incomplete.regularized_beta, special.betainc, cases, 2e-12) == []

    @pytest.mark.parametrize("a", [0.5, 1.0, 2.5, 10.0, 100.0, 1e4])
    def test_regularized_gamma_matches_scipy(self, a: float) -> None:
        """P(a, x) and Q(a, x) equal scipy.special.gammainc and gammaincc."""
        cases = [(a, x) for x in [0.0, 1e-3, 0.5, 1.0, 3.0, 9.5, 10.5, 50.0, 99.0, 101.0, 1e4]]
        assert mismatches(incomplete.regularized_gamma_p, special.gammainc, cases) == []
        assert mismatches(incomplete.regularized_gamma_q, special.gammaincc, cases) == []

    @pytest.mark.parametrize(
        ("a", "b"), [(0.5, 0.5), (3.0, 7.0), (1e7, 0.5), (2e6, 3e6), (1e-3, 4.0)]
    )
    def test_log_beta_matches_scipy(self, a: float, b: float) -> None:
        """log B(a, b) equals scipy.special.betaln, also where one argument is huge.

        (At (1e5, 0.5) scipy's betaln is off by 1.3e-11 relative against 40-digit arithmetic;
        the closed forms below cover that range.)
        """
        assert incomplete.log_beta(a, b) == pytest.approx(float(special.betaln(a, b)), rel=REL)

    @pytest.mark.parametrize("a", [1e-3, 0.5, 7.0, 1e5, 1e12])
    def test_log_beta_closed_forms(self, a: float) -> None:
        """B(a, 1) = 1/a, and B(a, 2) = 1/(a(a + 1)), for tiny to huge a."""
        assert incomplete.log_beta(a, 1.0) == pytest.approx(-math.log(a), rel=REL)
        assert incomplete.log_beta(a, 2.0) == pytest.approx(-math.log(a) - math.log1p(a), rel=REL)

    @pytest.mark.parametrize(("a", "b", "x"), [(0.0, 1.0, 0.5), (1.0, -1.0, 0.5), (1.0, 1.0, 1.5)])
    def test_invalid_arguments_give_nan(self, a: float, b: float, x: float) -> None:
        """Non-positive parameters or x outside [0, 1] give NaN."""
        assert math.isnan(incomplete.regularized_beta(a, b, x))


class TestBeta:
    @pytest.mark.parametrize("a", BETA_PARAMETERS)
    def test_cdf_sf_pdf_match_scipy(self, a: float) -> None:
        """cdf, sf and pdf equal scipy's for parameters from 0.1 to 1e6.

        The tolerance is 2e-12: near x = 1e-4 with parameters (10, 1e5) scipy's cdf is itself
        off by 9e-13 (checked against 50-digit arithmetic), ours by less than 1e-15.
        """
        cases = [(x, a, b) for b in BETA_PARAMETERS for x in BETA_X]
        assert mismatches(d.beta_cdf, stats.beta.cdf, cases, 2e-12) == []
        assert mismatches(d.beta_sf, stats.beta.sf, cases, 2e-12) == []
        assert mismatches(d.beta_pdf, stats.beta.pdf, cases, 2e-12) == []

    @pytest.mark.parametrize("a", [0.5, 1.0, 2.0, 3.5, 10.0, 51.0, 1000.0])
    def test_ppf_matches_scipy(self, a: float) -> None:
        """The quantile equals scipy's wherever scipy's root finder converges."""
        cases = [
            (p, a, b)
            for p in [1e-10, 1e-3, 0.025, 0.5, 0.975, 0.999]
            for b in [0.5, 1.0, 2.0, 3.5, 10.0, 51.0, 1000.0]
            if (p, a, b) != (1e-10, 0.5, 2.0)  # scipy gives up there (2.5e-25); ours is 4.4e-21
        ]
        assert mismatches(d.beta_ppf, stats.beta.ppf, cases) == []

    def test_ppf_where_scipy_fails(self) -> None:
        """Beta(0.5, 2): I_x ~ 1.5 sqrt(x) near 0, so the 1e-10 quantile is (1e-10/1.5)^2."""
        assert d.beta_ppf(1e-10, 0.5, 2.0) == pytest.approx((1e-10 / 1.5) ** 2, rel=1e-9)

    @pytest.mark.parametrize(("a", "b"), [(1.0, 1.0), (3.0, 1.0), (1.0, 0.25), (1.0, 40.0)])
    @pytest.mark.parametrize("x", [1e-300, 1e-20, 0.2, 0.5, 0.95, 1 - 1e-12])
    def test_closed_forms(self, a: float, b: float, x: float) -> None:
        """Beta(a, 1) has cdf x^a and Beta(1, b) has sf (1 - x)^b, to 1e-12 relative."""
        if b == 1.0:
            assert d.beta_cdf(x, a, b) == pytest.approx(x**a, rel=REL)
        else:
            assert d.beta_sf(x, a, b) == pytest.approx(math.exp(b * math.log1p(-x)), rel=REL)

    def test_ppf_ends(self) -> None:
        """The quantiles of 0 and 1 are the ends of the support."""
        assert (d.beta_ppf(0.0, 2.0, 3.0), d.beta_ppf(1.0, 2.0, 3.0)) == (0.0, 1.0)


positive = st.floats(min_value=0.05, max_value=1e5, allow_nan=False, allow_infinity=False)
unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


class TestProperties:
    @DETERMINISTIC
    @given(x=unit, a=positive, b=positive)
    def test_beta_cdf_and_sf_sum_to_one(self, x: float, a: float, b: float) -> None:
        """The beta cdf and sf add up to 1 and lie in [0, 1]."""
        cdf, sf = d.beta_cdf(x, a, b), d.beta_sf(x, a, b)
        assert 0.0 <= cdf <= 1.0
        assert 0.0 <= sf <= 1.0
        assert cdf + sf == pytest.approx(1.0, abs=1e-14)

    @DETERMINISTIC
    @given(p=st.floats(min_value=1e-12, max_value=1 - 1e-12), a=positive, b=positive)
    def test_beta_ppf_inverts_cdf(self, p: float, a: float, b: float) -> None:
        """The p-quantile is within two ulps of the exact one: p lies between the tails there."""
        x = d.beta_ppf(p, a, b)
        below = math.nextafter(math.nextafter(x, 0.0), 0.0)
        above = math.nextafter(math.nextafter(x, 1.0), 1.0)
        if p <= 0.5:
            assert d.beta_cdf(below, a, b) * (1 - 1e-9) <= p <= d.beta_cdf(above, a, b) * (1 + 1e-9)
        else:
            q = 1.0 - p
            assert d.beta_sf(above, a, b) * (1 - 1e-9) <= q <= d.beta_sf(below, a, b) * (1 + 1e-9)

    @DETERMINISTIC
    @given(t=st.floats(min_value=-1e6, max_value=1e6), df=positive)
    def test_t_cdf_is_symmetric(self, t: float, df: float) -> None:
        """P(T <= -t) = P(T > t) exactly, and the cdf lies in [0, 1]."""
        assert d.student_t_cdf(-t, df) == d.student_t_sf(t, df)
        assert 0.0 <= d.student_t_cdf(t, df) <= 1.0

    @DETERMINISTIC
    @given(p=st.floats(min_value=1e-15, max_value=0.5), df=positive)
    def test_t_ppf_inverts_cdf(self, p: float, df: float) -> None:
        """The t cdf at the p-quantile is p."""
        assert d.student_t_cdf(d.student_t_ppf(p, df), df) == pytest.approx(p, rel=1e-10)
