"""The contract every drift and anomaly detector keeps, so a monitor can host any of them.

A detector is pure: no I/O, no clock, no random state of its own. ``update(x)`` folds one
observation and returns an :class:`Alarm` when the observation completes a detection, else
``None``; ``reset()`` forgets everything the detector learnt from the stream (its parameters
stay). After an alarm a detector restarts by itself, the way River's detectors do, so the
next alarm is about the next change and not the same one again.

Detectors live inside event-sourced aggregates, which are checkpointed and compared by
digest: ``to_bytes`` gives identical bytes for identical histories (msgpack with
``order="deterministic"``, floats as IEEE doubles) and ``from_bytes`` rebuilds a detector
that continues exactly as the uninterrupted one would (the replay-equals-live invariant,
checked for every detector by ``tests/unit/drift/test_detector_contract.py``).
"""

from __future__ import annotations

import abc
import functools
import inspect
import math
import operator
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

import msgspec

from actors.parameters import number

Direction = Literal["up", "down", "both"]
"""Which way the stream moved: ``up`` (mean or values rose), ``down``, or ``both`` for a
change in distribution that has no single direction (KS, PSI)."""

_encoder = msgspec.msgpack.Encoder(order="deterministic")


class Alarm(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """One detection: what fired, how strongly, against which threshold, on how much data.

    ``samples`` is the number of observations the detector had folded since it last
    (re)started when it fired (the alarm's own observation included): the detection delay of
    a change that began at the restart. ``window`` is the number of observations the decision
    was based on (for ADWIN the window before the cut, for KS/PSI the current window, for
    CUSUM and Page-Hinkley the samples since the statistic last left zero).
    """

    detector: str
    statistic: float
    threshold: float
    samples: int
    window: int
    direction: Direction = "both"


class Detector(abc.ABC):
    """Base of every detector.

    The contract, checked for every detector by the generic contract test:

    - ``update`` of a value that is not a finite number raises ``ValueError`` and leaves the
      detector as it was.
    - ``reset`` returns the detector to the bytes of a freshly built one with the same
      parameters.
    - ``to_bytes`` gives identical bytes for identical histories; ``from_bytes`` rebuilds a
      detector with the same bytes and the same future alarms.
    - A constant stream never raises an alarm.

    A subclass sets ``name``, keeps each constructor argument in the attribute of the same
    name (see :meth:`params`), and implements ``update``, ``reset``, ``state`` and ``load``.
    """

    name: ClassVar[str]

    def params(self) -> dict[str, Any]:
        """The constructor's arguments, read from the attributes of the same name."""
        return {name: getattr(self, name) for name in _param_names(type(self))}

    @abc.abstractmethod
    def update(self, x: float) -> Alarm | None:
        """Fold one observation; an :class:`Alarm` if it completes a detection."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget the stream (the parameters stay)."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """What the detector learnt from the stream, as msgpack-plain values."""

    @abc.abstractmethod
    def load(self, state: Mapping[str, Any]) -> None:
        """Take the values of :meth:`state`; ``ValueError`` if they do not fit."""

    def to_bytes(self) -> bytes:
        return _encoder.encode(
            {"detector": self.name, "params": self.params(), "state": self.state()}
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        name, params, state = decode_detector(data)
        if name != cls.name:
            raise ValueError(f"state of detector {name!r}, expected {cls.name!r}")
        detector = cls(**params)
        detector.load(state)
        return detector

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


@functools.cache
def _param_names(cls: type[Detector]) -> tuple[str, ...]:
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return tuple(
        name
        for name, parameter in inspect.signature(cls).parameters.items()
        if parameter.kind in kinds
    )


def decode_detector(data: bytes) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Name, parameters and state stored by :meth:`Detector.to_bytes`; ``ValueError`` if
    ``data`` is not such bytes."""
    try:
        decoded = msgspec.msgpack.decode(data)
    except msgspec.DecodeError as error:
        raise ValueError(f"not the bytes of a detector: {error}") from None
    if not (
        isinstance(decoded, dict)
        and isinstance(decoded.get("detector"), str)
        and isinstance(decoded.get("params"), dict)
        and isinstance(decoded.get("state"), dict)
    ):
        raise ValueError("not the bytes of a detector")
    return decoded["detector"], decoded["params"], decoded["state"]


# -- validation -----------------------------------------------------------------------------------


def observation(x: float) -> float:
    """``x`` as a float if it is a finite number, else ``ValueError`` saying what it was."""
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, str | bytes):
        raise ValueError(f"observation must be a number, got {x!r}")
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"observation must be a number, got {x!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"observation must be finite, got {x!r}")
    return v


def probability(name: str, value: float) -> float:
    """``value`` as a float if it lies in (0, 1), else ``ValueError`` naming ``name``."""
    v = number(name, value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return v


def at_least(name: str, value: int, low: int) -> int:
    """``value`` if it is an integer of at least ``low``, else ``ValueError`` naming ``name``."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if n < low:
        raise ValueError(f"{name} must be at least {low}, got {value!r}")
    return n
