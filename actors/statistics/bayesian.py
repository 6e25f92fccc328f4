r"""Bayesian comparison of two arms: probability to beat control, expected loss, credible intervals.

**Beta-Binomial.** With a :math:`\mathrm{Beta}(\alpha_0, \beta_0)` prior and :math:`x` successes
in :math:`n` trials the posterior is :math:`\mathrm{Beta}(\alpha_0 + x, \beta_0 + n - x)`. For
:math:`p_A \sim \mathrm{Beta}(\alpha_A, \beta_A)`, :math:`p_B \sim \mathrm{Beta}(\alpha_B,
\beta_B)` and integer :math:`\alpha_B` (Evan Miller's closed form):

.. math:: P(p_B > p_A) = \sum_{i=0}^{\alpha_B - 1}
          \frac{B(\alpha_A + i,\ \beta_A + \beta_B)}
               {(\beta_B + i)\,B(1 + i,\ \beta_B)\,B(\alpha_A, \beta_A)}.

By the symmetries :math:`P(p_B > p_A) = 1 - P(p_A > p_B)` and :math:`p \mapsto 1 - p` the same
sum can run over :math:`\alpha_A`, :math:`\beta_A` or :math:`\beta_B` instead; the shortest
one whose bound is an integer is used (so a test with 30 conversions in a million trials
sums 30 terms). The terms follow the recurrence :math:`t_{i+1}/t_i = (\alpha_A + i)(\beta_B +
i) / ((\alpha_A + \beta_A + \beta_B + i)(1 + i))`, re-anchored on the exact term every 32
steps, and are added in log space. When no bound is an integer (a non-integer prior, or
fractional rewards) or every sum is longer than :data:`MAX_TERMS`, the probability is the
integral :math:`\int_0^1 f_A(x)\,(1 - F_B(x))\,dx`, taken over :math:`s = \log(x/(1-x))` by
20-point Gauss-Legendre quadrature on pieces cut at the quantiles :math:`\Phi(z)`,
:math:`z = 0, \pm1.5, \pm3, \pm6, \pm9`, of both posteriors (the mass beyond them, below
:math:`10^{-18}`, is left out). This needs every parameter to be at least 0.1 (with
:math:`\alpha = 0.01`, a tenth of the mass lies below the smallest double); below that the
integral raises ``ValueError``. Posteriors from data and a uniform or Jeffreys prior
qualify.

The **expected loss** of choosing B is :math:`E[\max(p_A - p_B, 0)]`, what is given up if B
is in fact worse (Stucchio 2015). Since :math:`E[p\,1\{\cdot\}]` is the mean times the
probability under :math:`\mathrm{Beta}(\alpha + 1, \beta)`,

.. math:: E[\max(p_A - p_B, 0)] = \tfrac{\alpha_A}{\alpha_A + \beta_A}
          P(\mathrm{Beta}(\alpha_A{+}1, \beta_A) > p_B)
          - \tfrac{\alpha_B}{\alpha_B + \beta_B} P(p_A > \mathrm{Beta}(\alpha_B{+}1, \beta_B)),

and without integer bounds :math:`\int_0^1 F_B(t)\,(1 - F_A(t))\,dt` (from
:math:`\max(X - Y, 0) = \int 1\{Y < t < X\}\,dt`).

**Normal.** A metric's mean gets the conjugate normal posterior with the sample variance
plugged in: precision :math:`1/\sigma_0^2 + n/s^2`, mean
:math:`(\mu_0/\sigma_0^2 + n\bar y/s^2)` divided by the precision; with the default flat
prior (:math:`\sigma_0^2 = \infty`) that is :math:`N(\bar y, s^2/n)`. With
:math:`D = \mu_A - \mu_B \sim N(d, \sigma^2)`, :math:`\sigma^2 = \sigma_A^2 + \sigma_B^2`:
:math:`P(B > A) = \Phi(-d/\sigma)` and :math:`E[\max(D, 0)] = d\,\Phi(d/\sigma) +
\sigma\,\varphi(d/\sigma)`.

**Credible intervals** are equal-tailed: the :math:`(1 \mp \text{level})/2` quantiles.

References
----------
E. Miller (2015), "Formulas for Bayesian A/B testing",
https://www.evanmiller.org/bayesian-ab-testing.html.
C. Stucchio (2015), "Bayesian A/B testing at VWO", VWO technical whitepaper.

Examples
--------
>>> a = BetaPosterior.from_counts(100, 1000)
>>> b = BetaPosterior.from_counts(130, 1000)
>>> round(prob_beta_beats(a, b), 6)
0.982165
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable

import msgspec
import numpy as np

from actors.statistics.distributions import (
    beta_cdf,
    beta_pdf,
    beta_ppf,
    beta_sf,
    log_beta,
    normal_cdf,
    normal_pdf,
    normal_ppf,
)
from actors.statistics.summary import SampleSummary

__all__ = [
    "MAX_TERMS",
    "BayesianComparison",
    "BetaPosterior",
    "NormalPosterior",
    "beta_expected_loss",
    "compare_beta",
    "compare_normal",
    "normal_expected_loss",
    "prob_beta_beats",
    "prob_normal_beats",
]

MAX_TERMS = 200_000
"""The longest closed-form sum used; beyond it the probability is integrated numerically."""

_NODES, _WEIGHTS = (tuple(float(v) for v in arr) for arr in np.polynomial.legendre.leggauss(20))
_QUANTILE_Z = (-9.0, -6.0, -3.0, -1.5, 0.0, 1.5, 3.0, 6.0, 9.0)
_SMALLEST_INTEGRATED = 0.1
_ANCHOR_EVERY = 32


class BetaPosterior(msgspec.Struct, frozen=True):
    r"""A :math:`\mathrm{Beta}(\alpha, \beta)` posterior for a conversion rate."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.alpha > 0.0 and self.beta > 0.0) or math.isinf(self.alpha + self.beta):
            raise ValueError(f"Beta parameters must be positive and finite: {self}")

    @classmethod
    def from_counts(
        cls,
        successes: float,
        trials: float,
        *,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
    ) -> BetaPosterior:
        """The posterior after ``successes`` in ``trials`` from a Beta(prior) (uniform by default).

        Fractional successes (rewards in [0, 1]) are allowed; they make the parameters
        non-integer, which the comparisons handle by numerical integration.
        """
        if not 0.0 <= successes <= trials:
            raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
        return cls(prior_alpha + successes, prior_beta + trials - successes)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    def credible_interval(self, level: float = 0.95) -> tuple[float, float]:
        """The equal-tailed interval holding ``level`` of the posterior mass."""
        low, high = _tail_probabilities(level)
        return beta_ppf(low, self.alpha, self.beta), beta_ppf(high, self.alpha, self.beta)


