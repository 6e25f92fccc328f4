"""LinUCB: disjoint linear upper confidence bounds (Li, Chu, Langford & Schapire 2010, Alg. 1).

Each arm ``a`` keeps a ridge regression of reward on the context ``x``::

    A_a = lambda * I + sum x x^T        b_a = sum r x        theta_a = A_a^{-1} b_a

and the policy plays the arm with the largest upper confidence bound::

    score_a(x) = theta_a . x + alpha * sqrt(x^T A_a^{-1} x)

Ties go to the arm listed first in ``arms``, so a choice is a function of the state and ``x``
only (propensity 1.0).

``A_a^{-1}`` is kept up to date by the Sherman-Morrison rank-one formula, O(d^2) per update
instead of the O(d^3) inversion MABWiser does on every fit::

    (A + x x^T)^{-1} = A^{-1} - (A^{-1} x)(A^{-1} x)^T / (1 + x^T A^{-1} x)

Numerical drift: every rank-one step rounds, and because ``A`` only grows, the step subtracts
nearly equal numbers in the directions that carry most data, so the error of the kept inverse
grows slowly (roughly with the number of updates times machine epsilon times the condition of
``A``). ``A_a`` itself is stored too, and every ``refresh_every`` updates of an arm its inverse
is recomputed from it. That depends only on the arm's update count, so replay is unaffected.
The kept inverse stays exactly symmetric: the correction is an outer product of one vector
with itself divided by a scalar, and a refresh symmetrises the computed inverse.

Identical histories give identical bytes on the same numpy build and CPU. Across BLAS builds
the last bits of a matrix product can differ, so compare digests on one machine.

:class:`DisjointRidge` (the per-arm statistics) and :class:`LinearPolicy` (the policy contract
around them) are shared with :mod:`actors.policies.linear_thompson`.

Example::

    >>> import numpy as np
    >>> policy = LinUCB(["small", "large"], dim=2)
    >>> policy.update("large", 1.0, np.array([1.0, 0.0]), at=0.0)
    >>> policy.choose(["small", "large"], np.array([1.0, 0.0]), np.random.default_rng(0))
    Choice(arm='large', propensity=1.0)
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import numpy as np

from actors.parameters import non_negative, positive
from actors.policies.base import (
    Choice,
    Contexts,
    FloatArray,
    IndexArray,
    PerArm,
    Policy,
    Rngs,
    check_rngs,
    pack_array,
    unpack_array,
)


class ArmModel(NamedTuple):
    """A copy of one arm's ridge statistics (for inspection and tests)."""

    gram: FloatArray
    """``A_a = lambda * I + sum x x^T``."""
    gram_inverse: FloatArray
    """``A_a^{-1}`` as kept by Sherman-Morrison (and refreshed)."""
    b: FloatArray
    theta: FloatArray
    updates: int


