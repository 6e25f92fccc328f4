"""The stopping rule: duration first, then sample minimums, then significance and improvement."""

from __future__ import annotations

import math

import pytest

from actors.experiments.contrast import ContrastMonitor
from actors.experiments.stopping import StoppingRule, evaluate_stop
from actors.statistics import msprt

RULE = StoppingRule(min_samples_per_variant=1000, max_duration_s=86400.0, min_improvement=0.02)
ENOUGH = {"control": 5000, "b": 5000}


def monitor(estimate: float, variance: float, tau2: float = 1e-3) -> ContrastMonitor:
    return ContrastMonitor(mixing_variance=tau2, look=msprt(estimate, variance, tau2))


def test_max_duration_stops_whatever_the_data() -> None:
    """Reaching the maximum duration stops the experiment even below the sample minimum."""
    decision = evaluate_stop(
        RULE, elapsed_s=86400.0, samples={"control": 3, "b": 3}, control_mean=1.0, monitors={}
    )
    assert decision.stop and decision.reason == "max_duration" and decision.winner is None


def test_below_min_samples_continues_and_names_the_short_variants() -> None:
    """A clear effect does not stop an experiment whose variants lack the minimum samples."""
    decision = evaluate_stop(
        RULE,
        elapsed_s=10.0,
        samples={"control": 5000, "b": 999},
        control_mean=1.0,
        monitors={"b": monitor(0.5, 1e-4)},
    )
    assert not decision.stop and decision.reason == "min_samples" and "b" in decision.detail


def test_significant_and_large_enough_stops_with_the_winner() -> None:
    """A significant 10% lift over a 2% minimum stops with that variant as winner."""
    decision = evaluate_stop(
        RULE, elapsed_s=10.0, samples=ENOUGH, control_mean=1.0, monitors={"b": monitor(0.1, 1e-4)}
    )
    assert decision.stop and decision.reason == "significant" and decision.winner == "b"


def test_significant_but_too_small_continues() -> None:
    """A significant lift below the minimum improvement does not stop the experiment."""
    look = monitor(0.015, 2e-5)
    assert look.rejected and look.ci[0] > 0.0 and look.ci[1] > 0.02
    decision = evaluate_stop(
        RULE, elapsed_s=10.0, samples=ENOUGH, control_mean=1.0, monitors={"b": look}
    )
    assert not decision.stop and decision.reason == "continue"


def test_a_real_but_too_small_lift_becomes_futile_once_its_interval_is_tight() -> None:
    """A significant 1.5% lift whose interval excludes 2% stops as futile: it cannot reach 2%."""
    decision = evaluate_stop(
        RULE, elapsed_s=10.0, samples=ENOUGH, control_mean=1.0, monitors={"b": monitor(0.015, 1e-7)}
    )
    assert decision.stop and decision.reason == "futile"


def test_a_variant_that_cannot_reach_the_minimum_is_futile() -> None:
    """When every interval lies below the minimum improvement the experiment stops, no winner."""
    decision = evaluate_stop(
        RULE, elapsed_s=10.0, samples=ENOUGH, control_mean=1.0, monitors={"b": monitor(-0.05, 1e-6)}
    )
    assert decision.stop and decision.reason == "futile" and decision.winner is None


def test_holm_picks_among_several_variants_and_prefers_the_largest_lift() -> None:
    """With three treatments, the clear ones qualify after Holm and the largest lift wins."""
    monitors = {
        "b": monitor(0.05, 1e-5),
        "c": monitor(0.08, 1e-5),
        "d": monitor(0.001, 1e-4),
    }
    decision = evaluate_stop(
        RULE,
        elapsed_s=10.0,
        samples={"control": 5000, "b": 5000, "c": 5000, "d": 5000},
        control_mean=1.0,
        monitors=monitors,
    )
    assert decision.winner == "c"


def test_holm_adjustment_can_withhold_a_borderline_winner() -> None:
    """A p-value just under alpha alone is not enough among three treatments (Holm multiplies)."""
    tau2 = 1e-3
    look = msprt(0.124, 1e-3, tau2)
    assert 0.02 < look.p_value <= 0.05
    rule = StoppingRule(min_samples_per_variant=2, max_duration_s=None)
    monitors = {"b": ContrastMonitor(mixing_variance=tau2, look=look)}
    alone = evaluate_stop(
        rule, elapsed_s=0.0, samples={"control": 10, "b": 10}, control_mean=1.0, monitors=monitors
    )
    assert alone.winner == "b"
    monitors |= {v: monitor(0.0, 1e-3) for v in ("c", "d")}
    decision = evaluate_stop(
        rule,
        elapsed_s=0.0,
        samples={"control": 10, "b": 10, "c": 10, "d": 10},
        control_mean=1.0,
        monitors=monitors,
    )
    assert decision.winner is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_samples_per_variant", 1),
        ("alpha", 0.0),
        ("alpha", 1.0),
        ("max_duration_s", 0.0),
        ("min_improvement", -0.1),
        ("min_improvement", math.nan),
        ("n_star", 0.0),
    ],
)
def test_impossible_rules_are_refused(field: str, value: float) -> None:
    """A rule that cannot be applied is refused when it is defined, naming the field."""
    with pytest.raises(ValueError, match=field):
        StoppingRule(**{field: value})  # type: ignore[arg-type]
