"""Event-time progress: a bounded-out-of-orderness watermark and the lateness rules.

The watermark is ``max(event time seen) - max_out_of_orderness`` (Flink's
``BoundedOutOfOrdernessWatermarks``; Akidau et al., "The Dataflow Model", VLDB 2015): the
claim that no event older than it is still expected. A window ``[start, end)`` fires once the
watermark reaches ``end``. It stays open for ``allowed_lateness`` more seconds of watermark;
an event that arrives in that time updates the window and re-emits it with a higher revision.

Policy for an event later than that (its window's ``end + allowed_lateness`` is already at
or below the watermark): it is **dropped and counted**, never silently. Keeping windows forever
to re-emit them would make state grow without bound; the allowed lateness is the knob that
trades memory for completeness. Both parameters are in seconds of event time; no wall clock.
"""

from __future__ import annotations

import math

import msgspec


class Watermark(msgspec.Struct, kw_only=True, array_like=True):
    max_out_of_orderness: float = 0.0
    max_event_time: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_out_of_orderness) and self.max_out_of_orderness >= 0):
            raise ValueError(
                f"max_out_of_orderness: must be a finite number >= 0, "
                f"got {self.max_out_of_orderness}"
            )
        self.max_out_of_orderness = float(self.max_out_of_orderness)

    @property
    def current(self) -> float:
        """The watermark; minus infinity before the first event."""
        if self.max_event_time is None:
            return -math.inf
        return self.max_event_time - self.max_out_of_orderness

    def observe(self, at: float) -> bool:
        """Advance with an event time; True if the watermark moved."""
        if self.max_event_time is None or at > self.max_event_time:
            self.max_event_time = float(at)
            return True
        return False
