"""The contract every bandit policy keeps, so the decision actor can host any of them.

A policy is pure: no I/O, no clock, no global random state. ``choose`` takes the generator it
must draw from (seeded by the caller from the experiment's seed and the decision id, so a
decision can be re-derived from the log) and does not change the policy; only ``update``
does, and the actor calls it only while folding outcomes in log order. ``to_bytes`` must give
identical bytes for identical histories, because checkpoints and replays compare digests.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple, Self

import msgspec
import numpy as np

_encoder = msgspec.msgpack.Encoder(order="deterministic")


class Choice(NamedTuple):
    """The chosen arm and the probability with which this policy chose it (for audit and OPE)."""

    arm: str
    propensity: float


class Policy(abc.ABC):
    """Base of every policy. Subclasses set ``name`` and implement the abstract methods."""

    name: ClassVar[str]
    contextual: ClassVar[bool] = False
    """True when ``choose`` and ``update`` need the context vector ``x``."""

    def __init__(self, arms: Sequence[str]) -> None:
        if not arms:
            raise ValueError("a policy needs at least one arm")
        if len(set(arms)) != len(arms):
            raise ValueError("arm names must be unique")
        self.arms: list[str] = list(arms)

    @abc.abstractmethod
    def add_arm(self, arm: str) -> None:
        """Start a new arm from the policy's prior (cold start)."""

    @abc.abstractmethod
    def retire_arm(self, arm: str) -> None:
        """Forget an arm; it is never chosen again."""

    @abc.abstractmethod
    def choose(
        self, eligible: Sequence[str], x: np.ndarray | None, rng: np.random.Generator
    ) -> Choice:
        """Pick one of ``eligible`` (a non-empty subset of ``arms``) without changing state."""

    @abc.abstractmethod
    def update(self, arm: str, reward: float, x: np.ndarray | None, at: float) -> None:
        """Fold one observed reward; ``at`` is its event time (for discounting by time)."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """Everything needed to rebuild the policy, as msgpack-encodable plain values
        (encode numpy arrays with :func:`pack_array`)."""

    @classmethod
    @abc.abstractmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        """Rebuild a policy from :meth:`state`."""

    def to_bytes(self) -> bytes:
        return _encoder.encode({"policy": self.name, "state": self.state()})

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        decoded = msgspec.msgpack.decode(data)
        if decoded.get("policy") != cls.name:
            raise ValueError(f"state of policy {decoded.get('policy')!r}, expected {cls.name!r}")
        return cls.from_state(decoded["state"])

    def _check_eligible(self, eligible: Sequence[str]) -> None:
        if not eligible:
            raise ValueError("no eligible arm")
        unknown = set(eligible) - set(self.arms)
        if unknown:
            raise ValueError(f"unknown arms: {sorted(unknown)}")


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
