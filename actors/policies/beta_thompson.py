"""Thompson sampling with a Beta-Bernoulli model, for rewards in [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import positive
from actors.policies.base import ArmArrays, Choice, Policy, at_least_one


class BetaThompson(Policy):
    r"""Beta-Bernoulli Thompson sampling.

    Arm :math:`k` has the posterior :math:`\mathrm{Beta}(\alpha_0 + S_k,\ \beta_0 + F_k)` with
    :math:`S_k = \sum r` and :math:`F_k = \sum (1 - r)` over the rewards :math:`r \in [0, 1]`
    folded for it. ``choose`` draws :math:`\theta_k \sim \mathrm{Beta}(\alpha_0 + S_k,
    \beta_0 + F_k)` for every eligible arm and plays :math:`\arg\max_k \theta_k` (Thompson 1933;
    Chapelle & Li 2011).

    Rewards strictly between 0 and 1 are folded as *fractional* successes
    (:math:`\alpha \mathrel{+}= r,\ \beta \mathrel{+}= 1 - r`). Agrawal & Goyal (2012) instead
    turn :math:`r` into a Bernoulli trial with success probability :math:`r`, which makes their
    regret bound hold for any rewards in [0, 1]. Both grow :math:`\alpha + \beta` by one per
    reward and give the same expected posterior mean; the fractional update is the common
    heuristic and is not covered by their proof. It is used here because the trial needs
    randomness inside ``update``, and an ``update`` must be a deterministic function of the
    log so that replays reproduce the state byte for byte.

    The propensity of the chosen arm :math:`j` is estimated by Monte Carlo: together with the
    draw :math:`\theta^{(0)}` that makes the choice, ``propensity_samples`` :math:`= M`
    further vectors :math:`\theta^{(1..M)}` are drawn from the same generator (in one
    vectorised call, :math:`\theta^{(0)}` first) and

    .. math:: \hat p_j = \frac{\#\{m \in 0..M : \arg\max_k \theta^{(m)}_k = j\}}{M + 1},

    the frequency of :math:`j` among the :math:`M + 1` draws including the one that chose it.
    It is never 0, never above 1, and its bias is at most :math:`1 / (M + 1)`; its standard
    error is :math:`\sqrt{p (1 - p) / (M + 1)}` (about 0.03 at :math:`p = 1/2`, :math:`M = 256`).
    With a single eligible arm the propensity is exactly 1 and no sample is drawn.

    Parameters
    ----------
    arms
        Arm names, in the order that breaks ties.
    alpha0, beta0
        The prior :math:`\mathrm{Beta}(\alpha_0, \beta_0)` of every arm, also of arms added
        later (cold start). ``(1, 1)`` is uniform.
    propensity_samples
        :math:`M`, the Monte-Carlo draws behind the reported propensity.

    References
    ----------
    W. R. Thompson (1933), "On the likelihood that one unknown probability exceeds another in
    view of the evidence of two samples", *Biometrika* 25(3/4).
    O. Chapelle and L. Li (2011), "An empirical evaluation of Thompson sampling", *NIPS*.
    S. Agrawal and N. Goyal (2012), "Analysis of Thompson sampling for the multi-armed bandit
    problem", *COLT*.

    Examples
    --------
    >>> from actors.policies.base import decision_rng
    >>> policy = BetaThompson(["small", "large"])
    >>> for _ in range(20):
    ...     policy.update("large", 1.0, None, at=0.0)
    ...     policy.update("small", 0.0, None, at=0.0)
    >>> policy.choose(["small", "large"], None, decision_rng(7, "d-1"))
    Choice(arm='large', propensity=1.0)
    """

    name: ClassVar[str] = "thompson_beta"
    reward_bounds: ClassVar[tuple[float, float]] = (0.0, 1.0)
    model: ArmArrays

    def __init__(
        self,
        arms: Sequence[str],
        alpha0: float = 1.0,
        beta0: float = 1.0,
        propensity_samples: int = 256,
    ) -> None:
        super().__init__(arms)
        self.alpha0 = positive("alpha0", alpha0)
        self.beta0 = positive("beta0", beta0)
        self.propensity_samples = at_least_one("propensity_samples", propensity_samples)
        self.model = ArmArrays(len(self.arms), successes=0.0, failures=0.0)

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        idx = self.eligible_indices(eligible)
        if idx.size == 1:
            return Choice(self.arms[idx[0]], 1.0)
        a = self.alpha0 + self.model["successes"][idx]
        b = self.beta0 + self.model["failures"][idx]
        if self.exploration != 1.0:  # same means, standard deviations ~ exploration times wider
            a, b = a / self.exploration**2, b / self.exploration**2
        # Row 0 is the Thompson draw that decides; rows 1..M estimate its propensity.
        winners = rng.beta(a, b, size=(self.propensity_samples + 1, idx.size)).argmax(axis=1)
        j = int(winners[0])
        return Choice(self.arms[idx[j]], int(np.count_nonzero(winners == j)) / winners.size)

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i, r = self.arm_index(arm), self.check_reward(reward)
        self.model["successes"][i] += r
        self.model["failures"][i] += 1.0 - r
