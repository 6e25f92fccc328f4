"""CUPED's slope and adjusted effects are the coefficients of an OLS fit of Y on arm and covariate."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import statsmodels.api as sm

from actors.statistics import CovariateSummary, SampleSummary, cuped, welch_ttest

TOL = 1e-9

Arm = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]  # (y, x)


def _arm(
    seed: int, n: int, effect: float, slope: float, noise: float, x_mean: float = 100.0
) -> Arm:
    rng = np.random.default_rng(seed)
    x = rng.normal(x_mean, 20.0, n)
    return effect + slope * x + rng.normal(0.0, noise, n), x


DATASETS: dict[str, list[Arm]] = {
    "two arms, strong covariate": [_arm(1, 200, 0.0, 0.5, 5.0), _arm(2, 220, 3.0, 0.5, 5.0)],
    "two arms, weak covariate": [_arm(3, 150, 0.0, 0.05, 10.0), _arm(4, 150, 1.0, 0.05, 10.0)],
    "three arms": [
        _arm(5, 100, 0.0, 1.0, 3.0),
        _arm(6, 120, 2.0, 1.0, 3.0),
        _arm(7, 90, -1.0, 1.0, 3.0),
    ],
    "very unequal sizes": [_arm(8, 12, 0.0, 0.3, 2.0), _arm(9, 3000, 0.5, 0.3, 2.0)],
    "covariate imbalance": [
        _arm(10, 80, 0.0, 0.8, 4.0, x_mean=90.0),
        _arm(11, 80, 2.0, 0.8, 4.0, x_mean=110.0),
    ],
    "identical variants": [_arm(12, 60, 0.0, 0.7, 1.0), _arm(12, 60, 0.0, 0.7, 1.0)],
    "single unit in an arm": [_arm(13, 1, 0.0, 0.5, 1.0), _arm(14, 50, 1.0, 0.5, 1.0)],
}


def ols(
    arms: list[Arm], with_covariate: bool
) -> sm.regression.linear_model.RegressionResultsWrapper:
    """Y ~ intercept + one dummy per non-control arm (+ X), fitted by statsmodels."""
    y = np.concatenate([a[0] for a in arms])
    columns = [np.ones_like(y)]
    for k in range(1, len(arms)):
        columns.append(
            np.concatenate([np.full(len(a[0]), float(j == k)) for j, a in enumerate(arms)])
        )
    if with_covariate:
        columns.append(np.concatenate([a[1] for a in arms]))
    return sm.OLS(y, np.column_stack(columns)).fit()


def summarise(arms: list[Arm]) -> list[CovariateSummary]:
    return [CovariateSummary.from_values(y, x) for y, x in arms]


class TestAgainstOls:
    @pytest.mark.parametrize("arms", DATASETS.values(), ids=DATASETS.keys())
    def test_theta_is_the_covariate_coefficient(self, arms: list[Arm]) -> None:
        """theta equals the X coefficient of Y ~ arm + X."""
        assert cuped(summarise(arms)).theta == pytest.approx(ols(arms, True).params[-1], rel=TOL)

    @pytest.mark.parametrize("arms", DATASETS.values(), ids=DATASETS.keys())
    def test_adjusted_differences_are_the_arm_coefficients(self, arms: list[Arm]) -> None:
        """Each arm's adjusted mean minus the control's equals its dummy's coefficient (ANCOVA)."""
        result = cuped(summarise(arms))
        coefficients = ols(arms, True).params[1:-1]
        differences = [arm.mean - result.arms[0].mean for arm in result.arms[1:]]
        assert differences == pytest.approx(list(coefficients), rel=TOL, abs=TOL)

    @pytest.mark.parametrize("arms", DATASETS.values(), ids=DATASETS.keys())
    def test_variance_factor_is_the_residual_ratio(self, arms: list[Arm]) -> None:
        """1 - rho^2 equals the residual sum of squares of Y ~ arm + X over that of Y ~ arm."""
        result = cuped(summarise(arms))
        expected = ols(arms, True).ssr / ols(arms, False).ssr
        assert result.variance_factor == pytest.approx(expected, rel=TOL)
        assert result.variance_reduction == pytest.approx(result.correlation**2, rel=TOL)

    @pytest.mark.parametrize("arms", DATASETS.values(), ids=DATASETS.keys())
    def test_adjusted_unit_variances(self, arms: list[Arm]) -> None:
        """Each arm's adjusted variance is the sample variance of y - theta x (NaN for a single unit)."""
        result = cuped(summarise(arms))
        for (y, x), adjusted in zip(arms, result.arms, strict=True):
            if len(y) < 2:
                assert math.isnan(adjusted.variance)
            else:
                assert adjusted.variance == pytest.approx(
                    float(np.var(y - result.theta * x, ddof=1)), rel=TOL
                )


class TestBehaviour:
    def test_reduces_the_standard_error(self) -> None:
        """With a strongly correlated covariate the Welch standard error shrinks by about sqrt(1 - rho^2)."""
        arms = DATASETS["two arms, strong covariate"]
        result = cuped(summarise(arms))
        raw = welch_ttest(*(SampleSummary.from_values(y) for y, _ in arms))
        adjusted = welch_ttest(*result.arms)
        assert result.variance_factor < 0.25  # rho = 0.89
        assert adjusted.standard_error == pytest.approx(
            raw.standard_error * math.sqrt(result.variance_factor), rel=0.1
        )
        assert adjusted.p_value < raw.p_value

    def test_constant_covariate_changes_nothing(self) -> None:
        """A covariate without spread gives theta = 0, no variance reduction and the raw means."""
        arms = [
            (np.array([1.0, 2.0, 4.0]), np.full(3, 5.0)),
            (np.array([2.0, 3.0]), np.full(2, 5.0)),
        ]
        result = cuped(summarise(arms))
        assert (result.theta, result.variance_factor, result.correlation) == (0.0, 1.0, 0.0)
        assert [arm.mean for arm in result.arms] == pytest.approx([7.0 / 3.0, 2.5])

    @pytest.mark.parametrize("arms", DATASETS.values(), ids=DATASETS.keys())
    def test_running_sums_agree_with_values(self, arms: list[Arm]) -> None:
        """Summaries from the raw running sums give the same adjustment as two-pass summaries."""
        from_sums = [
            CovariateSummary.from_sums(
                len(y), y.sum(), x.sum(), (y * y).sum(), (x * x).sum(), (x * y).sum()
            )
            for y, x in arms
        ]
        direct, running = cuped(summarise(arms)), cuped(from_sums)
        assert running.theta == pytest.approx(direct.theta, rel=1e-7)
        assert [a.mean for a in running.arms] == pytest.approx(
            [a.mean for a in direct.arms], rel=1e-9
        )

    def test_mismatched_lengths_raise(self) -> None:
        """Metric and covariate of different lengths raise ValueError."""
        with pytest.raises(ValueError, match="equal length"):
            CovariateSummary.from_values([1.0, 2.0], [1.0])
