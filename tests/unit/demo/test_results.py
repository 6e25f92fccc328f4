"""Reading a cost-quality curve at a quality target."""

from __future__ import annotations

import pytest

from llmopt.demo.results import Point, cost_at_quality, cost_reduction


def pt(cost: float, accuracy: float) -> Point:
    return Point(knob=0.0, cost_usd=cost, accuracy=accuracy)


def test_target_between_two_points_is_interpolated_linearly() -> None:
    """A target halfway between two points' accuracies costs halfway between their costs."""
    points = [pt(10.0, 0.8), pt(2.0, 0.7), pt(6.0, 0.76)]
    assert cost_at_quality(points, 0.73) == pytest.approx(2.0 + 0.5 * 4.0)


def test_first_crossing_from_the_cheap_end_is_used() -> None:
    """A non-monotone curve is read where it first reaches the target walking up in cost."""
    points = [pt(1.0, 0.5), pt(2.0, 0.9), pt(3.0, 0.6), pt(4.0, 0.95)]
    assert cost_at_quality(points, 0.7) == pytest.approx(1.5)


def test_cheapest_point_meeting_the_target_is_not_extrapolated() -> None:
    """When even the cheapest point meets the target, its own cost is the answer."""
    assert cost_at_quality([pt(3.0, 0.9), pt(5.0, 0.95)], 0.8) == 3.0


def test_curve_that_never_reaches_the_target_has_no_cost() -> None:
    """A curve below the target everywhere gives None."""
    assert cost_at_quality([pt(3.0, 0.6), pt(5.0, 0.7)], 0.8) is None


def test_cost_reduction_is_the_share_saved() -> None:
    """Paying 7.1 where the baseline paid 10 saves 29%; no cost stays no reduction."""
    assert cost_reduction(7.1, 10.0) == pytest.approx(0.29)
    assert cost_reduction(None, 10.0) is None
    with pytest.raises(ValueError, match="positive"):
        cost_reduction(1.0, 0.0)


def test_curve_can_be_read_in_strong_model_calls() -> None:
    """Read in calls, the target's cost interpolates the points' strong-call counts."""
    points = [
        Point(knob=0.0, cost_usd=10.0, accuracy=0.8, strong_calls=100.0),
        Point(knob=1.0, cost_usd=2.0, accuracy=0.7, strong_calls=20.0),
    ]
    assert cost_at_quality(points, 0.75, in_calls=True) == pytest.approx(60.0)
