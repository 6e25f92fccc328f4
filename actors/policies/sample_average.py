"""The bookkeeping of policies that value an arm by the average of its rewards."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from actors.policies.base import ArmArrays, Policy


class SampleAveragePolicy(Policy):
    """A policy that keeps, per arm, the count and the sum of the rewards folded for it, and
    the number of updates over all arms.

    The update count drives exploration schedules that decay with time
    (:class:`~actors.policies.epsilon_greedy.EpsilonGreedy`,
    :class:`~actors.policies.softmax.Softmax`). It is in the state, so a replay reproduces it,
    and it does not go down when an arm is retired. Rewards may be any finite numbers.
    """

    model: ArmArrays

    def __init__(self, arms: Sequence[str]) -> None:
        super().__init__(arms)
        self.model = ArmArrays(len(self.arms), counts=0, sums=0.0)
        self._updates = 0

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i, r = self.arm_index(arm), self.check_reward(reward)
        self.model["counts"][i] += 1
        self.model["sums"][i] += r
        self._updates += 1

    def down_weight_arm(self, arm: str, factor: float) -> None:
        """Fewer observations with the same mean: the count is rounded, never below one, and
        the sum follows it."""
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
        i = self.arm_index(arm)
        counts, sums = self.model["counts"], self.model["sums"]
        if counts[i] > 0:
            kept = max(1, round(float(counts[i]) * factor))
            sums[i] *= kept / float(counts[i])
            counts[i] = kept

    def state(self) -> dict[str, Any]:
        return {**super().state(), "updates": self._updates}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        policy = super().from_state(state)
        policy._updates = int(state["updates"])
        return policy
