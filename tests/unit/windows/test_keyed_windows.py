"""Window semantics on hand-made cases: firing, out-of-order and late events, sessions, keys."""

from __future__ import annotations

import math

import msgspec
import pytest

from actors.windows import (
    KeyedWindows,
    Observation,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
    WindowResult,
)


def obs(at: float, value: float | None = None, key: str = "a", **fields: object) -> Observation:
    return Observation(at=at, key=key, value=value, **fields)  # type: ignore[arg-type]


def feed(windows: KeyedWindows, events: list[Observation]) -> list[WindowResult]:
    return [result for event in events for result in windows.add(event)]


def spans(results: list[WindowResult]) -> list[tuple[str, float, float, int, int]]:
    return [(r.key, r.start, r.end, r.revision, r.stats.count) for r in results]


class TestTumbling:
    def test_assignment_is_aligned_and_half_open(self) -> None:
        """An event at a window's end belongs to the next window, never to both."""
        spec = TumblingWindow(size=10.0)
        assert spec.assign(9.999) == [(0.0, 10.0)]
        assert spec.assign(10.0) == [(10.0, 20.0)]
        assert spec.assign(-0.5) == [(-10.0, 0.0)]
        assert TumblingWindow(size=10.0, offset=3.0).assign(12.0) == [(3.0, 13.0)]

    def test_fires_when_the_watermark_passes_the_end(self) -> None:
        """A window fires once the newest event time minus the out-of-orderness reaches its end."""
        w = KeyedWindows.of(TumblingWindow(size=10.0), max_out_of_orderness=2.0)
        assert feed(w, [obs(1, 1.0), obs(5, 3.0), obs(11, 7.0)]) == []
        fired = w.add(obs(12.0, 1.0))
        assert spans(fired) == [("a", 0.0, 10.0, 0, 2)]
        assert fired[0].stats.mean == 2.0 and fired[0].stats.high == 3.0

    def test_out_of_order_within_the_bound_is_on_time(self) -> None:
        """An event older than the newest but not older than the watermark counts as on time."""
        w = KeyedWindows.of(TumblingWindow(size=10.0), max_out_of_orderness=5.0)
        fired = feed(w, [obs(1, 1.0), obs(12, 1.0), obs(8, 5.0), obs(16, 1.0)])
        assert spans(fired) == [("a", 0.0, 10.0, 0, 2)]
        assert w.late_updates == 0 and w.dropped_events == 0

    def test_late_within_allowed_lateness_updates_and_re_emits(self) -> None:
        """A late event for a fired window that is still kept updates it with the next revision."""
        w = KeyedWindows.of(TumblingWindow(size=10.0), allowed_lateness=5.0)
        assert spans(feed(w, [obs(1, 1.0), obs(10, 2.0)])) == [("a", 0.0, 10.0, 0, 1)]
        again = w.add(obs(4, 3.0))
        assert spans(again) == [("a", 0.0, 10.0, 1, 2)]
        assert again[0].stats.mean == 2.0
        assert w.late_updates == 1

    def test_later_than_allowed_lateness_is_dropped_and_counted(self) -> None:
        """An event whose window has been purged changes nothing and is counted as dropped."""
        w = KeyedWindows.of(TumblingWindow(size=10.0), allowed_lateness=5.0)
        feed(w, [obs(1, 1.0), obs(15, 2.0)])
        before = msgspec.msgpack.encode(w.panes)
        assert w.add(obs(3, 100.0)) == []
        assert w.dropped_events == 1 and w.dropped_assignments == 1
        assert msgspec.msgpack.encode(w.panes) == before

    def test_late_event_for_a_window_never_opened_fires_at_once(self) -> None:
        """An allowed-late event whose window the key never had is emitted immediately."""
        w = KeyedWindows.of(TumblingWindow(size=10.0), allowed_lateness=30.0)
        w.add(obs(25, 1.0, key="a"))
        assert spans(w.add(obs(5, 2.0, key="b"))) == [("b", 0.0, 10.0, 0, 1)]
        assert w.late_updates == 0  # first emission of that window, not an update

    def test_keys_are_independent(self) -> None:
        """Each key has its own windows; one watermark moves them all."""
        w = KeyedWindows.of(TumblingWindow(size=10.0))
        fired = feed(w, [obs(1, 1.0, key="m1"), obs(2, 2.0, key="m2"), obs(3, 3.0, key="m1")])
        fired += w.add(obs(10, 0.0, key="m3"))
        assert sorted(spans(fired)) == [("m1", 0.0, 10.0, 0, 2), ("m2", 0.0, 10.0, 0, 1)]

    def test_purged_windows_release_their_state(self) -> None:
        """Windows past their lateness leave the state: memory is bounded by event-time span."""
        w = KeyedWindows.of(TumblingWindow(size=1.0), allowed_lateness=2.0)
        for t in range(1000):
            w.add(obs(float(t), 1.0, key=f"k{t % 5}"))
        assert w.open_windows() <= 5 * 4

    def test_error_rate_and_cost(self) -> None:
        """Error rate is errors over observations; cost totals add; a missing value is skipped."""
        w = KeyedWindows.of(TumblingWindow(size=10.0))
        feed(w, [obs(1, 10.0, error=True, cost=0.5), obs(2, None, cost=0.25), obs(3, 20.0)])
        (result,) = w.add(obs(10.0, 1.0))
        s = result.stats
        assert (s.count, s.value_count) == (3, 2)
        assert s.error_rate == pytest.approx(1 / 3)
        assert s.cost_total == 0.75
        assert s.std == pytest.approx(math.sqrt(50.0))


