"""Thompson sampling with linear payoffs (Agrawal & Goyal 2013), one model per arm.

Each arm keeps the ridge regression of :mod:`actors.policies.linucb` (``A_a = lambda * I +
sum x x^T``, ``b_a = sum r x``, ``mu_a = A_a^{-1} b_a``, ``A_a^{-1}`` kept by Sherman-Morrison
and refreshed every ``refresh_every`` updates). A decision samples
``theta_a ~ N(mu_a, v^2 A_a^{-1})`` for every eligible arm and plays ``argmax_a theta_a . x``.
Per-arm models are the paper's shared-parameter model with a block of features per arm.

Sampling the score, not the parameter: the arms are independent and a decision only reads
``theta_a . x``, which is exactly ``N(mu_a . x, v^2 x^T A_a^{-1} x)``. Drawing that one
number per arm gives the same distribution over choices as drawing the d-dimensional
``theta_a`` through a Cholesky factor of ``A_a^{-1}`` (or of ``A_a`` and a triangular solve),
without any factorisation: a decision costs what a LinUCB decision costs plus K normal draws,
and cannot fail on a matrix that rounding left barely positive definite.

Propensity: the probability that the chosen arm is the argmax has no closed form for K > 2,
so it is estimated from ``propensity_samples`` (S) further draws of all K scores from the same
generator: ``p = max(hits, 1) / S``, where ``hits`` counts the draws in which the chosen arm
wins. The decision's own draw is not counted (it is conditioned on the choice and would bias
the estimate upward). An arm that wins none of the further draws gets ``1 / S``, the
resolution of the estimate, so a propensity is never 0. The standard error is
``sqrt(p (1 - p) / S)``, at most 0.044 for S = 128. With one eligible arm nothing is drawn and
the propensity is 1.0.

``v`` scales the posterior width, in units of the reward noise; the paper's theoretical value
(``R sqrt(24 d ln(1/delta) / epsilon)``) explores far too much in practice.

Example::

    >>> import numpy as np
    >>> policy = LinearThompson(["small", "large"], dim=2, v=0.1)
    >>> for _ in range(20):
    ...     policy.update("large", 1.0, np.array([1.0, 0.0]), at=0.0)
    >>> policy.choose(["small", "large"], np.array([1.0, 0.0]), np.random.default_rng(0)).arm
    'large'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from actors.parameters import non_negative
from actors.policies.base import Choice, Contexts, FloatArray, Rngs, at_least_one, check_rngs
from actors.policies.linucb import LinearPolicy


class LinearThompson(LinearPolicy):
    """Linear Thompson sampling over disjoint per-arm ridge regressions.

    Parameters: ``dim`` (length of ``x``), ``v`` (posterior scale, default 1.0), ``ridge``
    (``lambda``, default 1.0), ``propensity_samples`` (draws for the propensity estimate,
    default 128), ``refresh_every`` (updates of an arm between re-inversions of its ``A``).
    """

    name: ClassVar[str] = "linear_thompson"

    def __init__(
        self,
        arms: Sequence[str],
        *,
        dim: int,
        v: float = 1.0,
        ridge: float = 1.0,
        propensity_samples: int = 128,
        refresh_every: int | None = 1000,
    ) -> None:
        super().__init__(arms, dim=dim, ridge=ridge, refresh_every=refresh_every)
        self.v = non_negative("v", v)
        self.propensity_samples = at_least_one("propensity_samples", propensity_samples)

    def choose_batch(self, eligible: Sequence[str], X: Contexts, rng: Rngs) -> list[Choice]:
        rows, take = self._eligible_rows(eligible)
        contexts = self._contexts(X)
        n, k, s = len(contexts), len(rows), self.propensity_samples
        check_rngs(rng, n)
        if k == 1:
            return [Choice(self.arms[rows[0]], 1.0)] * n
        means, widths = self.model.moments(take, contexts)
        scale = np.sqrt(widths)
        scale *= self.v * self.exploration
        # (n, 1 + S, K) scores: draw 0 decides, draws 1..S estimate the propensity.
        scores = self._normals(rng, (n, 1 + s, k))
        scores *= scale[:, None, :]
        scores += means[:, None, :]
        winners = scores.argmax(axis=2)
        hits = np.count_nonzero(winners[:, 1:] == winners[:, :1], axis=1)
        propensities = np.maximum(hits, 1) / s
        names = [self.arms[row] for row in rows.tolist()]
        return [
            Choice(names[j], p)
            for j, p in zip(winners[:, 0].tolist(), propensities.tolist(), strict=True)
        ]

    @staticmethod
    def _normals(rng: Rngs, shape: tuple[int, int, int]) -> FloatArray:
        if isinstance(rng, np.random.Generator):
            return rng.standard_normal(shape)
        return np.stack([generator.standard_normal(shape[1:]) for generator in rng])
