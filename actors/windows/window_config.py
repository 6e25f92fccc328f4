"""What a feature window entity computes, as data stored in its ``FeatureWindowDefined`` event.

JSON example (``llmopt.log.window.<id>.lifecycle``)::

    {"experiment": "checkout-router",
     "metric": "latency_ms",
     "key_by": ["arm", "tier"],
     "windows": [{"type": "tumbling", "size": 60},
                 {"type": "sliding", "size": 300, "slide": 60},
                 {"type": "session", "gap": 120}],
     "max_out_of_orderness": 5, "allowed_lateness": 60, "ttl_s": 300}

``key_by`` names ``arm`` (the decision's arm) or a key of the decision's context (a user
segment, a service...); the window key is their values joined by ``|`` (a missing context
value reads as ``-``). ``metric`` is the outcome field the windows summarise.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from actors.windows.keyed_windows import AnyWindow

Metric = Literal["latency_ms", "quality", "reward", "cost_usd", "feedback"]


class FeatureWindowConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    experiment: str
    metric: Metric = "latency_ms"
    key_by: tuple[str, ...] = ("arm",)
    windows: tuple[AnyWindow, ...] = ()
    max_out_of_orderness: float = 5.0
    allowed_lateness: float = 60.0
    alpha: float = 0.01
    """Relative accuracy of the quantile sketches."""
    ttl_s: float = 300.0
    """How long a published value stays fresh after its window closed (event time)."""
    pending_capacity: int = 100_000
    """Decisions kept awaiting their outcome; the oldest is evicted (and counted) beyond it."""
    pending_ttl_s: float = 86_400.0

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError("windows: declare at least one window")
        names = [w.name for w in self.windows]
        if len(set(names)) != len(names):
            raise ValueError(f"windows: duplicate windows {sorted(names)}")
        if not self.key_by:
            raise ValueError("key_by: declare at least one key field")
        for field, value in (
            ("max_out_of_orderness", self.max_out_of_orderness),
            ("allowed_lateness", self.allowed_lateness),
            ("pending_ttl_s", self.pending_ttl_s),
        ):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{field}: must be a finite number >= 0, got {value}")
        if not (math.isfinite(self.ttl_s) and self.ttl_s > 0):
            raise ValueError(f"ttl_s: must be a finite number > 0, got {self.ttl_s}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha: must be in (0, 1), got {self.alpha}")
        if self.pending_capacity < 1:
            raise ValueError(f"pending_capacity: must be >= 1, got {self.pending_capacity}")