class DisjointRidge(PerArm):
    """One ridge regression per arm, stacked so a decision scores every arm at once.

    Row ``k`` of every array belongs to the ``k``-th arm of the owning policy. In the policy's
    state they are stored under the one key ``model`` (``theta`` is recomputed on load).

    ``theta_a = A_a^{-1} b_a`` is solved when it is read, not at every update: the fold of a
    burst of outcomes then pays one product per arm instead of one per outcome. The product is
    the same one on the same ``A_a^{-1}`` and ``b_a`` whenever it is computed, so ``theta`` is
    bit for bit what eager solving gave.
    """

    def __init__(self, n_arms: int, dim: int, ridge: float, refresh_every: int | None) -> None:
        self.dim = dim
        self.ridge = ridge
        self.refresh_every = refresh_every
        self.gram: FloatArray = np.zeros((0, dim, dim))
        self.gram_inverse: FloatArray = np.zeros((0, dim, dim))
        self.b: FloatArray = np.zeros((0, dim))
        self._theta: FloatArray = np.zeros((0, dim))
        self._stale: set[int] = set()
        """Rows whose ``theta`` is to be solved again before it is read."""
        self.updates: list[int] = []
        for _ in range(n_arms):
            self.append()

    def append(self) -> None:
        """Add a row at the prior: ``A = lambda * I``, ``b = 0``."""
        eye = np.eye(self.dim)
        theta = self.theta
        self.gram = np.concatenate([self.gram, (self.ridge * eye)[None]])
        self.gram_inverse = np.concatenate([self.gram_inverse, (eye / self.ridge)[None]])
        self.b = np.concatenate([self.b, np.zeros((1, self.dim))])
        self.theta = np.concatenate([theta, np.zeros((1, self.dim))])
        self.updates.append(0)

    def delete(self, k: int) -> None:
        theta = self.theta  # solved while the rows still line up
        self.gram = np.delete(self.gram, k, axis=0)
        self.gram_inverse = np.delete(self.gram_inverse, k, axis=0)
        self.b = np.delete(self.b, k, axis=0)
        self.theta = np.delete(theta, k, axis=0)
        del self.updates[k]

    def reset(self, k: int) -> None:
        eye = np.eye(self.dim)
        self.gram[k] = self.ridge * eye
        self.gram_inverse[k] = eye / self.ridge
        self.b[k] = 0.0
        self.theta[k] = 0.0
        self.updates[k] = 0

    def discount(self, k: int, factor: float) -> None:
        """Scale the data part of ``A`` (``A - lambda I``) and ``b`` by ``factor``: the same
        ``theta`` with wider confidence, as if each observation weighed ``factor``."""
        ridge = self.ridge * np.eye(self.dim)
        self.gram[k] = ridge + factor * (self.gram[k] - ridge)
        self.b[k] *= factor
        self.refresh(k)

    def update(self, k: int, x: FloatArray, reward: float) -> None:
        """Fold one observation into row ``k`` by Sherman-Morrison; refresh when due.

        ``x`` must be finite; one so large that ``x^T A^{-1} x`` overflows is refused here,
        before anything changes.
        """
        inverse = self.gram_inverse[k]
        u = inverse @ x
        denominator = 1.0 + float(x @ u)
        if not math.isfinite(denominator):
            raise ValueError("the context is too large")
        inverse -= _outer(u, u) / denominator
        self.gram[k] += _outer(x, x)
        self.b[k] += reward * x
        self.updates[k] += 1
        if self.refresh_every and self.updates[k] % self.refresh_every == 0:
            self.refresh(k)
        else:
            self._invalidate(k)

    def refresh(self, k: int) -> None:
        """Recompute row ``k``'s inverse from ``A`` itself, discarding accumulated drift."""
        inverse = np.linalg.inv(self.gram[k])
        self.gram_inverse[k] = (inverse + inverse.T) / 2.0
        self._invalidate(k)

    @property
    def theta(self) -> FloatArray:
        """``A_a^{-1} b_a`` for every row (solved now for the rows updated since last read)."""
        if self._stale:
            for k in self._stale:
                self._theta[k] = self.gram_inverse[k] @ self.b[k]
            self._stale.clear()
        return self._theta

    @theta.setter
    def theta(self, value: FloatArray) -> None:
        self._theta = value
        self._stale.clear()

    def _invalidate(self, k: int) -> None:
        """Row ``k``'s ``A^{-1}`` or ``b`` changed: solve its ``theta`` when next read."""
        self._stale.add(k)

    def moments(self, rows: slice | IndexArray, X: FloatArray) -> tuple[FloatArray, FloatArray]:
        """For every context (row of ``X``, shape (n, d)) and arm in ``rows``: the estimate
        ``theta_a . x`` and the width ``x^T A_a^{-1} x``, each of shape (n, len(rows))."""
        means: FloatArray = X @ self.theta[rows].T
        projected = np.matmul(X, self.gram_inverse[rows])  # (K, n, d): x^T A_a^{-1}
        widths: FloatArray = np.einsum("knd,nd->nk", projected, X)
        np.maximum(widths, 0.0, out=widths)  # rounding can make a tiny width negative
        return means, widths

    def arm(self, k: int) -> ArmModel:
        return ArmModel(
            self.gram[k].copy(),
            self.gram_inverse[k].copy(),
            self.b[k].copy(),
            self.theta[k].copy(),
            self.updates[k],
        )

    def state(self) -> dict[str, Any]:
        model = {
            "gram": pack_array(self.gram),
            "gram_inverse": pack_array(self.gram_inverse),
            "b": pack_array(self.b),
            "updates": list(self.updates),
        }
        return {"model": model}

    def load(self, state: Mapping[str, Any]) -> None:
        """Take the arrays of :meth:`state`; the shapes must match this model's."""
        model = state["model"]
        gram, inverse, b = (
            unpack_array(model[key]).astype(np.float64, copy=False)
            for key in ("gram", "gram_inverse", "b")
        )
        updates = [int(n) for n in model["updates"]]
        k, d = len(self.updates), self.dim
        if gram.shape != (k, d, d) or inverse.shape != (k, d, d) or b.shape != (k, d):
            raise ValueError("ridge state does not match the arms and dimension")
        if len(updates) != k:
            raise ValueError("ridge state does not match the arms")
        self.gram, self.gram_inverse, self.b, self.updates = gram, inverse, b, updates
        self.theta = np.zeros((k, d))
        for row in range(k):
            self._invalidate(row)


