"""UCB1: play the arm with the highest upper confidence bound on its mean reward."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import positive
from actors.policies.base import ArmArrays, Choice, Policy


class UCB1(Policy):
    r"""UCB1 (Auer, Cesa-Bianchi & Fischer 2002).

    Every untried eligible arm is played first, in arm order; after that ``choose`` plays

    .. math:: \arg\max_k\ \bar r_k + c \sqrt{\frac{2 \ln N}{n_k}},

    where :math:`n_k` is the number of rewards folded for arm :math:`k`, :math:`\bar r_k`
    their mean, and :math:`N = \sum_k n_k` the number of updates over all arms the policy
    holds (an arm's updates leave :math:`N` when it is retired). Ties go to the first arm in
    arm order. The choice is deterministic, so the propensity is 1.0 and the generator is not
    used; note that an off-policy estimate cannot reweight such decisions.

    With rewards in an interval of width :math:`c` (``scale``, 1 for :math:`[0, 1]`), the
    expected regret after :math:`T` plays is at most
    :math:`\sum_{k : \Delta_k > 0} 8 \ln T / \Delta_k + (1 + \pi^2 / 3) \sum_k \Delta_k`
    (their Theorem 1, for :math:`c = 1`), where :math:`\Delta_k` is arm :math:`k`'s gap to the
    best mean. Rewards outside the interval are accepted but void the bound.

    Parameters
    ----------
    arms
        Arm names, in the order that breaks ties.
    scale
        :math:`c`, the width of the reward range; the exploration bonus scales with it.

    References
    ----------
    P. Auer, N. Cesa-Bianchi and P. Fischer (2002), "Finite-time analysis of the multiarmed
    bandit problem", *Machine Learning* 47(2-3).

    Examples
    --------
    >>> import numpy as np
    >>> policy = UCB1(["a", "b"])
    >>> policy.choose(["a", "b"], None, np.random.default_rng(0))
    Choice(arm='a', propensity=1.0)
    >>> policy.update("a", 1.0, None, at=0.0)
    >>> policy.choose(["a", "b"], None, np.random.default_rng(0))
    Choice(arm='b', propensity=1.0)
    """

    name: ClassVar[str] = "ucb1"
    model: ArmArrays

    def __init__(self, arms: Sequence[str], scale: float = 1.0) -> None:
        super().__init__(arms)
        self.scale = positive("scale", scale)
        self.model = ArmArrays(len(self.arms), counts=0, sums=0.0)

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        idx = self.eligible_indices(eligible)
        all_counts = self.model["counts"]
        counts = all_counts[idx]
        untried = np.flatnonzero(counts == 0)
        if untried.size:
            return Choice(self.arms[idx[untried[0]]], 1.0)
        bonus = (
            self.scale * self.exploration * np.sqrt(2.0 * math.log(int(all_counts.sum())) / counts)
        )
        j = int(np.argmax(self.model["sums"][idx] / counts + bonus))
        return Choice(self.arms[idx[j]], 1.0)

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i, r = self.arm_index(arm), self.check_reward(reward)
        self.model["counts"][i] += 1
        self.model["sums"][i] += r
