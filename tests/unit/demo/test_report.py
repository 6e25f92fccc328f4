"""The figures ``llmopt demo`` prints, from a run's totals."""

from __future__ import annotations

import json

import pytest

from llmopt.demo.cost_model import STRONG, WEAK
from llmopt.demo.dataset import load
from llmopt.demo.protocol import oracle_arms, reward_spec, route_fixed, seeded_order
from llmopt.demo.report import format_text, summary

PROMPTS = seeded_order(load("gsm8k"), 0)[:200]
REWARD = reward_spec(0.2, 0.004)


def test_always_flagship_saves_nothing_and_keeps_all_quality() -> None:
    """Routing everything to GPT-4 saves 0% and retains 100% of its accuracy."""
    tally = route_fixed(PROMPTS, [STRONG] * len(PROMPTS), REWARD)
    figures = summary(PROMPTS, tally, REWARD, [1.0, 2.0, 3.0])
    assert figures["cost_saved_vs_flagship"] == pytest.approx(0.0)
    assert figures["quality_retained"] == pytest.approx(1.0)
    assert figures["decision_latency_ms"] == {"p50": 2.0, "p99": pytest.approx(2.98)}


def test_oracle_run_has_no_regret_and_the_oracle_cost() -> None:
    """A run that routes like the per-prompt oracle has zero regret and the oracle's cost."""
    tally = route_fixed(PROMPTS, oracle_arms(PROMPTS), REWARD)
    figures = summary(PROMPTS, tally, REWARD, [])
    assert figures["regret"] == pytest.approx(0.0, abs=1e-9)
    assert figures["cost_usd"] == figures["oracle_cost_usd"]
    assert figures["decision_latency_ms"]["p50"] is None


def test_text_and_json_carry_the_headline_figures() -> None:
    """The text names cost saved, quality retained, regret and the arms; the dict is JSON."""
    tally = route_fixed(PROMPTS, [WEAK] * len(PROMPTS), REWARD)
    figures = summary(PROMPTS, tally, REWARD, [1.5], dataset="gsm8k", seed=0, round_size=20)
    text = format_text(figures)
    saved = 1 - tally.cost_usd / figures["flagship_cost_usd"]
    assert f"cost saved vs always GPT-4:   {saved:.1%}" in text
    assert "quality retained" in text and "rounds of 20" in text and "mixtral-8x7b 200" in text
    assert json.loads(json.dumps(figures))["prompts"] == 200


def test_totals_of_other_prompts_are_refused() -> None:
    """Totals that do not cover the prompts given are a ValueError, not a wrong figure."""
    tally = route_fixed(PROMPTS[:10], [WEAK] * 10, REWARD)
    with pytest.raises(ValueError, match="10 prompts"):
        summary(PROMPTS, tally, REWARD, [])
