"""The sample-ratio-mismatch check equals scipy.stats.chisquare and alarms at p < 0.001."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from actors.statistics import SRM_THRESHOLD, sample_ratio_mismatch
from tests.strategies import DETERMINISTIC

CASES = {
    "balanced": ([5000, 5000], [0.5, 0.5]),
    "slightly off": ([50_000, 49_400], [0.5, 0.5]),
    "skewed": ([50_000, 48_500], [0.5, 0.5]),
    "weighted three-way": ([2_010, 3_950, 4_040], [0.2, 0.4, 0.4]),
    "canary 5%": ([95_300, 4_700], [95.0, 5.0]),
    "single unit": ([1, 0], [0.5, 0.5]),
    "very unequal weights": ([999_000, 1_000], [0.999, 0.001]),
    "unnormalised weights": ([30, 70], [3.0, 7.0]),
}


class TestAgainstScipy:
    @pytest.mark.parametrize(("observed", "weights"), CASES.values(), ids=CASES.keys())
    def test_statistic_and_p_value(self, observed: list[int], weights: list[float]) -> None:
        """chi^2 and its p-value equal scipy.stats.chisquare against the expected counts."""
        result = sample_ratio_mismatch(observed, weights)
        total = sum(observed)
        expected = [total * w / sum(weights) for w in weights]
        ref = stats.chisquare(observed, expected)
        assert result.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-12)
        assert result.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-300)
        assert result.expected == pytest.approx(tuple(expected), rel=1e-12)
        assert result.df == len(observed) - 1


class TestAlarm:
    def test_default_threshold(self) -> None:
        """The default alarm threshold is p < 0.001, as the major engines use."""
        assert SRM_THRESHOLD == 0.001
        assert sample_ratio_mismatch([50_000, 48_500], [0.5, 0.5]).mismatch  # p = 1.8e-6
        assert not sample_ratio_mismatch([50_000, 49_400], [0.5, 0.5]).mismatch  # p = 0.057

    def test_custom_threshold(self) -> None:
        """A looser threshold flags a split that the default lets pass."""
        assert sample_ratio_mismatch([50_000, 49_400], [0.5, 0.5], threshold=0.1).mismatch

    def test_no_units_is_no_evidence(self) -> None:
        """With no units at all the statistic is 0, p = 1 and nothing is flagged."""
        result = sample_ratio_mismatch([0, 0], [0.5, 0.5])
        assert (result.statistic, result.p_value, result.mismatch) == (0.0, 1.0, False)

    def test_empty_zero_weight_arm_is_left_out(self) -> None:
        """An arm with weight 0 and no units is left out of the test and of the df."""
        result = sample_ratio_mismatch([480, 520, 0], [0.5, 0.5, 0.0])
        ref = stats.chisquare([480, 520], [500, 500])
        assert result.df == 1
        assert result.p_value == pytest.approx(ref.pvalue, rel=1e-12)

    def test_units_in_a_zero_weight_arm_are_a_mismatch(self) -> None:
        """Any unit in an arm that should get no traffic is an infinite mismatch."""
        result = sample_ratio_mismatch([480, 520, 1], [0.5, 0.5, 0.0])
        assert (result.statistic, result.p_value, result.mismatch) == (math.inf, 0.0, True)

    @pytest.mark.parametrize(
        ("observed", "weights", "message"),
        [
            ([10], [1.0], "two arms"),
            ([10, 10], [0.5], "one weight per"),
            ([-1, 10], [0.5, 0.5], "non-negative"),
            ([10, 10], [0.0, 0.0], "not all 0"),
            ([1, 1], [-0.5, 1.5], "non-negative"),
        ],
    )
    def test_invalid_input_raises(
        self, observed: list[int], weights: list[float], message: str
    ) -> None:
        """Fewer than two arms, mismatched lengths, negative counts or invalid weights raise ValueError."""
        with pytest.raises(ValueError, match=message):
            sample_ratio_mismatch(observed, weights)

    @DETERMINISTIC
    @given(counts=st.lists(st.integers(min_value=0, max_value=10**6), min_size=2, max_size=6))
    def test_p_value_is_a_probability(self, counts: list[int]) -> None:
        """For any counts against equal weights the p-value lies in [0, 1] and the statistic is >= 0."""
        result = sample_ratio_mismatch(counts, [1.0] * len(counts))
        assert 0.0 <= result.p_value <= 1.0
        assert result.statistic >= 0.0
