"""Thompson sampling with a Normal-Inverse-Gamma model, for continuous rewards."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import number, positive
from actors.policies.base import ArmArrays, Choice, Policy, at_least_one


class GaussianThompson(Policy):
    r"""Thompson sampling for Gaussian rewards of unknown mean and unknown variance.

    Arm :math:`k` has the conjugate Normal-Inverse-Gamma posterior
    :math:`\sigma_k^2 \sim \mathrm{IG}(a_k, b_k)`,
    :math:`\mu_k \mid \sigma_k^2 \sim \mathcal N(m_k, \sigma_k^2 / \kappa_k)`, starting from
    the prior :math:`(m_0, \kappa_0, a_0, b_0)`. One reward :math:`r` updates it by

    .. math::
        \kappa' = \kappa + 1,\quad m' = \frac{\kappa m + r}{\kappa + 1},\quad
        a' = a + \tfrac12,\quad b' = b + \frac{\kappa (r - m)^2}{2 (\kappa + 1)}

    (Murphy 2007, the Normal-Inverse-Gamma update with :math:`n = 1`). ``choose`` draws
    :math:`\tau_k \sim \mathrm{Gamma}(a_k, \text{rate } b_k)` and
    :math:`\theta_k = m_k + z_k / \sqrt{\kappa_k \tau_k}` with :math:`z_k \sim \mathcal N(0, 1)`,
    a draw of the mean from its Student-t marginal, and plays :math:`\arg\max_k \theta_k`.

    The variance is learnt rather than fixed because reward scales differ between
    experiments (quality scores, negative costs, latencies). Honda & Takemura (2014) show
    that for this model the prior decides whether Thompson sampling is asymptotically
    optimal: among priors :math:`\propto (\sigma^2)^{-1-\alpha}` only :math:`\alpha < 0`
    (e.g. uniform) is, while Jeffreys' and the reference prior under-explore, because the
    posterior must keep enough mass on large variances. Those priors are improper and need
    each arm played first; a proper prior is used here so that an untried arm can be sampled
    (cold start), and a small :math:`a_0` keeps its variance tail heavy. Set :math:`m_0` and
    :math:`b_0 / a_0` to the scale of the rewards.

    The propensity is the Monte-Carlo estimate of
    :class:`~actors.policies.beta_thompson.BetaThompson`:
    :math:`\#\{m \in 0..M : \arg\max_k \theta^{(m)}_k = j\} / (M + 1)` over the deciding
    draw :math:`\theta^{(0)}` and :math:`M` = ``propensity_samples`` further draws from the
    same generator (one vectorised call); exactly 1 with a single eligible arm.

    Parameters
    ----------
    arms
        Arm names, in the order that breaks ties.
    mu0, kappa0
        Prior mean of every arm and its weight in pseudo-observations.
    a0, b0
        Prior shape and rate of the precision :math:`1 / \sigma^2`.
    propensity_samples
        :math:`M`, the Monte-Carlo draws behind the reported propensity.

    References
    ----------
    K. P. Murphy (2007), "Conjugate Bayesian analysis of the Gaussian distribution",
    technical note.
    J. Honda and A. Takemura (2014), "Optimality of Thompson sampling for Gaussian bandits
    depends on priors", *AISTATS*.

    Examples
    --------
    >>> from actors.policies.base import decision_rng
    >>> policy = GaussianThompson(["cheap", "good"])
    >>> for r in (2.0, 2.5, 3.0) * 4:
    ...     policy.update("good", r, None, at=0.0)
    ...     policy.update("cheap", r - 2.0, None, at=0.0)
    >>> policy.choose(["cheap", "good"], None, decision_rng(7, "d-1")).arm
    'good'
    """

    name: ClassVar[str] = "thompson_gaussian"
    model: ArmArrays

    def __init__(
        self,
        arms: Sequence[str],
        mu0: float = 0.0,
        kappa0: float = 1.0,
        a0: float = 1.0,
        b0: float = 1.0,
        propensity_samples: int = 256,
    ) -> None:
        super().__init__(arms)
        self.mu0 = number("mu0", mu0)
        if not math.isfinite(self.mu0):
            raise ValueError(f"mu0 must be finite, got {mu0!r}")
        self.kappa0 = positive("kappa0", kappa0)
        self.a0 = positive("a0", a0)
        self.b0 = positive("b0", b0)
        self.propensity_samples = at_least_one("propensity_samples", propensity_samples)
        self.model = ArmArrays(len(self.arms), mu=self.mu0, kappa=self.kappa0, a=self.a0, b=self.b0)

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        idx = self.eligible_indices(eligible)
        if idx.size == 1:
            return Choice(self.arms[idx[0]], 1.0)
        mu, kappa, a, b = (self.model[name][idx] for name in ("mu", "kappa", "a", "b"))
        kappa = kappa / self.exploration**2  # the mean's spread, exploration times wider
        # Row 0 is the Thompson draw that decides; rows 1..M estimate its propensity.
        shape = (self.propensity_samples + 1, idx.size)
        tau = rng.gamma(a, 1.0 / b, size=shape)
        theta = mu + rng.standard_normal(shape) / np.sqrt(kappa * tau)
        winners = theta.argmax(axis=1)
        j = int(winners[0])
        return Choice(self.arms[idx[j]], int(np.count_nonzero(winners == j)) / winners.size)

    def down_weight_arm(self, arm: str, factor: float) -> None:
        """A power prior: the ``n`` observations count as ``factor * n`` with the same sample
        mean, so the posterior mean moves back towards ``mu0`` only as far as the lost
        evidence says, and ``a``, ``b`` keep ``factor`` of what the data added."""
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
        i = self.arm_index(arm)
        mu, kappa, a, b = (self.model[name] for name in ("mu", "kappa", "a", "b"))
        n = kappa[i] - self.kappa0
        if n <= 0.0:
            return
        sample_mean = (kappa[i] * mu[i] - self.kappa0 * self.mu0) / n
        kept = factor * n
        kappa[i] = self.kappa0 + kept
        mu[i] = (self.kappa0 * self.mu0 + kept * sample_mean) / kappa[i]
        a[i] = self.a0 + factor * (a[i] - self.a0)
        b[i] = self.b0 + factor * (b[i] - self.b0)

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i, r = self.arm_index(arm), self.check_reward(reward)
        mu, kappa, a, b = (self.model[name] for name in ("mu", "kappa", "a", "b"))
        k, m = kappa[i], mu[i]
        b[i] += k * (r - m) ** 2 / (2.0 * (k + 1.0))
        mu[i] = (k * m + r) / (k + 1.0)
        kappa[i] = k + 1.0
        a[i] += 0.5
