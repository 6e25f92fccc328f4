"""The bookkeeping every policy inherits from actors.policies.base: arm rows, eligible sets,
reward bounds and parameter checks."""

from __future__ import annotations

import doctest
import math
from typing import Any

import numpy as np
import pytest

from actors.parameters import non_negative, number, positive
from actors.policies import base
from actors.policies.base import ArmArrays, at_least_one
from actors.policies.beta_thompson import BetaThompson
from actors.policies.ucb1 import UCB1


class TestArmArrays:
    def test_docstring_example_runs(self) -> None:
        """The example in the base module's docstrings gives the output it shows."""
        result = doctest.testmod(base, verbose=False, report=False)
        assert result.attempted > 0
        assert result.failed == 0

    def test_prior_sets_the_dtype(self) -> None:
        """An int prior makes an int64 array, a float prior a float64 array, in new rows too."""
        rows = ArmArrays(2, counts=0, mean=0.5)
        rows.append()
        assert (rows["counts"].dtype, rows["mean"].dtype) == (np.int64, np.float64)
        assert rows.state() == {"counts": [0, 0, 0], "mean": [0.5, 0.5, 0.5]}

    def test_load_checks_the_number_of_rows(self) -> None:
        """Loading a state with another number of rows than arms raises ValueError and keeps the rows."""
        rows = ArmArrays(2, counts=0, sums=0.0)
        with pytest.raises(ValueError, match="expected 2 sums"):
            rows.load({"counts": [1, 2], "sums": [1.0]})
        assert rows.state() == {"counts": [0, 0], "sums": [0.0, 0.0]}
        rows.load({"counts": [1, 2], "sums": [0.5, 1.5]})
        assert rows.state() == {"counts": [1, 2], "sums": [0.5, 1.5]}


class TestPolicyBookkeeping:
    def test_eligible_indices_are_sorted_and_unique(self) -> None:
        """Eligible arms become their rows in arm order, each once, whatever the caller's order."""
        policy = UCB1(["a", "b", "c", "d"])
        assert policy.eligible_indices(["d", "b", "d", "a"]).tolist() == [0, 1, 3]

    def test_indices_follow_retirement(self) -> None:
        """After an arm is retired the later arms move up a row."""
        policy = UCB1(["a", "b", "c"])
        policy.retire_arm("a")
        assert (policy.arm_index("b"), policy.arm_index("c")) == (0, 1)
        assert policy.eligible_indices(["c"]).tolist() == [1]

    @pytest.mark.parametrize(
        ("reward", "message"),
        [(-0.5, r"in \[0, 1\]"), (1.5, r"in \[0, 1\]"), (math.nan, "reward")],
    )
    def test_reward_outside_bounds_raises(self, reward: float, message: str) -> None:
        """check_reward refuses rewards outside reward_bounds and non-finite ones."""
        with pytest.raises(ValueError, match=message):
            BetaThompson(["a"]).check_reward(reward)

    def test_unbounded_policy_takes_any_finite_reward(self) -> None:
        """With the default bounds any finite reward is accepted and returned as a float."""
        assert UCB1(["a"]).check_reward(-(10**6)) == -1e6
        with pytest.raises(ValueError, match="finite"):
            UCB1(["a"]).check_reward(math.inf)


class TestParameterChecks:
    @pytest.mark.parametrize(
        ("check", "value"),
        [
            (positive, 0.0),
            (positive, math.inf),
            (non_negative, -1.0),
            (non_negative, math.nan),
            (number, None),
            (number, "x"),
            (at_least_one, 0),
            (at_least_one, 1.0),
        ],
    )
    def test_refused_values_name_the_parameter(self, check: Any, value: Any) -> None:
        """Every check raises ValueError naming the parameter."""
        with pytest.raises(ValueError, match=r"^knob "):
            check("knob", value)

    def test_accepted_values_are_normalised(self) -> None:
        """Accepted values come back as float (or int for counts)."""
        assert (positive("k", 2), non_negative("k", 0), number("k", "1.5")) == (2.0, 0.0, 1.5)
        assert at_least_one("k", np.int64(3)) == 3
