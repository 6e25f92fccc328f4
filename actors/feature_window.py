"""The feature window entity: an experiment's outcomes, joined with their decisions, folded
into event-time windows whose closed values are the online features.

It reads other entities' events (the experiment's decisions and outcomes), so it declares its
log subjects (:meth:`FeatureWindowAggregate.log_subjects`). The fold ignores, without touching
the state, every event that is not its own lifecycle or its experiment's decision/outcome:
folding the whole log gives the same bytes as folding only those subjects, so replay can
read either. The join is the experiment ledger's: a decision waits (bounded in number and in
event time, evictions counted) for its outcome; an outcome with no waiting decision is
counted, never guessed. Only traffic logged after the window's definition is folded.

``latest`` holds, per window kind and key, the newest emission (a window that closed, or a
late update of it): what the feature store publishes. ``changed`` (not encoded) lists the
entries emitted since the publisher last drained it.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import msgspec

from actors.aggregate import Aggregate
from actors.windows.keyed_windows import KeyedWindows, WindowResult
from actors.windows.observation import Observation
from actors.windows.window_config import FeatureWindowConfig
from events.schema import (
    CheckpointTaken,
    DecisionMade,
    DecisionsMade,
    Event,
    FeatureWindowArchived,
    FeatureWindowDefined,
    OutcomeObserved,
)
from events.subjects import entity_filter, kind_filter

MISSING_KEY_PART = "-"


class AwaitingOutcome(msgspec.Struct, array_like=True):
    key: str
    at: float


class FeatureWindowAggregate(Aggregate, kw_only=True, dict=True):
    KIND: ClassVar[str] = "window"
    STATE_VERSION: ClassVar[int] = 1

    created: bool = False
    archived: bool = False
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    windows: list[KeyedWindows] = msgspec.field(default_factory=list)
    pending: dict[str, AwaitingOutcome] = msgspec.field(default_factory=dict)
    """Decision id -> window key, in log order (eviction walks it from the front)."""
    joined: dict[str, float] = msgspec.field(default_factory=dict)
    """Decisions whose outcome was folded (id -> event time), bounded like ``pending``, so a
    redelivered outcome is recognised as a duplicate."""
    latest: dict[str, WindowResult] = msgspec.field(default_factory=dict)
    """``<window kind>/<key>`` -> its newest emission."""
    watermark: float = 0.0
    """Largest event time folded: the clock that expires decisions awaiting an outcome."""
    events_applied: int = 0
    decisions: int = 0
    outcomes: int = 0
    duplicate_decisions: int = 0
    duplicate_outcomes: int = 0
    unmatched_outcomes: int = 0
    expired_decisions: int = 0
    missing_values: int = 0
    """Outcomes joined without the metric, or with a non-finite one (counted as an
    observation for error rate and cost only)."""
    invalid_outcomes: int = 0
    """Outcomes with a non-finite event time (possible in msgpack, not JSON): skipped."""

    def __post_init__(self) -> None:
        self.watermark = float(self.watermark)
        self.settings: FeatureWindowConfig | None = (
            msgspec.convert(self.config, FeatureWindowConfig) if self.created else None
        )
        self.changed: set[str] = set(self.latest)

    @classmethod
    def log_subjects(cls, entity_id: str) -> list[str]:
        """Its own events and every experiment's decisions and outcomes: which experiment it
        follows is only known once its definition is folded, after the consumer exists."""
        return [
            entity_filter(cls.KIND, entity_id),
            kind_filter("experiment", DecisionMade.CHANNEL),
            kind_filter("experiment", OutcomeObserved.CHANNEL),
        ]

    def apply(self, event: Event) -> None:
        if isinstance(event, CheckpointTaken):
            return
        if isinstance(event, DecisionsMade):
            for decision in event.decisions:
                self.apply(decision)
            return
        settings = self.settings
        if isinstance(event, DecisionMade | OutcomeObserved):
            if settings is None or self.archived or event.entity_id != settings.experiment:
                return
        elif event.entity_id != self.entity_id or not isinstance(
            event, FeatureWindowDefined | FeatureWindowArchived
        ):
            return
        self.events_applied += 1
        if event.at > self.watermark:
            self.watermark = float(event.at)
        if isinstance(event, DecisionMade):
            self._decide(event)
        elif isinstance(event, OutcomeObserved):
            self._observe(event)
        elif isinstance(event, FeatureWindowDefined):
            if not self.created:
                self._define(event)
        else:
            self.archived = True
        if self.settings is not None:
            self._expire(self.settings.pending_ttl_s)

    def _define(self, event: FeatureWindowDefined) -> None:
        settings = msgspec.convert(event.config, FeatureWindowConfig)
        self.created = True
        # Keys sorted: the state's bytes must not depend on how the event's dict was built
        # (the log's codec sorts them; an event built in Python keeps its own order).
        self.config = msgspec.json.decode(msgspec.json.encode(event.config, order="sorted"))
        self.settings = settings
        self.windows = [
            KeyedWindows.of(
                spec,
                max_out_of_orderness=settings.max_out_of_orderness,
                allowed_lateness=settings.allowed_lateness,
                alpha=settings.alpha,
            )
            for spec in settings.windows
        ]

    def _key(self, event: DecisionMade) -> str:
        assert self.settings is not None
        parts = []
        for field in self.settings.key_by:
            value = event.arm if field == "arm" else event.context.get(field)
            parts.append(MISSING_KEY_PART if value is None else str(value))
        return "|".join(parts)

    def _decide(self, event: DecisionMade) -> None:
        assert self.settings is not None
        if event.decision_id in self.pending or event.decision_id in self.joined:
            self.duplicate_decisions += 1
            return
        self.decisions += 1
        self.pending[event.decision_id] = AwaitingOutcome(self._key(event), float(event.at))
        if len(self.pending) > self.settings.pending_capacity:
            self.pop_oldest("pending")
            self.expired_decisions += 1
        # Traffic moves event time on for the windows even before its outcomes arrive.
        for windows in self.windows:
            self._record(windows.advance(event.at))

    def _observe(self, event: OutcomeObserved) -> None:
        assert self.settings is not None
        awaiting = self.pending.pop(event.decision_id, None)
        if awaiting is None:
            if event.decision_id in self.joined:
                self.duplicate_outcomes += 1
            else:
                self.unmatched_outcomes += 1
            return
        self.outcomes += 1
        self.joined[event.decision_id] = float(event.at)
        if len(self.joined) > self.settings.pending_capacity:
            self.pop_oldest("joined")
        value = _finite(getattr(event, self.settings.metric))
        if value is None:
            self.missing_values += 1
        if not math.isfinite(event.at):
            self.invalid_outcomes += 1  # no window to put it in; counted, never a crash
            return
        observation = Observation(
            at=event.at,
            key=awaiting.key,
            value=value,
            error=event.error,
            cost=_finite(event.cost_usd),
        )
        for windows in self.windows:
            self._record(windows.add(observation))

    def _record(self, results: list[WindowResult]) -> None:
        for result in results:
            name = f"{result.window}/{result.key}"
            current = self.latest.get(name)
            if result.retracted:
                if current is not None and (current.start, current.end) == (
                    result.start,
                    result.end,
                ):
                    del self.latest[name]
                    self.changed.add(name)
                continue
            if current is None or result.end >= current.end:
                self.latest[name] = result
                self.changed.add(name)

    def _expire(self, ttl: float) -> None:
        horizon = self.watermark - ttl
        while self.pending and self.pending[next(iter(self.pending))].at < horizon:
            self.pop_oldest("pending")
            self.expired_decisions += 1
        while self.joined and self.joined[next(iter(self.joined))] < horizon:
            self.pop_oldest("joined")

    def drain_changed(self) -> list[WindowResult]:
        """The emissions since the last call (for the publisher), oldest name first."""
        names, self.changed = sorted(self.changed), set()
        return [self.latest[name] for name in names if name in self.latest]

    def summary(self) -> dict[str, object]:
        return {
            "window": self.entity_id,
            "created": self.created,
            "archived": self.archived,
            "experiment": self.settings.experiment if self.settings else None,
            "events_applied": self.events_applied,
            "decisions": self.decisions,
            "outcomes": self.outcomes,
            "pending_decisions": len(self.pending),
            "unmatched_outcomes": self.unmatched_outcomes,
            "duplicate_outcomes": self.duplicate_outcomes,
            "expired_decisions": self.expired_decisions,
            "features": len(self.latest),
            "windows": {
                w.spec.name: {
                    "open": w.open_windows(),
                    "emitted": w.emitted,
                    "late_updates": w.late_updates,
                    "dropped_events": w.dropped_events,
                }
                for w in self.windows
            },
        }


def _finite(value: float | None) -> float | None:
    """The value as a float, or None if absent or not finite (NaN/inf cannot be windowed)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
