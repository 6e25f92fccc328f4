r"""Distribution functions the statistics need, in pure Python: normal, Student t, chi-square, beta.

scipy is a test-only dependency, so the runtime computes these itself. Every function takes
and returns plain floats; each is accurate to about :math:`10^{-13}` relative wherever the
result is a normal double, tails included, and agrees with ``scipy.stats`` to that level.

* **Normal**: :math:`\Phi(x) = \tfrac12 \operatorname{erfc}(-x/\sqrt2)` (``math.erfc`` keeps
  relative accuracy in the far tail), and the quantile by Wichura's AS 241 algorithm
  (``statistics.NormalDist.inv_cdf``, accurate to about :math:`10^{-16}`).
* The regularized incomplete beta and gamma functions underneath come from
  :mod:`actors.statistics.special`.
* **Student t**: :math:`P(T \le -|t|) = \tfrac12 I_{\nu/(\nu+t^2)}(\nu/2, 1/2)`; the
  quantile by safeguarded Newton iteration on the log of the tail probability.
* **Chi-square**: :math:`P(X > x) = Q(k/2, x/2)`.
* **Beta**: :math:`F(x) = I_x(a, b)`; the quantile by safeguarded Newton iteration, started
  from the approximation of Numerical Recipes §6.14.

Inputs outside a distribution's domain (negative degrees of freedom, probabilities outside
[0, 1], NaN) give NaN, as scipy does; quantiles at 0 and 1 give the ends of the support.

References
----------
W. H. Press et al. (2007), *Numerical Recipes*, 3rd ed., §6.14.
M. J. Wichura (1988), "Algorithm AS 241: the percentage points of the normal distribution",
*Applied Statistics* 37(3).

Examples
--------
>>> round(normal_ppf(0.975), 6)
1.959964
>>> round(student_t_sf(2.0, 10.0), 10)
0.0366940174
>>> round(chi2_sf(3.841458820694124, 1.0), 12)
0.05
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

from actors.statistics.special import (
    beta_tails,
    gamma_tails,
    log_beta,
    log_beta_kernel,
    regularized_beta,
    regularized_gamma_p,
    regularized_gamma_q,
)

__all__ = [
    "beta_cdf",
    "beta_pdf",
    "beta_ppf",
    "beta_sf",
    "chi2_cdf",
    "chi2_sf",
    "log_beta",
    "normal_cdf",
    "normal_isf",
    "normal_pdf",
    "normal_ppf",
    "normal_sf",
    "regularized_beta",
    "regularized_gamma_p",
    "regularized_gamma_q",
    "student_t_cdf",
    "student_t_isf",
    "student_t_pdf",
    "student_t_ppf",
    "student_t_sf",
]

_EPS = 2.220446049250313e-16
_MAX_FLOAT = 1.7976931348623157e308
_TINY = 1e-300
_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_STANDARD_NORMAL = NormalDist()
_NAN = math.nan


# ---------------------------------------------------------------------------------------------
# Inversion: safeguarded Newton iteration on the log of a tail probability.


def _midpoint(lo: float, hi: float) -> float:
    """The bisection point of a bracket: geometric when it spans orders of magnitude."""
    if lo >= 0.0 and hi > 8.0 * max(lo, 5e-324):
        return math.sqrt(max(lo, 5e-324)) * math.sqrt(hi)
    if hi <= 0.0 and lo < 8.0 * min(hi, -5e-324):
        return -math.sqrt(-min(hi, -5e-324)) * math.sqrt(-lo)
    return lo + 0.5 * (hi - lo)


def _invert_tail(
    log_tail: Callable[[float], float],
    density: Callable[[float], float],
    log_target: float,
    increasing: bool,
    x: float,
    lo: float,
    hi: float,
) -> float:
    r"""Solve :math:`\log T(x) = \log p` for a monotone tail probability :math:`T` in ``[lo, hi]``.

    Newton steps on :math:`g(x) = \log T(x) - \log p` (nearly linear in the tails, where a step
    on :math:`T` itself would overshoot), with :math:`g'(x) = \pm f(x)/T(x)`; a step that
    leaves the current bracket is replaced by bisection. ``increasing`` says whether ``T`` is
    the lower tail (the cdf) or the upper one (the survival function).
    """
    for _ in range(400):
        log_t = log_tail(x)
        g = log_t - log_target
        if g == 0.0:
            return x
        if (g < 0.0) == increasing:
            lo = x
        else:
            hi = x
        slope = density(x) / math.exp(log_t) if log_t > -math.inf else 0.0
        candidate = x - (g / slope if increasing else -g / slope) if slope > 0.0 else _NAN
        if not (lo < candidate < hi):  # also catches NaN
            candidate = _midpoint(lo, hi)
        if abs(candidate - x) <= 2.0 * _EPS * abs(candidate) or hi - lo <= _EPS * max(
            abs(lo), abs(hi), _TINY
        ):
            return candidate
        x = candidate
    return x


def _safe_log(p: float) -> float:
    return math.log(p) if p > 0.0 else -math.inf


# ---------------------------------------------------------------------------------------------
# Normal distribution.


def normal_pdf(x: float) -> float:
    r"""Standard normal density :math:`\varphi(x) = e^{-x^2/2}/\sqrt{2\pi}`."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


