"""The public API of ``actors.statistics`` is deliberate: adding or removing a name is a visible change."""

from __future__ import annotations

import doctest
import importlib

import pytest

import actors.statistics

PUBLIC = {
    "ALTERNATIVES",
    "SRM_THRESHOLD",
    "Alternative",
    "BayesianComparison",
    "BetaPosterior",
    "CovariateSummary",
    "CupedAdjustment",
    "MeanTest",
    "NormalPosterior",
    "ProportionTest",
    "SampleRatioTest",
    "SampleSummary",
    "SequentialLook",
    "always_valid_p_values",
    "benjamini_hochberg",
    "beta_expected_loss",
    "compare_beta",
    "compare_normal",
    "cuped",
    "holm",
    "mixing_variance",
    "msprt",
    "normal_expected_loss",
    "power_means",
    "power_two_proportions",
    "prob_beta_beats",
    "prob_normal_beats",
    "sample_ratio_mismatch",
    "sample_size_means",
    "sample_size_two_proportions",
    "two_proportion_ztest",
    "welch_ttest",
}

MODULES = [
    "alternatives",
    "bayesian",
    "cuped",
    "distributions",
    "multiple",
    "power",
    "proportions",
    "sequential",
    "special",
    "srm",
    "summary",
    "welch",
]


def test_exported_members() -> None:
    """The package exports exactly its listed names, and every one of them resolves."""
    assert set(actors.statistics.__all__) == PUBLIC
    for name in actors.statistics.__all__:
        assert getattr(actors.statistics, name) is not None


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name: str) -> None:
    """Every module's docstring examples run and print what they show."""
    module = importlib.import_module(f"actors.statistics.{name}")
    result = doctest.testmod(module, verbose=False, report=False)
    assert result.failed == 0
    if name not in {"alternatives"}:
        assert result.attempted > 0


def test_importing_statistics_never_imports_scipy() -> None:
    """The runtime computes with numpy and the standard library: scipy and statsmodels stay test-only."""
    import subprocess
    import sys

    code = (
        "import sys, actors.statistics; "
        "print(sorted(m for m in ('scipy', 'statsmodels') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
