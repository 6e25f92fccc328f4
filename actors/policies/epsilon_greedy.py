"""Epsilon-greedy: play the best-looking arm, explore uniformly with a decaying probability."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import non_negative, number
from actors.policies.base import Choice
from actors.policies.sample_average import SampleAveragePolicy


class EpsilonGreedy(SampleAveragePolicy):
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
        self.decay = non_negative("decay", decay)

    @property
    def current_epsilon(self) -> float:
        """:math:`\\varepsilon_t`, the exploration rate of the next decision."""
        scheduled = max(self.min_epsilon, self.epsilon / (1.0 + self.decay * self._updates))
        return min(1.0, scheduled * self.exploration)

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        idx = self.eligible_indices(eligible)
        k = idx.size
        if k == 1:
            return Choice(self.arms[idx[0]], 1.0)
        counts = self.model["counts"][idx]
        values = np.full(k, math.inf)
        tried = counts > 0
        values[tried] = self.model["sums"][idx][tried] / counts[tried]
        greedy = int(np.argmax(values))
        eps = self.current_epsilon
        j = int(rng.integers(k)) if rng.random() < eps else greedy
        propensity = 1.0 - eps * (k - 1) / k if j == greedy else eps / k
        return Choice(self.arms[idx[j]], propensity)


def _unit(name: str, value: float) -> float:
    v = number(name, value)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return v
