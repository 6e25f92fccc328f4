"""Window invariants over generated histories: arrival order, merges and encoding."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.windows import (
    AnyWindow,
    KeyedWindows,
    Observation,
    SlidingWindow,
    WindowAccumulator,
    WindowResult,
)
from tests.strategies import DETERMINISTIC
from tests.unit.windows.strategies import late_arrivals, observations, window_kinds

OUT_OF_ORDERNESS = 2.0
LATENESS = 8.0

WindowId = tuple[str, float, float]


def final_windows(spec: AnyWindow, events: list[Observation]) -> dict[WindowId, WindowResult]:
    """The latest standing result of every window once the input ends."""
    w = KeyedWindows.of(spec, max_out_of_orderness=OUT_OF_ORDERNESS, allowed_lateness=LATENESS)
    latest: dict[WindowId, WindowResult] = {}
    for result in [r for e in events for r in w.add(e)] + w.close_all():
        wid = (result.key, result.start, result.end)
        if result.retracted:
            latest.pop(wid, None)
        else:
            latest[wid] = result
    assert w.dropped_events == 0 and w.dropped_assignments == 0
    return latest


def assert_same_stats(a: WindowResult, b: WindowResult) -> None:
    """Counts, extremes and quantiles exactly; sums and moments up to summation order."""
    sa, sb = a.stats, b.stats
    exact = ("count", "value_count", "low", "high", "error_rate", "p50", "p95", "p99")
    assert {f: getattr(sa, f) for f in exact} == {f: getattr(sb, f) for f in exact}
    for f in ("total", "mean", "std", "cost_total"):
        x, y = getattr(sa, f), getattr(sb, f)
        assert (x is None) == (y is None)
        if x is not None:
            assert x == pytest.approx(y, rel=1e-9, abs=1e-9)


@DETERMINISTIC
@given(spec=window_kinds, events=st.lists(observations, max_size=40), data=st.data())
def test_any_order_within_the_allowed_lateness_gives_the_same_windows(
    spec: AnyWindow, events: list[Observation], data: st.DataObject
) -> None:
    """Any arrival order in which no event is later than out-of-orderness + allowed lateness
    yields the same final windows as event-time order, and nothing is dropped."""
    in_order = sorted(events, key=lambda e: e.at)
    shuffled = data.draw(late_arrivals(events, OUT_OF_ORDERNESS + LATENESS))
    expected = final_windows(spec, in_order)
    got = final_windows(spec, shuffled)
    assert got.keys() == expected.keys()
    for wid, result in expected.items():
        assert_same_stats(got[wid], result)


@DETERMINISTIC
@given(st.lists(observations, max_size=30), st.lists(observations, max_size=30))
def test_accumulator_merge_equals_single_pass(a: list[Observation], b: list[Observation]) -> None:
    """Merging the accumulators of two parts of a window equals folding all of it at once."""
    left, right, single = WindowAccumulator(), WindowAccumulator(), WindowAccumulator()
    for e in a:
        left.add(e)
        single.add(e)
    for e in b:
        right.add(e)
        single.add(e)
    left.merge(right)
    key = "k"
    as_result = lambda acc: WindowResult(  # noqa: E731
        window="w", key=key, start=0.0, end=1.0, revision=0, stats=acc.stats()
    )
    assert_same_stats(as_result(left), as_result(single))
    assert msgspec.msgpack.encode(left.sketch) == msgspec.msgpack.encode(single.sketch)


@DETERMINISTIC
@given(spec=window_kinds, events=st.lists(observations, max_size=40), cut=st.integers(0, 40))
def test_decoded_state_continues_like_the_original(
    spec: AnyWindow, events: list[Observation], cut: int
) -> None:
    """Encoding the state mid-stream and continuing from the decoded copy gives the same
    results and the same bytes as never stopping (what a checkpoint relies on)."""
    live = KeyedWindows.of(spec, max_out_of_orderness=1.0, allowed_lateness=3.0)
    for e in events[:cut]:
        live.add(e)
    data = msgspec.msgpack.encode(live)
    restored = msgspec.msgpack.decode(data, type=KeyedWindows)
    assert msgspec.msgpack.encode(restored) == data
    for e in events[cut:]:
        assert restored.add(e) == live.add(e)
    assert msgspec.msgpack.encode(restored) == msgspec.msgpack.encode(live)


@DETERMINISTIC
@given(
    slide=st.sampled_from([2.0, 5.0]),
    ratio=st.integers(2, 4),
    events=st.lists(observations, max_size=50),
    data=st.data(),
)
def test_sliced_sliding_windows_equal_per_window_accumulation(
    slide: float, ratio: int, events: list[Observation], data: st.DataObject
) -> None:
    """A sliced sliding window emits exactly what accumulating every window separately emits,
    with late and dropped events in the stream."""
    spec = SlidingWindow(size=ratio * slide, slide=slide)
    arrivals = data.draw(late_arrivals(events, 3 * (OUT_OF_ORDERNESS + LATENESS)))
    sliced = KeyedWindows.of(spec, max_out_of_orderness=OUT_OF_ORDERNESS, allowed_lateness=LATENESS)
    plain = KeyedWindows.of(spec, max_out_of_orderness=OUT_OF_ORDERNESS, allowed_lateness=LATENESS)
    plain._sliced = False
    assert sliced._sliced
    for event in arrivals:
        got, want = sliced.add(event), plain.add(event)
        assert [(r.key, r.start, r.end, r.revision) for r in got] == [
            (r.key, r.start, r.end, r.revision) for r in want
        ]
        for a, b in zip(got, want, strict=True):
            assert_same_stats(a, b)
    assert (sliced.dropped_events, sliced.late_updates) == (
        plain.dropped_events,
        plain.late_updates,
    )
    assert not plain.slices
