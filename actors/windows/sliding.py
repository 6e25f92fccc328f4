"""Sliding (hopping) windows: size ``size``, a new one every ``slide`` seconds."""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec
from msgspec.structs import force_setattr


class SlidingWindow(msgspec.Struct, frozen=True, kw_only=True, tag="sliding"):
    """Windows ``[offset + k * slide, offset + k * slide + size)``; an event is in
    ``ceil(size / slide)`` of them (fewer at the edges when ``slide`` does not divide
    ``size``). ``slide == size`` is a tumbling window."""

    size: float
    slide: float
    offset: float = 0.0

    merging: ClassVar[bool] = False

    def __post_init__(self) -> None:
        force_setattr(self, "size", float(self.size))  # ints would encode differently
        force_setattr(self, "slide", float(self.slide))
        force_setattr(self, "offset", float(self.offset))
        for field, value in (("size", self.size), ("slide", self.slide)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{field}: must be a finite number > 0, got {value}")
        if self.slide > self.size:
            raise ValueError(f"slide: must be <= size ({self.size}), got {self.slide}")
        if not math.isfinite(self.offset):
            raise ValueError(f"offset: must be finite, got {self.offset}")

    @property
    def name(self) -> str:
        return f"sliding_{self.size:g}s_{self.slide:g}s"

    def assign(self, at: float) -> list[tuple[float, float]]:
        last = self.offset + math.floor((at - self.offset) / self.slide) * self.slide
        windows = []
        start = last
        while start + self.size > at:
            windows.append((start, start + self.size))
            start -= self.slide
        windows.reverse()
        return windows