def normal_cdf(x: float) -> float:
    r"""Standard normal cdf :math:`\Phi(x) = \tfrac12\operatorname{erfc}(-x/\sqrt2)`."""
    z = x * _SQRT1_2
    if abs(z) < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(z)
    return 0.5 * math.erfc(-z)


def normal_sf(x: float) -> float:
    r"""Standard normal survival function :math:`1 - \Phi(x) = \Phi(-x)`."""
    return normal_cdf(-x)


def normal_ppf(p: float) -> float:
    r"""Standard normal quantile :math:`\Phi^{-1}(p)` (AS 241); :math:`\mp\infty` at 0 and 1."""
    if not 0.0 <= p <= 1.0:
        return _NAN
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    return _STANDARD_NORMAL.inv_cdf(p)


def normal_isf(q: float) -> float:
    r"""Inverse survival function :math:`\Phi^{-1}(1 - q) = -\Phi^{-1}(q)`, exact in ``q``."""
    return -normal_ppf(q)


# ---------------------------------------------------------------------------------------------
# Student t distribution.


def student_t_pdf(t: float, df: float) -> float:
    r"""Student t density :math:`\frac{(1 + t^2/\nu)^{-(\nu+1)/2}}{\sqrt\nu\,B(\nu/2, 1/2)}`."""
    if not df > 0.0 or math.isnan(t):
        return _NAN
    if math.isinf(df):
        return normal_pdf(t)
    return math.exp(
        -log_beta(0.5 * df, 0.5) - 0.5 * math.log(df) - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )


def _student_t_lower_tail(t: float, df: float) -> float:
    r""":math:`P(T \le -|t|) = \tfrac12 I_{\nu/(\nu+t^2)}(\nu/2, 1/2)`."""
    if math.isinf(t):
        return 0.0
    a = 0.5 * df
    if abs(t) > 1e150:
        # t^2 would overflow; here x = nu/(nu+t^2) = nu/t^2 and I_x(a, 1/2) = x^a/(a B(a, 1/2))
        # to double precision (the next terms are smaller by a factor nu/t^2).
        log_x = math.log(df) - 2.0 * math.log(abs(t))
        return 0.5 * math.exp(a * log_x - math.log(a) - log_beta(a, 0.5))
    t2 = t * t
    return 0.5 * beta_tails(a, 0.5, df / (df + t2), t2 / (df + t2))[0]


def student_t_cdf(t: float, df: float) -> float:
    r"""Student t cdf with :math:`\nu` = ``df`` > 0 degrees of freedom (non-integer allowed)."""
    if not df > 0.0 or math.isnan(t):
        return _NAN
    if math.isinf(df):
        return normal_cdf(t)
    tail = _student_t_lower_tail(t, df)
    return tail if t <= 0.0 else 1.0 - tail


def student_t_sf(t: float, df: float) -> float:
    r"""Student t survival function :math:`P(T > t)`."""
    return student_t_cdf(-t, df)


def _student_t_lower_quantile(p: float, df: float) -> float:
    """The quantile for ``0 < p <= 1/2`` (so the result is <= 0)."""
    if p == 0.5:
        return 0.0
    if df == 1.0:  # Cauchy
        return -1.0 / math.tan(math.pi * p)
    if df == 2.0:
        return -math.sqrt(2.0) * (1.0 - 2.0 * p) / math.sqrt(4.0 * p * (1.0 - p))
    z = normal_ppf(p)
    # Cornish-Fisher expansion about the normal quantile; and the power-law tail
    # P(T < t) ~ nu^(nu/2 - 1) |t|^(-nu) / B(nu/2, 1/2). Start from the more extreme.
    guess = z + (z**3 + z) / (4.0 * df) + (5.0 * z**5 + 16.0 * z**3 + 3.0 * z) / (96.0 * df * df)
    log_tail_guess = ((0.5 * df - 1.0) * math.log(df) - log_beta(0.5 * df, 0.5) - math.log(p)) / df
    if log_tail_guess < 700.0:
        guess = min(guess, -math.exp(log_tail_guess))
    lo, hi = 2.0 * guess, 0.0
    while _student_t_lower_tail(lo, df) > p:
        hi = lo
        lo *= 16.0
        if math.isinf(lo):
            lo = -_MAX_FLOAT
            if _student_t_lower_tail(lo, df) > p:
                return -math.inf  # the quantile is beyond the largest double
            guess = lo
            break
    return _invert_tail(
        lambda t: _safe_log(_student_t_lower_tail(t, df)),
        lambda t: student_t_pdf(t, df),
        math.log(p),
        True,
        guess,
        lo,
        hi,
    )


def student_t_ppf(p: float, df: float) -> float:
    r"""Student t quantile: the :math:`t` with :math:`P(T \le t) = p`."""
    if not (df > 0.0 and 0.0 <= p <= 1.0):
        return _NAN
    if p == 0.0:
        return -math.inf
    if p == 1.0:
        return math.inf
    if math.isinf(df):
        return normal_ppf(p)
    if p <= 0.5:
        return _student_t_lower_quantile(p, df)
    return -_student_t_lower_quantile(1.0 - p, df)


