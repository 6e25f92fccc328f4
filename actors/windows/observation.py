"""One input record of a feature window: an event time, a key, a value and its flags."""

from __future__ import annotations

import math

import msgspec
from msgspec.structs import force_setattr


class Observation(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What windows fold: ``at`` is event time (Unix seconds), never arrival time.

    ``key`` is the declared key's value (e.g. the model, or ``model|segment``); ``value`` the
    metric the window summarises (latency, reward, quality...) or None when the event lacks
    it; ``error`` and ``cost`` feed the error rate and the cost total.
    """

    at: float
    key: str
    value: float | None = None
    error: bool = False
    cost: float | None = None

    def __post_init__(self) -> None:
        if not math.isfinite(self.at):
            raise ValueError(f"at: event time must be finite, got {self.at}")
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"value: must be finite, got {self.value}")
        if self.cost is not None and not math.isfinite(self.cost):
            raise ValueError(f"cost: must be finite, got {self.cost}")
        # An int passed by a caller would encode, and add up, differently from its float.
        force_setattr(self, "at", float(self.at))
        if self.value is not None:
            force_setattr(self, "value", float(self.value))
        if self.cost is not None:
            force_setattr(self, "cost", float(self.cost))
