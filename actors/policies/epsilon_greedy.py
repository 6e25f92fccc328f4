"""Epsilon-greedy: play the best-looking arm, explore uniformly with a decaying probability."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from actors.policies.base import Choice, Policy

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class EpsilonGreedy(Policy):
    r"""Epsilon-greedy with a :math:`1/t` decay (the :math:`\varepsilon_n`-greedy of Auer et al.).

    With probability :math:`1 - \varepsilon_t` ``choose`` plays the greedy arm, the eligible
    arm with the highest mean reward :math:`\bar r_k` (an untried arm counts as
    :math:`+\infty`, so each arm is tried once; ties go to the first in arm order); with
    probability :math:`\varepsilon_t` it plays an eligible arm uniformly at random. The
    exploration rate is

    .. math:: \varepsilon_t = \max\left(\varepsilon_{\min},\ \frac{\varepsilon_0}{1 + d\,t}\right),

    where :math:`t` is the number of updates folded so far (kept in the state, so a replay
    reproduces it; it does not go down when an arm is retired). The :math:`1/t` form is the
    schedule under which Auer, Cesa-Bianchi & Fischer (2002, Theorem 3) prove logarithmic
    regret; a geometric decay :math:`\varepsilon_0 \gamma^t` stops exploring after a few
    hundred updates and can lock onto a wrong arm for good. ``decay`` :math:`= d = 0` gives
    the constant rate :math:`\varepsilon_0`.

    The propensity is exact: with :math:`K` eligible arms, :math:`1 - \varepsilon_t (K - 1)/K`
    for the greedy arm and :math:`\varepsilon_t / K` for any other.

    Parameters
    ----------
    arms
        Arm names, in the order that breaks ties.
    epsilon
        :math:`\varepsilon_0`, the exploration rate before any update, in [0, 1].
    decay
        :math:`d \ge 0`, how fast the rate falls with the number of updates.
    min_epsilon
        :math:`\varepsilon_{\min}`, the floor the rate never falls below, in [0, 1].

    References
    ----------
    P. Auer, N. Cesa-Bianchi and P. Fischer (2002), "Finite-time analysis of the multiarmed
    bandit problem", *Machine Learning* 47(2-3).
    R. S. Sutton and A. G. Barto (2018), *Reinforcement Learning: An Introduction*, 2nd ed.,
    section 2.2.

    Examples
    --------
    >>> import numpy as np
    >>> policy = EpsilonGreedy(["a", "b"], epsilon=0.2)
    >>> policy.update("a", 1.0, None, at=0.0)
    >>> policy.update("b", 0.0, None, at=0.0)
    >>> policy.choose(["a", "b"], None, np.random.default_rng(0))
    Choice(arm='a', propensity=0.9)
    """

    name: ClassVar[str] = "epsilon_greedy"
    reward_bounds: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    """Rewards ``update`` accepts (finite ones); anything else raises ``ValueError``."""

    def __init__(
        self,
        arms: Sequence[str],
        epsilon: float = 0.1,
        decay: float = 0.0,
        min_epsilon: float = 0.0,
    ) -> None:
        super().__init__(arms)
        self.epsilon = _unit("epsilon", epsilon)
        self.min_epsilon = _unit("min_epsilon", min_epsilon)
        self.decay = float(decay)
        if not (math.isfinite(self.decay) and self.decay >= 0.0):
            raise ValueError(f"decay must be finite and non-negative, got {decay!r}")
        self._index = {arm: i for i, arm in enumerate(self.arms)}
        self._counts: IntArray = np.zeros(len(self.arms), dtype=np.int64)
        self._sums: FloatArray = np.zeros(len(self.arms))
        self._updates = 0

    def params(self) -> dict[str, Any]:
        """The constructor arguments besides ``arms``."""
        return {"epsilon": self.epsilon, "decay": self.decay, "min_epsilon": self.min_epsilon}

    @property
    def current_epsilon(self) -> float:
        """:math:`\\varepsilon_t`, the exploration rate of the next decision."""
        return max(self.min_epsilon, self.epsilon / (1.0 + self.decay * self._updates))

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
        k = idx.size
        if k == 1:
            return Choice(self.arms[idx[0]], 1.0)
        counts = self._counts[idx]
        values = np.full(k, math.inf)
        tried = counts > 0
        values[tried] = self._sums[idx][tried] / counts[tried]
        greedy = int(np.argmax(values))
        eps = self.current_epsilon
        j = int(rng.integers(k)) if rng.random() < eps else greedy
        propensity = 1.0 - eps * (k - 1) / k if j == greedy else eps / k
        return Choice(self.arms[idx[j]], propensity)

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i = self._arm_index(arm)
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward!r}")
        self._counts[i] += 1
        self._sums[i] += r
        self._updates += 1

    def state(self) -> dict[str, Any]:
        return {
            "arms": list(self.arms),
            "params": self.params(),
            "counts": self._counts.tolist(),
            "sums": self._sums.tolist(),
            "updates": self._updates,
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
        policy._updates = int(state["updates"])
        return policy

    def _arm_index(self, arm: str) -> int:
        try:
            return self._index[arm]
        except KeyError:
            raise ValueError(f"unknown arm {arm!r}") from None


def _unit(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v
