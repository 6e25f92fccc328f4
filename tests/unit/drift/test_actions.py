"""Drift actions are data: parsed from configuration, carried by events, read back."""

from __future__ import annotations

from typing import Any

import pytest

from actors.drift import (
    AlertOnly,
    DownWeightArm,
    RaiseExploration,
    ResetArm,
    RollbackExperiment,
)
from actors.drift.actions import action_from_dict, action_to_dict, parse_rules

ACTIONS = [
    AlertOnly(),
    ResetArm(),
    DownWeightArm(factor=0.3),
    RaiseExploration(factor=3.0, decisions=500),
    RollbackExperiment(to_arm="control"),
    RollbackExperiment(),
]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: type(a).__name__)
def test_round_trip_through_a_dict(action: Any) -> None:
    """Every action survives action_to_dict / action_from_dict, tagged by its kind."""
    data = action_to_dict(action)
    assert isinstance(data["kind"], str)
    assert action_from_dict(data) == action


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "reboot"}, "invalid drift action"),
        ({"kind": "down_weight_arm", "factor": 1.5}, "factor must lie in"),
        ({"kind": "raise_exploration", "factor": 0.5}, "factor must exceed 1"),
        ({"kind": "raise_exploration", "decisions": 0}, "decisions must be at least 1"),
    ],
)
def test_bad_action_is_refused(data: dict[str, Any], message: str) -> None:
    """An unknown kind or an out-of-range field raises ValueError saying which."""
    with pytest.raises(ValueError, match=message):
        action_from_dict(data)


def test_rules_parse_from_configuration() -> None:
    """Rules come from JSON-like configuration; an unknown field is refused by name."""
    rules = parse_rules(
        [{"metric": "quality", "direction": "down", "action": {"kind": "reset_arm"}}]
    )
    assert rules[0].action == ResetArm()
    with pytest.raises(ValueError, match="colour"):
        parse_rules([{"colour": "red", "action": {"kind": "reset_arm"}}])
