"""The demo's presets and the CLI's choices agree."""

from __future__ import annotations

from llmopt.cli import _parser
from llmopt.demo.presets import DEFAULT_COST_WEIGHT, DEFAULT_POLICY, LIVE_PRESETS


def test_cli_offers_exactly_the_live_presets() -> None:
    """``llmopt demo --policy`` accepts every live preset and nothing else, default included."""
    demo = _parser()._subparsers._group_actions[0].choices["demo"]  # type: ignore[union-attr]
    policy = next(a for a in demo._actions if a.dest == "policy")
    assert sorted(policy.choices) == sorted(LIVE_PRESETS)
    assert policy.default is None


def test_every_dataset_has_a_live_default_policy() -> None:
    """Each ``--dataset`` value defaults to a preset that runs live."""
    assert set(DEFAULT_POLICY) == {"mmlu", "gsm8k", "both"}
    assert set(DEFAULT_POLICY.values()) <= set(LIVE_PRESETS)


def test_every_dataset_choice_has_a_default_cost_weight() -> None:
    """Each ``--dataset`` value has its default cost weight."""
    assert set(DEFAULT_COST_WEIGHT) == {"mmlu", "gsm8k", "both"}