class NormalPosterior(msgspec.Struct, frozen=True):
    r"""A normal posterior :math:`N(\mu, \sigma^2)` for a metric's mean."""

    mean: float
    variance: float

    @classmethod
    def from_summary(
        cls,
        summary: SampleSummary,
        *,
        prior_mean: float = 0.0,
        prior_variance: float = math.inf,
    ) -> NormalPosterior:
        """The conjugate update of ``N(prior_mean, prior_variance)`` by a sample's summary.

        The sample variance stands in for the unknown variance. With fewer than two
        observations it is unknown and the posterior variance is NaN; with zero sample
        variance the posterior is the point mass at the sample mean.
        """
        if summary.n < 2 or math.isnan(summary.variance):
            return cls(summary.mean, math.nan)
        if summary.variance == 0.0:
            return cls(summary.mean, 0.0)
        data_precision = summary.n / summary.variance
        if math.isinf(prior_variance):
            return cls(summary.mean, 1.0 / data_precision)
        precision = 1.0 / prior_variance + data_precision
        mean = (prior_mean / prior_variance + data_precision * summary.mean) / precision
        return cls(mean, 1.0 / precision)

    def credible_interval(self, level: float = 0.95) -> tuple[float, float]:
        """The equal-tailed interval holding ``level`` of the posterior mass."""
        low, high = _tail_probabilities(level)
        sd = math.sqrt(self.variance)
        return self.mean + sd * normal_ppf(low), self.mean + sd * normal_ppf(high)


class BayesianComparison(msgspec.Struct, frozen=True, kw_only=True):
    """Everything :func:`compare_beta` and :func:`compare_normal` report about B against A."""

    prob_b_beats_a: float
    expected_loss_a: float
    r""":math:`E[\max(B - A, 0)]`: what choosing A gives up if B is better."""
    expected_loss_b: float
    r""":math:`E[\max(A - B, 0)]`: what choosing B gives up if A is better."""
    credible_interval_a: tuple[float, float]
    credible_interval_b: tuple[float, float]
    level: float


