"""Event-time windows of one kind, per key: assignment, firing, late updates, purging.

The semantics are the Dataflow model's (Akidau et al., VLDB 2015) as Flink implements them:

* an observation is assigned to its windows (one tumbling, several sliding, one session that
  merges with the key's overlapping sessions);
* a window **fires** (emits a :class:`WindowResult`, revision 0) when the watermark reaches its
  end; the watermark is ``max event time - max_out_of_orderness``;
* until the watermark passes ``end + allowed_lateness`` the window is kept; a late observation
  for it updates it and **re-emits** it with the next revision (counted in ``late_updates``);
* after that the window is purged, and an observation for it is **dropped and counted**
  (``dropped_assignments`` per window, ``dropped_events`` when none of its windows is open);
* when sessions merge, a merged-away session that had fired is **retracted** (a result with
  ``retracted=True``) so a reader can tell that it no longer stands.

All state is a msgspec Struct (panes sorted by start, per key in insertion order): the same
input in the same order gives the same bytes. Nothing reads a clock.
"""

from __future__ import annotations

import math

import msgspec

from actors.windows.observation import Observation
from actors.windows.session import SessionWindow
from actors.windows.sliding import SlidingWindow
from actors.windows.tumbling import TumblingWindow
from actors.windows.watermark import Watermark
from actors.windows.window_stats import WindowAccumulator, WindowStats

AnyWindow = TumblingWindow | SlidingWindow | SessionWindow


class WindowResult(msgspec.Struct, frozen=True, kw_only=True):
    """One emission of one window of one key."""

    window: str
    """The window kind's name, e.g. ``tumbling_60s``."""
    key: str
    start: float
    end: float
    revision: int
    """0 when the window first fires; +1 at each late update."""
    stats: WindowStats
    retracted: bool = False
    """A session that was merged into another after it had fired: discard what it said."""


class Pane(msgspec.Struct, kw_only=True, array_like=True):
    """One window of one key. ``acc`` is None for a sliced sliding window, whose statistics
    are merged from its slices when it is emitted."""

    start: float
    end: float
    acc: WindowAccumulator | None
    fired: bool = False
    revision: int = -1
    """The revision last emitted (-1: never)."""


class Slice(msgspec.Struct, array_like=True):
    start: float
    acc: WindowAccumulator


