"""Tumbling windows: fixed-size, non-overlapping, aligned to ``offset`` (default the epoch)."""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec
from msgspec.structs import force_setattr


class TumblingWindow(msgspec.Struct, frozen=True, kw_only=True, tag="tumbling"):
    """``[offset + k * size, offset + (k + 1) * size)``: each event in exactly one window."""

    size: float
    offset: float = 0.0

    merging: ClassVar[bool] = False

    def __post_init__(self) -> None:
        force_setattr(self, "size", float(self.size))  # ints would encode differently
        force_setattr(self, "offset", float(self.offset))
        if not (math.isfinite(self.size) and self.size > 0):
            raise ValueError(f"size: must be a finite number > 0, got {self.size}")
        if not math.isfinite(self.offset):
            raise ValueError(f"offset: must be finite, got {self.offset}")

    @property
    def name(self) -> str:
        return f"tumbling_{self.size:g}s"

    def assign(self, at: float) -> list[tuple[float, float]]:
        start = self.offset + math.floor((at - self.offset) / self.size) * self.size
        return [(start, start + self.size)]