def _tail_probabilities(level: float) -> tuple[float, float]:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return (1.0 - level) / 2.0, (1.0 + level) / 2.0


# ---------------------------------------------------------------------------------------------
# Beta posteriors.


def _miller_sum(a1: float, b1: float, a2: float, b2: float) -> float:
    r""":math:`P(X_2 > X_1)` for :math:`X_k \sim \mathrm{Beta}(a_k, b_k)`, integer :math:`a_2`."""
    base = -log_beta(a1, b1)
    logs: list[float] = []
    log_term = 0.0
    for i in range(int(a2)):
        if i % _ANCHOR_EVERY == 0:
            log_term = log_beta(a1 + i, b1 + b2) - math.log(b2 + i) - log_beta(1.0 + i, b2) + base
        else:
            j = i - 1
            log_term += math.log((a1 + j) * (b2 + j) / ((a1 + b1 + b2 + j) * (1.0 + j)))
        logs.append(log_term)
    top = max(logs)
    return math.exp(top) * math.fsum(math.exp(v - top) for v in logs)


def _is_count(value: float) -> bool:
    return value >= 1.0 and float(value).is_integer()


def _logistic_slope(s: float) -> float:
    """:math:`dx/ds = x(1 - x)` at :math:`x = 1/(1 + e^{-s})`."""
    small = _smaller_of_logistic_pair(s)
    return small * (1.0 - small)


class _OnLogitScale:
    r"""A Beta distribution seen through :math:`s = \log(x/(1-x))`.

    Above :math:`s = 0` every value is computed from the mirrored distribution
    :math:`\mathrm{Beta}(\beta, \alpha)` at :math:`1 - x = 1/(1 + e^s)`, so that points
    within :math:`10^{-16}` of 1 keep their distance from 1; and the substitution turns the
    power-law ends :math:`x^{\alpha - 1}` of a density with a parameter below 1 into
    exponentials, which Gauss-Legendre integrates to full accuracy.
    """

    def __init__(self, posterior: BetaPosterior) -> None:
        self.a, self.b = posterior.alpha, posterior.beta
        if min(self.a, self.b) < _SMALLEST_INTEGRATED:
            raise ValueError(
                f"{posterior} has a parameter below {_SMALLEST_INTEGRATED}, which puts "
                "noticeable mass beyond the smallest double; the integral would miss it"
            )

    def breakpoints(self) -> list[float]:
        r"""The logits of the quantiles at :math:`\Phi(z)`, :math:`z \in` ``_QUANTILE_Z``."""
        points = []
        for z in _QUANTILE_Z:
            if z <= 0:
                x = beta_ppf(normal_cdf(z), self.a, self.b)
                points.append(math.log(x) - math.log1p(-x))
            else:
                y = beta_ppf(normal_cdf(-z), self.b, self.a)
                points.append(math.log1p(-y) - math.log(y))
        return points

    def density(self, s: float) -> float:
        r"""The density in :math:`s`: :math:`f(x)\,x(1-x)`."""
        small = _smaller_of_logistic_pair(s)
        if s <= 0.0:
            return beta_pdf(small, self.a, self.b) * small * (1.0 - small)
        return beta_pdf(small, self.b, self.a) * small * (1.0 - small)

    def cdf(self, s: float) -> float:
        small = _smaller_of_logistic_pair(s)
        return beta_cdf(small, self.a, self.b) if s <= 0.0 else beta_sf(small, self.b, self.a)

    def sf(self, s: float) -> float:
        small = _smaller_of_logistic_pair(s)
        return beta_sf(small, self.a, self.b) if s <= 0.0 else beta_cdf(small, self.b, self.a)


def _smaller_of_logistic_pair(s: float) -> float:
    r""":math:`\min(x, 1 - x)` for :math:`x = 1/(1 + e^{-s})`, without overflow or cancellation."""
    e = math.exp(-abs(s))
    return e / (1.0 + e)


def _integrate(f: Callable[[float], float], points: Iterable[float]) -> float:
    """Gauss-Legendre quadrature of ``f`` piecewise between consecutive ``points``."""
    edges = sorted(set(points))
    parts = []
    for lo, hi in itertools.pairwise(edges):
        half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
        nodes = zip(_NODES, _WEIGHTS, strict=True)
        parts.append(half * math.fsum(w * f(mid + half * x) for x, w in nodes))
    return math.fsum(parts)


