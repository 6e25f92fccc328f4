"""Session windows: activity separated by gaps of at least ``gap`` seconds of event time."""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec
from msgspec.structs import force_setattr


class SessionWindow(msgspec.Struct, frozen=True, kw_only=True, tag="session"):
    """Each event opens ``[at, at + gap)``; overlapping windows of a key merge into one
    (Flink's merging window assigner). A session therefore ends ``gap`` after its last
    event, and an event arriving late can join two sessions into one."""

    gap: float

    merging: ClassVar[bool] = True

    def __post_init__(self) -> None:
        force_setattr(self, "gap", float(self.gap))  # ints would encode differently
        if not (math.isfinite(self.gap) and self.gap > 0):
            raise ValueError(f"gap: must be a finite number > 0, got {self.gap}")

    @property
    def name(self) -> str:
        return f"session_{self.gap:g}s"

    def assign(self, at: float) -> list[tuple[float, float]]:
        return [(at, at + self.gap)]