class LinearPolicy(Policy):
    """A policy over one :class:`DisjointRidge` per experiment; subclasses say how to choose.

    ``update`` ignores ``at``: the regressions weigh every observation alike.
    """

    contextual: ClassVar[bool] = True
    model: DisjointRidge

    def __init__(
        self,
        arms: Sequence[str],
        *,
        dim: int,
        ridge: float = 1.0,
        refresh_every: int | None = 1000,
    ) -> None:
        super().__init__(arms)
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        self.ridge = positive("ridge", ridge)
        if refresh_every is not None and refresh_every < 1:
            raise ValueError(f"refresh_every must be None or >= 1, got {refresh_every!r}")
        self.dim = dim
        self.refresh_every = refresh_every
        self.model = DisjointRidge(len(self.arms), dim, self.ridge, refresh_every)

    @abc.abstractmethod
    def choose_batch(self, eligible: Sequence[str], X: Contexts, rng: Rngs) -> list[Choice]:
        """One choice per row of ``X`` (shape (n, d)), each as :meth:`choose` would make it,
        computed for the whole batch at once; ``rng`` as in :meth:`Policy.choose_batch`."""

    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        return self.choose_batch(eligible, self._context(x)[None, :], rng)[0]

    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        k = self.arm_index(arm)
        vector = self._context(x)
        if not np.isfinite(vector).all():
            raise ValueError("the context must be finite")
        self.model.update(k, vector, self.check_reward(reward))

    def statistics(self, arm: str) -> ArmModel:
        """A copy of ``arm``'s regression: A, A^{-1}, b, theta and its update count."""
        return self.model.arm(self.arm_index(arm))

    def _eligible_rows(self, eligible: Sequence[str]) -> tuple[IndexArray, slice | IndexArray]:
        """Rows of the eligible arms in arm order, and the index that selects them."""
        rows = self.eligible_indices(eligible)
        return rows, (slice(None) if rows.size == len(self.arms) else rows)

    def _context(self, x: np.ndarray | None) -> FloatArray:
        if x is None:
            raise ValueError(f"{self.name} needs a context vector")
        vector: FloatArray = np.asarray(x, dtype=np.float64)
        if vector.shape != (self.dim,):
            raise ValueError(f"a context must have shape ({self.dim},), got {vector.shape}")
        return vector

    def _contexts(self, X: Contexts) -> FloatArray:
        contexts: FloatArray = np.asarray(X, dtype=np.float64)
        if contexts.ndim != 2 or contexts.shape[1] != self.dim or not len(contexts):
            raise ValueError(f"contexts must have shape (n, {self.dim}), got {contexts.shape}")
        if not np.isfinite(contexts).all():
            raise ValueError("contexts must be finite")
        return contexts


class LinUCB(LinearPolicy):
    """Disjoint LinUCB: play the arm with the largest ``theta_a . x + alpha * ||x||_{A_a^-1}``.

    Parameters: ``dim`` (length of ``x``), ``alpha`` (width of the confidence bound, default
    1.0), ``ridge`` (``lambda``, the prior precision, default 1.0), ``refresh_every`` (updates
    of an arm between re-inversions of its ``A``; None never re-inverts).
    """

    name: ClassVar[str] = "linucb"

    def __init__(
        self,
        arms: Sequence[str],
        *,
        dim: int,
        alpha: float = 1.0,
        ridge: float = 1.0,
        refresh_every: int | None = 1000,
    ) -> None:
        super().__init__(arms, dim=dim, ridge=ridge, refresh_every=refresh_every)
        self.alpha = non_negative("alpha", alpha)

    def choose_batch(self, eligible: Sequence[str], X: Contexts, rng: Rngs) -> list[Choice]:
        """Deterministic: ``rng`` is accepted for the common signature and never drawn from."""
        rows, take = self._eligible_rows(eligible)
        contexts = self._contexts(X)
        check_rngs(rng, len(contexts))
        best = self._upper_bounds(take, contexts).argmax(axis=1)
        options = [Choice(self.arms[row], 1.0) for row in rows.tolist()]
        return [options[j] for j in best.tolist()]

    def scores(self, x: np.ndarray) -> dict[str, float]:
        """Every arm's upper confidence bound for one context ``x``."""
        bounds = self._upper_bounds(slice(None), self._contexts(self._context(x)[None, :]))[0]
        return dict(zip(self.arms, bounds.tolist(), strict=True))

    def _upper_bounds(self, take: slice | IndexArray, contexts: FloatArray) -> FloatArray:
        means, widths = self.model.moments(take, contexts)
        bounds: FloatArray = means + self.alpha * self.exploration * np.sqrt(widths)
        return bounds


_outer = np.multiply.outer
"""``np.outer`` without its argument checks (a third of an update's time at d = 16); the
products are the same."""