class TestSliding:
    def test_each_event_is_in_size_over_slide_windows(self) -> None:
        """With size 30 and slide 10 an event belongs to three windows, oldest first."""
        assert SlidingWindow(size=30.0, slide=10.0).assign(25.0) == [
            (0.0, 30.0),
            (10.0, 40.0),
            (20.0, 50.0),
        ]
        assert SlidingWindow(size=25.0, slide=10.0).assign(5.0) == [(-10.0, 15.0), (0.0, 25.0)]

    def test_windows_fire_in_end_order(self) -> None:
        """Overlapping windows fire one by one as the watermark passes each end."""
        w = KeyedWindows.of(SlidingWindow(size=20.0, slide=10.0))
        fired = feed(w, [obs(5, 1.0), obs(15, 2.0), obs(25, 3.0)])
        assert spans(fired) == [("a", -10.0, 10.0, 0, 1), ("a", 0.0, 20.0, 0, 2)]

    def test_an_event_late_for_some_windows_still_updates_the_others(self) -> None:
        """Windows already purged are skipped and counted; the event still reaches open ones."""
        w = KeyedWindows.of(SlidingWindow(size=20.0, slide=10.0), allowed_lateness=0.0)
        feed(w, [obs(5, 1.0), obs(10.0, 1.0)])
        w.add(obs(9.0, 1.0))
        assert w.dropped_assignments == 1 and w.dropped_events == 0

    def test_slide_larger_than_size_refused(self) -> None:
        """A sliding window that would leave gaps between windows is refused, naming the field."""
        with pytest.raises(ValueError, match="slide"):
            SlidingWindow(size=5.0, slide=10.0)


class TestSession:
    def test_gap_splits_sessions(self) -> None:
        """Events closer than the gap share a session, which ends one gap after its last event."""
        w = KeyedWindows.of(SessionWindow(gap=5.0))
        fired = feed(w, [obs(1, 1.0), obs(4, 1.0), obs(20, 1.0)])
        assert spans(fired) == [("a", 1.0, 9.0, 0, 2)]

    def test_a_late_event_bridges_two_sessions(self) -> None:
        """A late event between two fired sessions merges them; both are retracted, one emitted."""
        w = KeyedWindows.of(SessionWindow(gap=5.0), allowed_lateness=100.0)
        feed(w, [obs(1, 1.0), obs(10, 2.0), obs(30, 3.0)])
        out = w.add(obs(5.5, 4.0))
        assert [(r.start, r.end, r.retracted) for r in out] == [
            (1.0, 6.0, True),
            (10.0, 15.0, True),
            (1.0, 15.0, False),
        ]
        assert out[-1].stats.count == 3 and out[-1].revision == 1

    def test_an_event_extending_an_open_session_does_not_emit(self) -> None:
        """Extending a session the watermark has not reached only moves its end."""
        w = KeyedWindows.of(SessionWindow(gap=5.0))
        assert feed(w, [obs(1, 1.0), obs(3, 1.0), obs(7, 1.0)]) == []
        assert [(p.start, p.end) for p in w.panes["a"]] == [(1.0, 12.0)]


class TestValidation:
    @pytest.mark.parametrize(
        ("build", "field"),
        [
            (lambda: TumblingWindow(size=0.0), "size"),
            (lambda: TumblingWindow(size=math.inf), "size"),
            (lambda: SessionWindow(gap=-1.0), "gap"),
            (lambda: KeyedWindows.of(TumblingWindow(size=1.0), allowed_lateness=-1), "allowed"),
            (lambda: KeyedWindows.of(TumblingWindow(size=1.0), max_out_of_orderness=-1), "max_out"),
            (lambda: Observation(at=math.nan, key="a"), "at"),
            (lambda: Observation(at=1.0, key="a", value=math.inf), "value"),
            (lambda: Observation(at=1.0, key="a", cost=math.nan), "cost"),
        ],
    )
    def test_bad_parameters_name_the_field(self, build: object, field: str) -> None:
        """Invalid window parameters and observations raise ValueError naming the field."""
        with pytest.raises(ValueError, match=field):
            build()  # type: ignore[operator]

    def test_round_trip_keeps_bytes(self) -> None:
        """A window state decodes to the same bytes and goes on to emit the same results."""
        w = KeyedWindows.of(SlidingWindow(size=10, slide=5), max_out_of_orderness=2)
        feed(w, [obs(1, 1.0, cost=1), obs(3, 2.0), obs(12, 3.0)])
        data = msgspec.msgpack.encode(w)
        back = msgspec.msgpack.decode(data, type=KeyedWindows)
        assert msgspec.msgpack.encode(back) == data
        assert back.add(obs(30, 1.0)) == w.add(obs(30, 1.0))
