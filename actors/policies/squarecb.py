"""SquareCB: inverse-gap weighting over a regression oracle (Foster & Rakhlin 2020).

"Beyond UCB: Optimal and Efficient Contextual Bandits with Regression Oracles" (ICML 2020)
reduces a contextual bandit to online regression. Given predicted rewards ``y_a(x)`` for
the K eligible arms and the greedy arm ``b = argmax_a y_a(x)``, a decision plays

    p_a = 1 / (K + gamma * (y_b - y_a))    for every a != b,     p_b = 1 - sum_{a != b} p_a

so an arm is tried in inverse proportion to how much worse it looks: a near-tie is explored
almost uniformly, a clearly worse arm rarely, and the exploration shrinks as ``gamma`` grows.
``gamma = gamma_scale * t ** gamma_exponent`` with ``t`` the number of outcomes the policy has
folded, the schedule of Vowpal Wabbit's ``--squarecb`` (its defaults 10 and 0.5 are ours); the
paper's ``gamma ~ sqrt(K t / log)`` gives ``O(sqrt(K T log |F|))`` regret.

The regression oracle is the per-arm ridge regression of :mod:`actors.policies.linucb`
(``theta_a = A_a^{-1} b_a``, Sherman-Morrison updates): the exact least-squares fit where VW
runs online gradient descent, so the same data gives the same model whatever its order.

Why a second linear policy beside LinUCB: LinUCB is deterministic (every propensity is 1),
so its logs support no off-policy evaluation of another policy; SquareCB's choice is random
with a propensity known exactly, not estimated as linear Thompson sampling's is. It also
explores by the gap in predicted reward rather than by the width of a confidence ellipsoid,
which spends fewer tries on arms that are confidently worse in dimensions nothing is known in.

Raised exploration (after a drift alarm) divides ``gamma`` by the factor. A decision draws
one uniform number from its generator (none when only one arm is eligible).

Example::

    >>> import numpy as np
    >>> policy = SquareCB(["small", "large"], dim=2)
    >>> for _ in range(50):
    ...     policy.update("large", 1.0, np.array([1.0, 0.0]), at=0.0)
    ...     policy.update("small", 0.0, np.array([1.0, 0.0]), at=0.0)
    >>> policy.choose(["small", "large"], np.array([1.0, 0.0]), np.random.default_rng(0)).arm
    'large'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import non_negative
from actors.policies.base import Choice, Contexts, FloatArray, Rngs, check_rngs
from actors.policies.linucb import LinearPolicy


class SquareCB(LinearPolicy):
    """Inverse-gap-weighted exploration over disjoint per-arm ridge regressions.

    Parameters: ``dim`` (length of ``x``), ``gamma_scale`` and ``gamma_exponent`` (the
    learning-rate schedule ``gamma = gamma_scale * t ** gamma_exponent``, defaults 10 and 0.5
    as in Vowpal Wabbit), ``ridge`` (``lambda``, default 1.0), ``refresh_every`` (updates of an
    arm between re-inversions of its ``A``).
    """

    name: ClassVar[str] = "squarecb"

    def __init__(
        self,
        arms: Sequence[str],
        *,
        dim: int,
        gamma_scale: float = 10.0,
        gamma_exponent: float = 0.5,
        ridge: float = 1.0,
        refresh_every: int | None = 1000,
    ) -> None:
        super().__init__(arms, dim=dim, ridge=ridge, refresh_every=refresh_every)
        self.gamma_scale = non_negative("gamma_scale", gamma_scale)
        self.gamma_exponent = non_negative("gamma_exponent", gamma_exponent)

    @property
    def gamma(self) -> float:
        """The current ``gamma``: the schedule at the number of folded outcomes, divided by
        the exploration factor."""
        t = sum(self.model.updates)
        return float(self.gamma_scale * float(t) ** self.gamma_exponent / self.exploration)

    def probabilities(self, eligible: Sequence[str], x: np.ndarray) -> dict[str, float]:
        """The probability of each eligible arm for one context ``x`` (for audit and tests)."""
        rows, take = self._eligible_rows(eligible)
        p = self._probabilities(take, self._contexts(self._context(x)[None, :]))[0]
        return {self.arms[row]: float(q) for row, q in zip(rows.tolist(), p, strict=True)}

    def choose_batch(self, eligible: Sequence[str], X: Contexts, rng: Rngs) -> list[Choice]:
        rows, take = self._eligible_rows(eligible)
        contexts = self._contexts(X)
        n = len(contexts)
        check_rngs(rng, n)
        if len(rows) == 1:
            return [Choice(self.arms[rows[0]], 1.0)] * n
        p = self._probabilities(take, contexts)
        draws = self._uniforms(rng, n)
        cumulative = np.cumsum(p, axis=1)
        # The last column is 1 up to rounding; a draw at or above it takes the last arm.
        picks = np.minimum((cumulative <= draws[:, None]).sum(axis=1), len(rows) - 1)
        names = [self.arms[row] for row in rows.tolist()]
        chosen = p[np.arange(n), picks]
        return [Choice(names[j], q) for j, q in zip(picks.tolist(), chosen.tolist(), strict=True)]

    def _probabilities(self, take: slice | np.ndarray, contexts: FloatArray) -> FloatArray:
        """Row ``i``: the inverse-gap weights of the eligible arms for context ``i``."""
        means, _ = self.model.moments(take, contexts)
        k = means.shape[1]
        best = means.argmax(axis=1)
        gaps = means[np.arange(len(means)), best][:, None] - means
        p: FloatArray = 1.0 / (k + self.gamma * gaps)
        p[np.arange(len(means)), best] = 0.0
        p[np.arange(len(means)), best] = 1.0 - p.sum(axis=1)
        return p

    @staticmethod
    def _uniforms(rng: Rngs, n: int) -> FloatArray:
        if isinstance(rng, np.random.Generator):
            return rng.random(n)
        return np.array([generator.random() for generator in rng])
