"""Softmax (Boltzmann) exploration: play arms with probability growing with their mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import non_negative, positive
from actors.policies.base import Choice, FloatArray, IndexArray
from actors.policies.sample_average import SampleAveragePolicy


class Softmax(SampleAveragePolicy):
    r"""Boltzmann exploration with an optional :math:`1/t` cooling of the temperature.

    ``choose`` plays eligible arm :math:`k` with probability

    .. math::
        p_k = \frac{\exp\left((\bar r_k - \max_i \bar r_i) / \tau_t\right)}
                   {\sum_j \exp\left((\bar r_j - \max_i \bar r_i) / \tau_t\right)},
        \qquad \tau_t = \max\left(\tau_{\min},\ \frac{\tau_0}{1 + d\,t}\right),

    where :math:`\bar r_k` is the mean reward of arm :math:`k` and :math:`t` the number of
    updates folded so far (in the state, so a replay reproduces it). Subtracting the maximum
    leaves the distribution unchanged and keeps every exponent :math:`\le 0`, so nothing
    overflows. An untried arm counts as :math:`+\infty`: while any eligible arm is untried,
    the limit of the formula applies and the untried arms share the probability equally.

    The propensity is exact, :math:`p_j` for the chosen arm :math:`j`; the arm is drawn by
    inverting the cumulative distribution with one uniform draw, so an arm whose
    probability underflows to zero is never chosen.

    The temperature is on the scale of the rewards: a gap of :math:`\tau` in mean reward is a
    factor :math:`e` in probability. The defaults suit rewards on a [0, 1] scale: nearly
    uniform at first (:math:`\tau_0 = 0.5`), cooling to :math:`\tau_{\min} = 0.05` after 900
    updates. A constant temperature has linear regret, and a small one is greedy in disguise:
    on noisy rewards an arm that looks bad early is almost never tried again. Cesa-Bianchi et
    al. (2017) show that with any monotone temperature schedule Boltzmann exploration can be
    badly suboptimal; the cooling here is a pragmatic knob, not a guarantee.

    Parameters
    ----------
    arms
        Arm names, in the order used to break ties of the inverse-CDF draw.
    temperature
        :math:`\tau_0 > 0`, the temperature before any update.
    decay
        :math:`d \ge 0`, how fast the temperature falls with the number of updates.
    min_temperature
        :math:`\tau_{\min} \ge 0`, the floor the temperature never falls below.

    References
    ----------
    R. S. Sutton and A. G. Barto (1998), *Reinforcement Learning: An Introduction*,
    section 2.3 (softmax action selection).
    N. Cesa-Bianchi, C. Gentile, G. Lugosi and G. Neu (2017), "Boltzmann exploration done
    right", *NeurIPS*.

    Examples
    --------
    >>> import numpy as np
    >>> policy = Softmax(["a", "b"], temperature=0.5, decay=0.0)
    >>> policy.update("a", 1.0, None, at=0.0)
    >>> policy.update("b", 0.0, None, at=0.0)
    >>> policy.choose(["a", "b"], None, np.random.default_rng(0))
    Choice(arm='a', propensity=0.8807970779778823)
    """

    name: ClassVar[str] = "softmax"

    def __init__(
        self,
        arms: Sequence[str],
        temperature: float = 0.5,
        decay: float = 0.01,
        min_temperature: float = 0.05,
    ) -> None:
        super().__init__(arms)
        self.temperature = positive("temperature", temperature)
        self.decay = non_negative("decay", decay)
        self.min_temperature = non_negative("min_temperature", min_temperature)

    @property
    def current_temperature(self) -> float:
        """:math:`\\tau_t`, the temperature of the next decision."""
        scheduled = self.temperature / (1.0 + self.decay * self._updates)
        return max(self.min_temperature, scheduled) * self.exploration

    def probabilities(self, eligible: Sequence[str]) -> dict[str, float]:
        """The distribution ``choose`` draws from, arm by arm (in arm order)."""
        idx = self.eligible_indices(eligible)
        return dict(
            zip([self.arms[i] for i in idx], self._probabilities(idx).tolist(), strict=True)
        )

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        idx = self.eligible_indices(eligible)
        if idx.size == 1:
            return Choice(self.arms[idx[0]], 1.0)
        p = self._probabilities(idx)
        cdf = np.cumsum(p)
        cdf /= cdf[-1]  # the last bound is exactly 1.0, so every u in [0, 1) lands in an arm
        j = int(np.searchsorted(cdf, rng.random(), side="right"))
        return Choice(self.arms[idx[j]], float(p[j]))

    def _probabilities(self, idx: IndexArray) -> FloatArray:
        counts = self.model["counts"][idx]
        untried = counts == 0
        if untried.any():
            uniform: FloatArray = untried / np.count_nonzero(untried)
            return uniform
        means = self.model["sums"][idx] / counts
        weights: FloatArray = np.exp((means - means.max()) / self.current_temperature)
        weights /= weights.sum()
        return weights
