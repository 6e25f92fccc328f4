"""Sweeping a knob over seeds, refined towards the quality target."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from llmopt.demo.dataset import Prompt, load
from llmopt.demo.protocol import Tally
from llmopt.demo.results import cost_at_quality
from llmopt.demo.sweep import sweep

PROMPTS = load("gsm8k")[:10]


def linear(ordered: Sequence[Prompt], seed: int, knob: float) -> Tally:
    """Accuracy 0.9 - 0.5 knob and cost 10 - 10 knob, shifted by the seed by +-0.01."""
    shift = 0.01 if seed else -0.01
    correct = round(1000 * (0.9 - 0.5 * knob + shift))
    return Tally(prompts=1000, correct=correct, quality=float(correct), cost_usd=10 - 10 * knob)


def test_points_are_means_over_seeds_at_every_knob() -> None:
    """Each point averages the seeds (their shifts cancel) at its knob."""
    points = sweep(PROMPTS, linear, seeds=[0, 1], knobs=[0.0, 1.0], target=0.0, refine=0)
    assert [(p.knob, p.accuracy, p.cost_usd) for p in points] == [(0.0, 0.9, 10.0), (1.0, 0.4, 0.0)]


def test_bisection_closes_in_on_the_target() -> None:
    """Refinement adds knobs halving the interval that straddles the target, 0.8 at knob 0.2."""
    points = sweep(PROMPTS, linear, seeds=[0, 1], knobs=[0.0, 0.5, 1.0], target=0.8, refine=3)
    assert [p.knob for p in points] == [0.0, 0.125, 0.1875, 0.25, 0.5, 1.0]
    assert cost_at_quality(points, 0.8) == pytest.approx(8.0, abs=0.01)


def test_no_straddling_pair_means_no_refinement() -> None:
    """A target every point exceeds adds no knob."""
    points = sweep(PROMPTS, linear, seeds=[0], knobs=[0.0, 0.5], target=0.1, refine=3)
    assert [p.knob for p in points] == [0.0, 0.5]
