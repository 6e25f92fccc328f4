"""UCB1: play the arm with the highest upper confidence bound on its mean reward."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from actors.policies.base import Choice, Policy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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
    reward_bounds: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    """Rewards ``update`` accepts (finite ones); anything else raises ``ValueError``."""

    def __init__(self, arms: Sequence[str], scale: float = 1.0) -> None:
        super().__init__(arms)
        self.scale = float(scale)
        if not (math.isfinite(self.scale) and self.scale > 0.0):
            raise ValueError(f"scale must be finite and positive, got {scale!r}")
        self._index = {arm: i for i, arm in enumerate(self.arms)}
        self._counts: IntArray = np.zeros(len(self.arms), dtype=np.int64)
        self._sums: FloatArray = np.zeros(len(self.arms))

    def params(self) -> dict[str, Any]:
        """The constructor arguments besides ``arms``."""
        return {"scale": self.scale}

    def add_arm(self, arm: str) -> None:
        if arm in self._index:
            raise ValueError(f"arm {arm!r} already exists")
        self.arms.append(arm)
        self._index[arm] = len(self.arms) - 1
        self._counts = np.append(self._counts, np.int64(0))
        self._sums = np.append(self._sums, 0.0)

    def retire_arm(self, arm: str) -> None:
        i = self._arm_index(arm)
        if len(self.arms) == 1:
            raise ValueError("cannot retire the last arm")
        del self.arms[i]
        self._index = {name: j for j, name in enumerate(self.arms)}
        self._counts = np.delete(self._counts, i)
        self._sums = np.delete(self._sums, i)

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        self._check_eligible(eligible)
        idx = np.array(sorted({self._index[arm] for arm in eligible}), dtype=np.intp)
        counts = self._counts[idx]
        untried = np.flatnonzero(counts == 0)
        if untried.size:
            return Choice(self.arms[idx[untried[0]]], 1.0)
        bonus = self.scale * np.sqrt(2.0 * math.log(int(self._counts.sum())) / counts)
        j = int(np.argmax(self._sums[idx] / counts + bonus))
        return Choice(self.arms[idx[j]], 1.0)

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i = self._arm_index(arm)
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward!r}")
        self._counts[i] += 1
        self._sums[i] += r

    def state(self) -> dict[str, Any]:
        return {
            "arms": list(self.arms),
            "params": self.params(),
            "counts": self._counts.tolist(),
            "sums": self._sums.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        policy = cls(state["arms"], **state["params"])
        n = len(policy.arms)
        counts = np.array(state["counts"], dtype=np.int64)
        sums = np.array(state["sums"], dtype=np.float64)
        if counts.shape != (n,) or sums.shape != (n,):
            raise ValueError(f"expected {n} counts and sums, one per arm")
        policy._counts, policy._sums = counts, sums
        return policy

    def _arm_index(self, arm: str) -> int:
        try:
            return self._index[arm]
        except KeyError:
            raise ValueError(f"unknown arm {arm!r}") from None
