"""Discounted Thompson sampling: Beta-Bernoulli Thompson sampling that forgets, for drift."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import number
from actors.policies.beta_thompson import BetaThompson


class DiscountedThompson(BetaThompson):
    r"""Discounted Thompson sampling (dTS) for non-stationary rewards in [0, 1].

    On every update, every arm's evidence decays by :math:`\gamma \in (0, 1]` toward the prior
    and then the played arm :math:`a` gets the reward :math:`r`:

    .. math::
        S_k \leftarrow \gamma S_k + \mathbb{1}[k = a]\, r, \qquad
        F_k \leftarrow \gamma F_k + \mathbb{1}[k = a]\, (1 - r),

    and ``choose`` samples :math:`\theta_k \sim \mathrm{Beta}(\alpha_0 + S_k, \beta_0 + F_k)`
    as :class:`~actors.policies.beta_thompson.BetaThompson` does (Raj & Kalyani 2017). An arm
    that is rarely played drifts back to its prior and is explored again, so the policy
    notices when a neglected arm has become the best. The evidence never exceeds
    :math:`1 / (1 - \gamma)` pseudo-observations: the memory is about that many updates, and
    the half-life :math:`h` in updates corresponds to :math:`\gamma = 2^{-1/h}`.

    The clock is the number of updates, not wall-clock or event time: the decay is a pure
    function of the order in which outcomes are folded, which the log fixes, so replay is
    exact; event times can arrive out of order (late outcomes), which would make a time-based
    decay depend on a watermark. As in the paper, one update is one observed reward, so under
    bursty traffic the memory is measured in outcomes, not in seconds.

    Rewards, the fractional update and the Monte-Carlo propensity are as in
    :class:`~actors.policies.beta_thompson.BetaThompson`. With :math:`\gamma = 1` this is
    exactly that policy.

    Parameters
    ----------
    arms
        Arm names, in the order that breaks ties.
    gamma
        The discount per update, in (0, 1]; 0.99 remembers about the last 100 outcomes.
    alpha0, beta0
        The prior every arm starts from and decays back to.
    propensity_samples
        The Monte-Carlo draws behind the reported propensity.

    References
    ----------
    V. Raj and S. Kalyani (2017), "Taming non-stationary bandits: a Bayesian approach",
    arXiv:1707.09727.

    Examples
    --------
    >>> policy = DiscountedThompson(["a", "b"], gamma=0.5)
    >>> policy.update("a", 1.0, None, at=0.0)
    >>> policy.update("b", 0.0, None, at=1.0)
    >>> policy.state()["successes"], policy.state()["failures"]
    ([0.5, 0.0], [0.0, 1.0])
    """

    name: ClassVar[str] = "thompson_discounted"

    def __init__(
        self,
        arms: Sequence[str],
        gamma: float = 0.99,
        alpha0: float = 1.0,
        beta0: float = 1.0,
        propensity_samples: int = 256,
    ) -> None:
        super().__init__(arms, alpha0=alpha0, beta0=beta0, propensity_samples=propensity_samples)
        self.gamma = number("gamma", gamma)
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma!r}")

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i, r = self.arm_index(arm), self.check_reward(reward)
        successes, failures = self.model["successes"], self.model["failures"]
        successes *= self.gamma
        failures *= self.gamma
        successes[i] += r
        failures[i] += 1.0 - r
