"""A model that degrades at a set time: the drift event the live monitor has to catch.

From ``at_s`` seconds after the start, ``model``'s quality mean on ``tasks`` (all task types
when empty) is multiplied by ``quality_factor`` and its latency by ``latency_factor``, as after
a provider silently swaps in a more aggressively quantised deployment or loses capacity.
"""

from __future__ import annotations

import msgspec


class Degradation(msgspec.Struct, frozen=True, kw_only=True):
    model: str
    at_s: float
    """Seconds after the start of the run (event time) when the model degrades."""
    quality_factor: float = 0.6
    latency_factor: float = 1.5
    tasks: tuple[str, ...] = ()
    """The task types that degrade; empty for all of them."""

    def __post_init__(self) -> None:
        if not 0.0 < self.quality_factor <= 1.0:
            raise ValueError(f"quality_factor must lie in (0, 1], got {self.quality_factor}")
        if self.latency_factor < 1.0:
            raise ValueError(f"latency_factor must be >= 1, got {self.latency_factor}")

    def applies(self, model: str, task: str, seconds: float) -> bool:
        """Whether a call to ``model`` on ``task`` at ``seconds`` is degraded."""
        return (
            model == self.model and seconds >= self.at_s and (not self.tasks or task in self.tasks)
        )
