"""The contract every bandit policy keeps, so the decision actor can host any of them.

A policy is pure: no I/O, no clock, no global random state. ``choose`` takes the generator it
must draw from (seeded by the caller from the experiment's seed and the decision id, so a
decision can be re-derived from the log) and does not change the policy; only ``update``
does, and the actor calls it only while folding outcomes in log order. ``to_bytes`` must give
identical bytes for identical histories, because checkpoints and replays compare digests.

Besides the contract, :class:`Policy` keeps the bookkeeping every policy shares: the arm
names and their row indices, validation of arms, eligible sets and rewards, adding and
retiring arms, and the state layout ``{"arms", "params", ...}``. What a policy learns per arm
lives in a :class:`PerArm` (for most policies an :class:`ArmArrays`), whose rows the base
class keeps in step with the arms.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import inspect
import math
import operator
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, NamedTuple, Self, overload

import msgspec
import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
Rngs = np.random.Generator | Sequence[np.random.Generator]
"""One generator that the rows of a batch draw from in order, or one generator per row."""
Contexts = np.ndarray | Sequence[np.ndarray | None]
"""The contexts of a batch, one per decision: the rows of an (n, d) array, or a sequence of
vectors (``None`` for a policy that is not contextual)."""

_encoder = msgspec.msgpack.Encoder(order="deterministic")


class Choice(NamedTuple):
    """The chosen arm and the probability with which this policy chose it (for audit and OPE)."""

    arm: str
    propensity: float


class PerArm(abc.ABC):
    """What a policy learns per arm: one row per arm, row ``k`` for the policy's ``k``-th arm.

    The policy appends a row when an arm is added and deletes one when an arm is retired, so
    an implementation only has to know its own rows.
    """

    @abc.abstractmethod
    def append(self) -> None:
        """Add a last row at the prior (cold start)."""

    @abc.abstractmethod
    def delete(self, k: int) -> None:
        """Drop row ``k``; the rows after it move up by one."""

    @abc.abstractmethod
    def reset(self, k: int) -> None:
        """Put row ``k`` back at the prior, as if its arm had just been added."""

    @abc.abstractmethod
    def discount(self, k: int, factor: float) -> None:
        """Keep ``factor`` (in (0, 1)) of row ``k``'s evidence beyond the prior."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """The rows as msgpack-plain values, merged into the policy's state."""

    @abc.abstractmethod
    def load(self, state: Mapping[str, Any]) -> None:
        """Take the rows of :meth:`state`; raise ``ValueError`` if they do not fit the arms."""


class ArmArrays(PerArm):
    """Named one-dimensional arrays, element ``k`` of each belonging to the ``k``-th arm.

    Each keyword of the constructor names an array (also its key in the policy's state) and
    gives the prior, the value a new arm starts from: an ``int`` prior makes an int64 array,
    a ``float`` one a float64 array.

    >>> rows = ArmArrays(2, counts=0, sums=0.0)
    >>> rows["sums"][1] += 0.5
    >>> rows.append()
    >>> rows.delete(0)
    >>> rows.state()
    {'counts': [0, 0], 'sums': [0.5, 0.0]}
    """

    def __init__(self, n_arms: int, **priors: int | float) -> None:
        self._priors = priors
        self._arrays = {
            name: np.full(n_arms, prior, dtype=_dtype(prior)) for name, prior in priors.items()
        }

    def __getitem__(self, name: str) -> np.ndarray:
        """The array itself (not a copy): update it in place."""
        return self._arrays[name]

    def append(self) -> None:
        for name, prior in self._priors.items():
            self._arrays[name] = np.append(self._arrays[name], _dtype(prior)(prior))

    def delete(self, k: int) -> None:
        for name, array in self._arrays.items():
            self._arrays[name] = np.delete(array, k)

    def reset(self, k: int) -> None:
        for name, prior in self._priors.items():
            self._arrays[name][k] = prior

    def discount(self, k: int, factor: float) -> None:
        """Every array moves towards its prior: ``prior + factor * (value - prior)``, an
        integer array rounding to the nearest integer."""
        for name, prior in self._priors.items():
            array = self._arrays[name]
            kept = prior + factor * (float(array[k]) - prior)
            array[k] = round(kept) if array.dtype.kind == "i" else kept

    def state(self) -> dict[str, Any]:
        return {name: array.tolist() for name, array in self._arrays.items()}

    def load(self, state: Mapping[str, Any]) -> None:
        loaded = {}
        for name, array in self._arrays.items():
            values = np.array(state[name], dtype=array.dtype)
            if values.shape != array.shape:
                raise ValueError(
                    f"expected {array.size} {name}, one per arm, got shape {values.shape}"
                )
            loaded[name] = values
        self._arrays = loaded


def _dtype(prior: int | float) -> type[np.int64] | type[np.float64]:
    return np.int64 if isinstance(prior, int) else np.float64


class Policy(abc.ABC):
    """Base of every policy.

    The contract, checked for every policy by ``tests/unit/policies/test_policy_contract.py``:

    - ``choose`` returns one of ``eligible`` with its propensity in (0, 1] and does not change
      the policy; with a single eligible arm it returns that arm with propensity exactly 1.0.
      It depends on the set of eligible arms, not on the order they are listed in (a policy
      that breaks ties does so by the order of ``arms``), and the same generator gives the
      same choice. An empty ``eligible`` or one naming an unknown arm raises ``ValueError``.
      ``choose_batch`` makes, decision by decision, the choices ``choose`` would make.
    - ``update`` of an unknown arm, or with a reward that is not finite or lies outside
      ``reward_bounds``, raises ``ValueError`` and leaves the policy as it was.
    - ``add_arm`` of an existing arm raises ``ValueError``; a new arm starts from the prior, so
      adding it gives the bytes of a policy built with it. ``retire_arm`` of an unknown arm,
      or of the last arm, raises ``ValueError``; a retired arm is never chosen again.
    - ``to_bytes`` gives identical bytes for identical histories, and ``from_bytes`` rebuilds
      a policy with the same bytes, the same choices and the same future.

    A subclass sets ``name``, sets :attr:`model` in ``__init__``, keeps each constructor
    argument in the attribute of the same name (see :meth:`params`) and implements ``choose``
    and ``update``; ``update`` validates with :meth:`arm_index` and :meth:`check_reward`
    before it changes anything. A policy with more state than its per-arm rows extends
    ``state`` and ``from_state``.
    """

    name: ClassVar[str]
    contextual: ClassVar[bool] = False
    """True when ``choose`` and ``update`` need the context vector ``x``."""
    reward_bounds: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    """Rewards ``update`` accepts (finite ones only); anything else raises ``ValueError``."""

    model: PerArm
    """What the policy has learnt, one row per arm; ``add_arm``, ``retire_arm``, ``state`` and
    ``from_state`` keep it in step with ``arms``."""

    def __init__(self, arms: Sequence[str]) -> None:
        if not arms:
            raise ValueError("a policy needs at least one arm")
        if len(set(arms)) != len(arms):
            raise ValueError("arm names must be unique")
        self.arms: list[str] = list(arms)
        self._index = {arm: i for i, arm in enumerate(self.arms)}
        self.exploration = 1.0
        """Multiplies how much the policy explores (its bonus, temperature, epsilon or
        posterior spread): 1 is the policy as configured; raised for a while after drift."""

    def params(self) -> dict[str, Any]:
        """The constructor's arguments besides ``arms``, as stored in the state and passed back
        to the constructor by :meth:`from_state`.

        Each is read from the attribute of the same name, so a subclass keeps every
        constructor argument (as validated) under its own name, or overrides this.
        """
        return {name: getattr(self, name) for name in _param_names(type(self))}

    def add_arm(self, arm: str) -> None:
        """Start a new arm from the policy's prior (cold start)."""
        if arm in self._index:
            raise ValueError(f"arm {arm!r} already exists")
        self.model.append()
        self.arms.append(arm)
        self._index[arm] = len(self.arms) - 1

    def retire_arm(self, arm: str) -> None:
        """Forget an arm; it is never chosen again."""
        i = self.arm_index(arm)
        if len(self.arms) == 1:
            raise ValueError("cannot retire the last arm")
        self.model.delete(i)
        del self.arms[i]
        self._index = {name: j for j, name in enumerate(self.arms)}

    def reset_arm(self, arm: str) -> None:
        """Forget what was learnt about ``arm``: it restarts from the prior (cold start). For
        when the arm's past no longer describes it (a drift alarm, a new model version)."""
        self.model.reset(self.arm_index(arm))

    def set_exploration(self, factor: float) -> None:
        """Explore ``factor`` (>= 1) times as much as configured: a wider confidence bonus
        (UCB), temperature (softmax), epsilon (capped at 1) or posterior spread (Thompson
        sampling); 1 restores the configured policy. Part of the state."""
        if not (math.isfinite(factor) and factor >= 1.0):
            raise ValueError(f"exploration factor must be >= 1, got {factor!r}")
        self.exploration = float(factor)

    def down_weight_arm(self, arm: str, factor: float) -> None:
        """Count the evidence about ``arm`` ``factor`` (in (0, 1)) times as much: its estimate
        moves towards the prior only as far as the lost evidence says and becomes less
        certain, so new outcomes move it faster. For when its past is suspect but not void."""
        if not 0.0 < factor < 1.0:
            raise ValueError(f"factor must lie in (0, 1), got {factor!r}")
        self.model.discount(self.arm_index(arm), factor)

    @abc.abstractmethod
    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        """Pick one of ``eligible`` (a non-empty subset of ``arms``) without changing state."""

    def choose_batch(self, eligible: Sequence[str], X: Contexts, rng: Rngs) -> list[Choice]:
        """One choice per context in ``X`` (one per decision), each as :meth:`choose` would
        make it.

        ``rng`` is one generator (decision ``i`` draws after decision ``i - 1``, as successive
        ``choose`` calls on it would) or a sequence of ``n`` generators, one per decision (each
        decision's own :func:`decision_rng`). This default calls ``choose`` once per decision;
        a policy that can decide a batch at once overrides it. A policy that is not contextual
        takes any ``X`` of the batch's length, e.g. ``[None] * n``.
        """
        n = len(X)
        if n == 0:
            raise ValueError("a batch needs at least one decision")
        check_rngs(rng, n)
        rngs = [rng] * n if isinstance(rng, np.random.Generator) else rng
        return [self.choose(eligible, x, r) for x, r in zip(X, rngs, strict=True)]

    @abc.abstractmethod
    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        """Fold one observed reward; ``at`` is its event time (for discounting by time)."""

    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the policy, as msgpack-encodable plain values: the
        arms, :meth:`params` and the per-arm rows of :attr:`model` (numpy arrays encoded with
        :func:`pack_array` or as lists)."""
        state = {"arms": list(self.arms), "params": self.params(), **self.model.state()}
        if self.exploration != 1.0:
            state["exploration"] = self.exploration
        return state

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Rebuild a policy from :meth:`state`."""
        policy = cls(state["arms"], **state["params"])
        policy.model.load(state)
        policy.exploration = float(state.get("exploration", 1.0))
        return policy

    def to_bytes(self) -> bytes:
        return _encoder.encode({"policy": self.name, "state": self.state()})

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        name, state = decode_policy(data)
        if name != cls.name:
            raise ValueError(f"state of policy {name!r}, expected {cls.name!r}")
        return cls.from_state(state)

    def arm_index(self, arm: str) -> int:
        """The row of ``arm``; ``ValueError`` if the policy does not have it."""
        try:
            return self._index[arm]
        except KeyError:
            raise ValueError(f"unknown arm {arm!r}") from None

    def eligible_indices(self, eligible: Sequence[str]) -> IndexArray:
        """The rows of the eligible arms in arm order, so the caller's order changes nothing;
        ``ValueError`` if ``eligible`` is empty or names an arm the policy does not have."""
        try:
            rows = sorted({self._index[arm] for arm in eligible})
        except KeyError:
            unknown = set(eligible) - set(self._index)
            raise ValueError(f"unknown arms: {sorted(unknown)}") from None
        if not rows:
            raise ValueError("no eligible arm")
        return np.array(rows, dtype=np.intp)

    def check_reward(self, reward: float) -> float:
        """``reward`` as a float, if it is finite and within :attr:`reward_bounds`; call it
        before changing anything, so a rejected update leaves the state as it was."""
        r = float(reward)
        low, high = self.reward_bounds
        if not (math.isfinite(r) and low <= r <= high):
            if math.isinf(low) and math.isinf(high):
                raise ValueError(f"reward must be finite, got {reward!r}")
            raise ValueError(f"{self.name} needs rewards in [{low:g}, {high:g}], got {reward!r}")
        return r


@functools.cache
def _param_names(cls: type[Policy]) -> tuple[str, ...]:
    """The names of ``cls``'s constructor parameters besides ``arms``."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(
        name
        for name, parameter in inspect.signature(cls).parameters.items()
        if name != "arms" and parameter.kind in kinds
    )


def decode_policy(data: bytes) -> tuple[str, dict[str, Any]]:
    """The policy name and state stored by :meth:`Policy.to_bytes`; ``ValueError`` if ``data``
    is not such bytes."""
    decoded = msgspec.msgpack.decode(data)
    if not (
        isinstance(decoded, dict)
        and isinstance(decoded.get("policy"), str)
        and isinstance(decoded.get("state"), dict)
    ):
        raise ValueError("not the bytes of a policy")
    return decoded["policy"], decoded["state"]


def check_rngs(rng: Rngs, n: int) -> None:
    """Refuse a per-row sequence of generators whose length is not the number of rows."""
    if not isinstance(rng, np.random.Generator) and len(rng) != n:
        raise ValueError(f"{len(rng)} generators for {n} contexts")


def at_least_one(name: str, value: int) -> int:
    """``value`` if it is an integer of at least 1, else ``ValueError`` naming ``name``."""
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be at least 1, got {value!r}")
    return n


def pack_array(array: np.ndarray) -> dict[str, Any]:
    """A numpy array as plain msgpack values: dtype, shape and raw little-endian bytes."""
    contiguous = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    return {
        "dtype": contiguous.dtype.str,
        "shape": list(contiguous.shape),
        "data": contiguous.tobytes(),
    }


def unpack_array(packed: dict[str, Any]) -> np.ndarray:
    array = np.frombuffer(packed["data"], dtype=np.dtype(packed["dtype"]))
    return array.reshape(packed["shape"]).copy()


def decision_rng(seed: int, decision_id: str) -> np.random.Generator:
    """The generator a decision draws from: a function of the experiment seed and the decision
    id only, so that the decision can be reproduced from the log."""
    digest = hashlib.sha256(f"{seed}:{decision_id}".encode()).digest()
    return np.random.Generator(np.random.PCG64(int.from_bytes(digest[:16], "little")))


class DecisionRngs(Sequence[np.random.Generator]):
    """The :func:`decision_rng` of each decision of a batch, made when a policy first asks.

    Seeding a generator costs about as much as a LinUCB choice, and deterministic policies
    never draw: a batch passes this instead of a list of generators made up front.
    """

    def __init__(self, seed: int, decision_ids: Sequence[str]) -> None:
        self._seed = seed
        self._ids = decision_ids

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, i: int) -> np.random.Generator: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[np.random.Generator]: ...

    def __getitem__(self, i: int | slice) -> np.random.Generator | Sequence[np.random.Generator]:
        if isinstance(i, slice):
            return DecisionRngs(self._seed, self._ids[i])
        return decision_rng(self._seed, self._ids[i])