class KeyedWindows(msgspec.Struct, kw_only=True, dict=True):
    """Windows of one kind for every key; feed with :meth:`add` and :meth:`advance`.

    A sliding window whose size is a whole number of slides is **sliced** (Li et al., "No pane,
    no gain", SIGMOD Record 34(1), 2005): an observation goes into one slide-long slice instead
    of ``size / slide`` windows, and a window's statistics are the merge of its slices when it
    is emitted. Every statistic merges exactly or by Chan et al., so the results are those of
    per-window accumulation (up to summation order) at a fraction of the cost per event.
    """

    spec: AnyWindow
    allowed_lateness: float = 0.0
    alpha: float = 0.01
    """Relative accuracy of every window's quantile sketch."""
    watermark: Watermark = msgspec.field(default_factory=Watermark)
    panes: dict[str, list[Pane]] = msgspec.field(default_factory=dict)
    slices: dict[str, list[Slice]] = msgspec.field(default_factory=dict)
    """Sliced sliding windows only: per key, slide-long accumulators sorted by start."""
    next_fire: float | None = None
    """The smallest end of a pane not yet fired: no scan is needed before the watermark."""
    next_purge: float | None = None
    """The smallest ``end + allowed_lateness`` of any pane."""
    events: int = 0
    emitted: int = 0
    late_updates: int = 0
    dropped_assignments: int = 0
    dropped_events: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.allowed_lateness) and self.allowed_lateness >= 0):
            raise ValueError(
                f"allowed_lateness: must be a finite number >= 0, got {self.allowed_lateness}"
            )
        self.allowed_lateness = float(self.allowed_lateness)
        spec = self.spec
        self._sliced = (
            isinstance(spec, SlidingWindow)
            and spec.slide < spec.size
            and round(spec.size / spec.slide) * spec.slide == spec.size
        )

    @classmethod
    def of(
        cls,
        spec: AnyWindow,
        *,
        max_out_of_orderness: float = 0.0,
        allowed_lateness: float = 0.0,
        alpha: float = 0.01,
    ) -> KeyedWindows:
        return cls(
            spec=spec,
            allowed_lateness=allowed_lateness,
            alpha=alpha,
            watermark=Watermark(max_out_of_orderness=max_out_of_orderness),
        )

    def add(self, obs: Observation) -> list[WindowResult]:
        """Fold one observation; returns what fired, was updated or retracted because of it."""
        self.events += 1
        out: list[WindowResult] = []
        horizon = self.watermark.current - self.allowed_lateness
        kept = 0
        fired: list[Pane] = []
        windows = self.spec.assign(obs.at)
        for start, end in windows:
            if end <= horizon:
                self.dropped_assignments += 1
                continue
            kept += 1
            pane = self._pane_for(obs.key, start, end, out)
            if pane.acc is not None:
                pane.acc.add(obs)
            if pane.fired:
                if pane.revision >= 0:
                    self.late_updates += 1
                fired.append(pane)
        if kept == 0:
            self.dropped_events += 1
        elif self._sliced:
            # The newest window's start is the observation's slice (windows start every slide).
            self._slice_for(obs.key, windows[-1][0]).acc.add(obs)
        for pane in fired:
            out.append(self._emit(obs.key, pane))
        if self.watermark.observe(obs.at):
            out.extend(self._progress())
        return out

    def advance(self, at: float) -> list[WindowResult]:
        """Move event time forward without an observation (e.g. another kind of event)."""
        if self.watermark.observe(at):
            return self._progress()
        return []

    def close_all(self) -> list[WindowResult]:
        """Fire every window still open, as if the watermark were at infinity (end of input);
        the panes are kept so later calls see the same state."""
        out = []
        for key, panes in self.panes.items():
            for pane in panes:
                if not pane.fired:
                    pane.fired = True
                    out.append(self._emit(key, pane))
        self.next_fire = None
        return out

    def open_windows(self) -> int:
        return sum(len(panes) for panes in self.panes.values())

    # -- internals -------------------------------------------------------------------------

    def _pane_for(self, key: str, start: float, end: float, out: list[WindowResult]) -> Pane:
        panes = self.panes.setdefault(key, [])
        if self.spec.merging:
            return self._merge_session(key, panes, start, end, out)
        for pane in panes:
            if pane.start == start:
                return pane
        acc = None if self._sliced else WindowAccumulator.with_alpha(self.alpha)
        pane = Pane(start=start, end=end, acc=acc)
        pane.fired = end <= self.watermark.current  # late but allowed: it fires at once
        index = len(panes)
        while index > 0 and panes[index - 1].start > start:
            index -= 1
        panes.insert(index, pane)
        self._schedule(pane)
        return pane

    def _slice_for(self, key: str, start: float) -> Slice:
        slices = self.slices.setdefault(key, [])
        for piece in reversed(slices):  # usually the newest
            if piece.start == start:
                return piece
            if piece.start < start:
                break
        piece = Slice(start, WindowAccumulator.with_alpha(self.alpha))
        index = len(slices)
        while index > 0 and slices[index - 1].start > start:
            index -= 1
        slices.insert(index, piece)
        return piece

    def _stats(self, key: str, pane: Pane) -> WindowStats:
        if pane.acc is not None:
            return pane.acc.stats()
        acc = WindowAccumulator.with_alpha(self.alpha)
        for piece in self.slices.get(key, ()):
            if pane.start <= piece.start < pane.end:
                acc.merge(piece.acc)
        return acc.stats()

    def _merge_session(
        self, key: str, panes: list[Pane], start: float, end: float, out: list[WindowResult]
    ) -> Pane:
        overlapping = [p for p in panes if p.start < end and start < p.end]
        if len(overlapping) == 1 and not overlapping[0].fired:
            # The usual case, an open session growing: extend it in place. Its old end stays a
            # valid lower bound for next_fire/next_purge, which are only ever lower bounds.
            pane = overlapping[0]
            if start < pane.start:
                pane.start = start
                panes.sort(key=lambda p: p.start)
            pane.end = max(pane.end, end)
            return pane
        if len(overlapping) == 1 and overlapping[0].start <= start and end <= overlapping[0].end:
            return overlapping[0]
        merged = Pane(
            start=min([start, *(p.start for p in overlapping)]),
            end=max([end, *(p.end for p in overlapping)]),
            acc=WindowAccumulator.with_alpha(self.alpha),
        )
        assert merged.acc is not None
        for pane in overlapping:
            assert pane.acc is not None
            merged.acc.merge(pane.acc)
            merged.revision = max(merged.revision, pane.revision)
            if pane.fired:
                out.append(self._retraction(key, pane))
            panes.remove(pane)
        # Past the watermark already (late but allowed, or a fired session that grew without
        # reaching beyond it): the caller emits it at once.
        merged.fired = merged.end <= self.watermark.current
        index = len(panes)
        while index > 0 and panes[index - 1].start > merged.start:
            index -= 1
        panes.insert(index, merged)
        self._schedule(merged)
        return merged

    def _schedule(self, pane: Pane) -> None:
        if not pane.fired and (self.next_fire is None or pane.end < self.next_fire):
            self.next_fire = pane.end
        purge_at = pane.end + self.allowed_lateness
        if self.next_purge is None or purge_at < self.next_purge:
            self.next_purge = purge_at

    def _progress(self) -> list[WindowResult]:
        now = self.watermark.current
        out: list[WindowResult] = []
        if self.next_fire is not None and self.next_fire <= now:
            next_fire: float | None = None
            for key, panes in self.panes.items():
                for pane in panes:
                    if pane.fired:
                        continue
                    if pane.end <= now:
                        pane.fired = True
                        out.append(self._emit(key, pane))
                    elif next_fire is None or pane.end < next_fire:
                        next_fire = pane.end
            self.next_fire = next_fire
        if self.next_purge is not None and self.next_purge <= now:
            next_purge: float | None = None
            for key in list(self.panes):
                kept = []
                for pane in self.panes[key]:
                    purge_at = pane.end + self.allowed_lateness
                    if purge_at > now:
                        kept.append(pane)
                        if next_purge is None or purge_at < next_purge:
                            next_purge = purge_at
                if kept:
                    self.panes[key] = kept
                else:
                    del self.panes[key]
            # A slice lives as long as the newest window containing it: the one it starts.
            size = self.spec.size if isinstance(self.spec, SlidingWindow) else 0.0
            for key in list(self.slices):
                alive = [
                    p for p in self.slices[key] if p.start + size + self.allowed_lateness > now
                ]
                if alive:
                    self.slices[key] = alive
                else:
                    del self.slices[key]
            self.next_purge = next_purge
        return out

    def _emit(self, key: str, pane: Pane) -> WindowResult:
        pane.revision += 1
        self.emitted += 1
        return WindowResult(
            window=self.spec.name,
            key=key,
            start=pane.start,
            end=pane.end,
            revision=pane.revision,
            stats=self._stats(key, pane),
        )

    def _retraction(self, key: str, pane: Pane) -> WindowResult:
        self.emitted += 1
        return WindowResult(
            window=self.spec.name,
            key=key,
            start=pane.start,
            end=pane.end,
            revision=pane.revision + 1,
            stats=self._stats(key, pane),
            retracted=True,
        )
