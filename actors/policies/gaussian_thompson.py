"""Thompson sampling with a Normal-Inverse-Gamma model, for continuous rewards."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from actors.policies.base import Choice, Policy

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


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
    reward_bounds: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    """Rewards ``update`` accepts (finite ones); anything else raises ``ValueError``."""

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
        self.mu0 = float(mu0)
        if not math.isfinite(self.mu0):
            raise ValueError(f"mu0 must be finite, got {mu0!r}")
        self.kappa0 = _positive("kappa0", kappa0)
        self.a0 = _positive("a0", a0)
        self.b0 = _positive("b0", b0)
        self.propensity_samples = operator.index(propensity_samples)
        if self.propensity_samples < 1:
            raise ValueError("propensity_samples must be at least 1")
        self._index = {arm: i for i, arm in enumerate(self.arms)}
        n = len(self.arms)
        self._mu: FloatArray = np.full(n, self.mu0)
        self._kappa: FloatArray = np.full(n, self.kappa0)
        self._a: FloatArray = np.full(n, self.a0)
        self._b: FloatArray = np.full(n, self.b0)

    def params(self) -> dict[str, Any]:
        """The constructor arguments besides ``arms``."""
        return {
            "mu0": self.mu0,
            "kappa0": self.kappa0,
            "a0": self.a0,
            "b0": self.b0,
            "propensity_samples": self.propensity_samples,
        }

    def add_arm(self, arm: str) -> None:
        if arm in self._index:
            raise ValueError(f"arm {arm!r} already exists")
        self.arms.append(arm)
        self._index[arm] = len(self.arms) - 1
        self._mu = np.append(self._mu, self.mu0)
        self._kappa = np.append(self._kappa, self.kappa0)
        self._a = np.append(self._a, self.a0)
        self._b = np.append(self._b, self.b0)

    def retire_arm(self, arm: str) -> None:
        i = self._arm_index(arm)
        if len(self.arms) == 1:
            raise ValueError("cannot retire the last arm")
        del self.arms[i]
        self._index = {name: j for j, name in enumerate(self.arms)}
        self._mu = np.delete(self._mu, i)
        self._kappa = np.delete(self._kappa, i)
        self._a = np.delete(self._a, i)
        self._b = np.delete(self._b, i)

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        self._check_eligible(eligible)
        idx: IndexArray = np.array(sorted({self._index[arm] for arm in eligible}), dtype=np.intp)
        if idx.size == 1:
            return Choice(self.arms[idx[0]], 1.0)
        mu, kappa, a, scale = self._mu[idx], self._kappa[idx], self._a[idx], 1.0 / self._b[idx]
        # Row 0 is the Thompson draw that decides; rows 1..M estimate its propensity.
        shape = (self.propensity_samples + 1, idx.size)
        tau = rng.gamma(a, scale, size=shape)
        theta = mu + rng.standard_normal(shape) / np.sqrt(kappa * tau)
        winners = theta.argmax(axis=1)
        j = int(winners[0])
        return Choice(self.arms[idx[j]], int(np.count_nonzero(winners == j)) / winners.size)

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        i = self._arm_index(arm)
        r = float(reward)
        if not math.isfinite(r):
            raise ValueError(f"reward must be finite, got {reward!r}")
        kappa, mu = self._kappa[i], self._mu[i]
        self._b[i] += kappa * (r - mu) ** 2 / (2.0 * (kappa + 1.0))
        self._mu[i] = (kappa * mu + r) / (kappa + 1.0)
        self._kappa[i] = kappa + 1.0
        self._a[i] += 0.5

    def state(self) -> dict[str, Any]:
        return {
            "arms": list(self.arms),
            "params": self.params(),
            "mu": self._mu.tolist(),
            "kappa": self._kappa.tolist(),
            "a": self._a.tolist(),
            "b": self._b.tolist(),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        policy = cls(state["arms"], **state["params"])
        n = len(policy.arms)
        policy._mu = _per_arm(state["mu"], n)
        policy._kappa = _per_arm(state["kappa"], n)
        policy._a = _per_arm(state["a"], n)
        policy._b = _per_arm(state["b"], n)
        return policy

    def _arm_index(self, arm: str) -> int:
        try:
            return self._index[arm]
        except KeyError:
            raise ValueError(f"unknown arm {arm!r}") from None


def _positive(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be finite and positive, got {value!r}")
    return v


def _per_arm(values: Sequence[float], n_arms: int) -> FloatArray:
    array = np.array(values, dtype=np.float64)
    if array.shape != (n_arms,):
        raise ValueError(f"expected {n_arms} values, one per arm, got shape {array.shape}")
    return array