def student_t_isf(q: float, df: float) -> float:
    r"""Student t inverse survival function: the :math:`t` with :math:`P(T > t) = q`."""
    return -student_t_ppf(q, df)


# ---------------------------------------------------------------------------------------------
# Chi-square distribution.


def chi2_sf(x: float, df: float) -> float:
    r"""Chi-square survival function :math:`P(X > x) = Q(k/2, x/2)` with :math:`k` = ``df``."""
    if not df > 0.0 or math.isnan(x):
        return _NAN
    if x <= 0.0:
        return 1.0
    return gamma_tails(0.5 * df, 0.5 * x)[1]


def chi2_cdf(x: float, df: float) -> float:
    r"""Chi-square cdf :math:`P(X \le x) = P(k/2, x/2)`."""
    if not df > 0.0 or math.isnan(x):
        return _NAN
    if x <= 0.0:
        return 0.0
    return gamma_tails(0.5 * df, 0.5 * x)[0]


# ---------------------------------------------------------------------------------------------
# Beta distribution.


def beta_pdf(x: float, a: float, b: float) -> float:
    r"""Beta density :math:`x^{a-1}(1-x)^{b-1}/B(a, b)` on :math:`(0, 1)`."""
    if not (a > 0.0 and b > 0.0) or math.isnan(x):
        return _NAN
    if x < 0.0 or x > 1.0:
        return 0.0
    y = 1.0 - x
    if x == 0.0 or y == 0.0:
        edge = a if x == 0.0 else b
        if edge < 1.0:
            return math.inf
        return math.exp(-log_beta(a, b)) if edge == 1.0 else 0.0
    return math.exp(log_beta_kernel(a, b, x, y)) / (x * y)


def beta_cdf(x: float, a: float, b: float) -> float:
    r"""Beta cdf :math:`I_x(a, b)`."""
    if not (a > 0.0 and b > 0.0) or math.isnan(x):
        return _NAN
    clipped = min(max(x, 0.0), 1.0)
    return beta_tails(a, b, clipped, 1.0 - clipped)[0]


def beta_sf(x: float, a: float, b: float) -> float:
    r"""Beta survival function :math:`1 - I_x(a, b) = I_{1-x}(b, a)`."""
    if not (a > 0.0 and b > 0.0) or math.isnan(x):
        return _NAN
    clipped = min(max(x, 0.0), 1.0)
    return beta_tails(a, b, clipped, 1.0 - clipped)[1]


def _beta_quantile_guess(p: float, a: float, b: float) -> float:
    """The starting point of Numerical Recipes' ``invbetai`` (§6.14)."""
    if a >= 1.0 and b >= 1.0:
        pp = p if p < 0.5 else 1.0 - p
        t = math.sqrt(-2.0 * math.log(pp))
        z = (2.30753 + t * 0.27061) / (1.0 + t * (0.99229 + t * 0.04481)) - t
        if p < 0.5:
            z = -z
        al = (z * z - 3.0) / 6.0
        h = 2.0 / (1.0 / (2.0 * a - 1.0) + 1.0 / (2.0 * b - 1.0)) if a + b > 2.0 else 1.0
        w = z * math.sqrt(al + h) / h - (1.0 / (2.0 * b - 1.0) - 1.0 / (2.0 * a - 1.0)) * (
            al + 5.0 / 6.0 - 2.0 / (3.0 * h)
        )
        return a / (a + b * math.exp(min(2.0 * w, 700.0)))
    lna = math.log(a / (a + b))
    lnb = math.log(b / (a + b))
    t = math.exp(a * lna) / a
    u = math.exp(b * lnb) / b
    w = t + u
    if p < t / w:
        return float((a * w * p) ** (1.0 / a))
    return 1.0 - float((b * w * (1.0 - p)) ** (1.0 / b))


def beta_ppf(p: float, a: float, b: float) -> float:
    r"""Beta quantile: the :math:`x` with :math:`I_x(a, b) = p`.

    Below the median it solves :math:`\log I_x(a,b) = \log p`, above it
    :math:`\log I_{1-x}(b,a) = \log(1-p)`, so both tails keep their relative accuracy.
    """
    if not (a > 0.0 and b > 0.0 and 0.0 <= p <= 1.0):
        return _NAN
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    guess = _beta_quantile_guess(p, a, b)
    if not 0.0 < guess < 1.0:
        guess = 0.5

    def density(x: float) -> float:
        return beta_pdf(x, a, b)

    if p <= 0.5:
        return _invert_tail(
            lambda x: _safe_log(beta_tails(a, b, x, 1.0 - x)[0]),
            density,
            math.log(p),
            True,
            guess,
            0.0,
            1.0,
        )
    return _invert_tail(
        lambda x: _safe_log(beta_tails(a, b, x, 1.0 - x)[1]),
        density,
        math.log1p(-p),
        False,
        guess,
        0.0,
        1.0,
    )