def _closed_form(a: BetaPosterior, b: BetaPosterior) -> Callable[[], float] | None:
    """The shortest Miller sum for :math:`P(p_B > p_A)`, or None if none has an integer bound."""
    aa, ba, ab, bb = a.alpha, a.beta, b.alpha, b.beta
    forms: list[tuple[float, Callable[[], float]]] = [
        (ab, lambda: _miller_sum(aa, ba, ab, bb)),
        (aa, lambda: 1.0 - _miller_sum(ab, bb, aa, ba)),
        (ba, lambda: _miller_sum(bb, ab, ba, aa)),
        (bb, lambda: 1.0 - _miller_sum(ba, aa, bb, ab)),
    ]
    usable = [(terms, form) for terms, form in forms if _is_count(terms) and terms <= MAX_TERMS]
    return min(usable, key=lambda item: item[0])[1] if usable else None


def prob_beta_beats(a: BetaPosterior, b: BetaPosterior) -> float:
    r""":math:`P(p_B > p_A)` for independent Beta posteriors (closed form when it applies)."""
    form = _closed_form(a, b)
    if form is not None:
        probability = form()
    else:
        la, lb = _OnLogitScale(a), _OnLogitScale(b)
        probability = _integrate(
            lambda s: la.density(s) * lb.sf(s), la.breakpoints() + lb.breakpoints()
        )
    return min(1.0, max(0.0, probability))


def beta_expected_loss(a: BetaPosterior, b: BetaPosterior) -> float:
    r"""The expected loss of choosing B, :math:`E[\max(p_A - p_B, 0)]`."""
    a_up = BetaPosterior(a.alpha + 1.0, a.beta)
    b_up = BetaPosterior(b.alpha + 1.0, b.beta)
    first, second = _closed_form(b, a_up), _closed_form(b_up, a)
    if first is not None and second is not None:
        loss = a.mean * first() - b.mean * second()
    else:
        la, lb = _OnLogitScale(a), _OnLogitScale(b)
        loss = _integrate(
            lambda s: lb.cdf(s) * la.sf(s) * _logistic_slope(s),
            la.breakpoints() + lb.breakpoints(),
        )
    return max(0.0, loss)


def compare_beta(a: BetaPosterior, b: BetaPosterior, *, level: float = 0.95) -> BayesianComparison:
    """Probability that B beats A, both expected losses and both credible intervals."""
    return BayesianComparison(
        prob_b_beats_a=prob_beta_beats(a, b),
        expected_loss_a=beta_expected_loss(b, a),
        expected_loss_b=beta_expected_loss(a, b),
        credible_interval_a=a.credible_interval(level),
        credible_interval_b=b.credible_interval(level),
        level=level,
    )


# ---------------------------------------------------------------------------------------------
# Normal posteriors.


def prob_normal_beats(a: NormalPosterior, b: NormalPosterior) -> float:
    r""":math:`P(\mu_B > \mu_A) = \Phi((m_B - m_A)/\sqrt{v_A + v_B})`; 1/2 for equal points."""
    difference = b.mean - a.mean
    sd = math.sqrt(a.variance + b.variance)
    if sd == 0.0:
        return 0.5 if difference == 0.0 else float(difference > 0.0)
    return normal_cdf(difference / sd)


def normal_expected_loss(a: NormalPosterior, b: NormalPosterior) -> float:
    r"""The expected loss of choosing B, :math:`E[\max(\mu_A - \mu_B, 0)]`."""
    d = a.mean - b.mean
    sd = math.sqrt(a.variance + b.variance)
    if sd == 0.0:
        return max(d, 0.0)
    z = d / sd
    return d * normal_cdf(z) + sd * normal_pdf(z)


def compare_normal(
    a: NormalPosterior, b: NormalPosterior, *, level: float = 0.95
) -> BayesianComparison:
    """Probability that B beats A, both expected losses and both credible intervals."""
    return BayesianComparison(
        prob_b_beats_a=prob_normal_beats(a, b),
        expected_loss_a=normal_expected_loss(b, a),
        expected_loss_b=normal_expected_loss(a, b),
        credible_interval_a=a.credible_interval(level),
        credible_interval_b=b.credible_interval(level),
        level=level,
    )
