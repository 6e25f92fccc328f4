"""Holm and Benjamini-Hochberg adjusted p-values equal statsmodels' multipletests."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.multitest import multipletests

from actors.statistics import benjamini_hochberg, holm
from tests.strategies import DETERMINISTIC
from tests.unit.statistics.strategies import p_value_lists, p_values

FAMILIES = {
    "typical": [0.01, 0.04, 0.03, 0.2],
    "single": [0.03],
    "ties": [0.02, 0.02, 0.02, 0.5],
    "zeros and ones": [0.0, 1.0, 0.0, 0.5],
    "all null": [0.9, 0.5, 0.7],
    "many small": [1e-10, 1e-8, 3e-4, 0.001, 0.0049, 0.02, 0.04, 0.3, 0.8, 0.99],
    "unsorted with duplicates": [0.5, 0.001, 0.5, 0.03, 0.001],
}
METHODS = [(holm, "holm"), (benjamini_hochberg, "fdr_bh")]


class TestAgainstStatsmodels:
    @pytest.mark.parametrize(("ours", "method"), METHODS, ids=["holm", "fdr_bh"])
    @pytest.mark.parametrize("p_values", FAMILIES.values(), ids=FAMILIES.keys())
    def test_adjusted_p_values(self, p_values: list[float], ours: object, method: str) -> None:
        """Adjusted p-values equal multipletests', in the order given."""
        reject, adjusted, _, _ = multipletests(p_values, alpha=0.05, method=method)
        assert ours(p_values) == pytest.approx(tuple(adjusted), rel=1e-12, abs=1e-15)  # type: ignore[operator]
        assert [p <= 0.05 for p in ours(p_values)] == list(reject)  # type: ignore[operator]

    # statsmodels' Holm takes about 17 ms a call here, so this property draws fewer families.
    @settings(DETERMINISTIC, max_examples=25)
    @given(family=st.lists(p_values | st.sampled_from([0.0, 0.01, 1.0]), min_size=1, max_size=8))
    def test_random_families(self, family: list[float]) -> None:
        """Any family of p-values, ties and ends included, gives statsmodels' adjustments."""
        for ours, method in METHODS:
            _, adjusted, _, _ = multipletests(family, method=method)
            assert ours(family) == pytest.approx(tuple(adjusted), rel=1e-12, abs=1e-15)


class TestProperties:
    @DETERMINISTIC
    @given(p_values=p_value_lists)
    def test_ordering(self, p_values: list[float]) -> None:
        """Adjusted values lie between the raw value and 1, keep the raw order, and BH <= Holm."""
        h, bh = np.array(holm(p_values)), np.array(benjamini_hochberg(p_values))
        raw = np.array(p_values)
        assert np.all(raw <= bh) and np.all(bh <= h) and np.all(h <= 1.0)
        order = np.argsort(raw, kind="stable")
        assert np.all(np.diff(h[order]) >= 0) and np.all(np.diff(bh[order]) >= 0)

    def test_empty_family(self) -> None:
        """An empty family adjusts to an empty tuple."""
        assert holm([]) == benjamini_hochberg([]) == ()

    @pytest.mark.parametrize("bad", [[0.1, float("nan")], [1.5], [-0.01]])
    def test_invalid_p_values_raise(self, bad: list[float]) -> None:
        """NaN or values outside [0, 1] raise ValueError rather than being adjusted."""
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            holm(bad)
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            benjamini_hochberg(bad)
