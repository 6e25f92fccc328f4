"""Hypothesis strategies for the window tests: observations, window kinds and arrival orders."""

from __future__ import annotations

from hypothesis import strategies as st

from actors.windows import (
    AnyWindow,
    Observation,
    SessionWindow,
    SlidingWindow,
    TumblingWindow,
)

T0 = 1_700_000_000.0

window_kinds: st.SearchStrategy[AnyWindow] = st.one_of(
    st.builds(TumblingWindow, size=st.sampled_from([5.0, 10.0, 60.0])),
    st.sampled_from([5.0, 10.0]).flatmap(
        lambda slide: st.builds(
            SlidingWindow, size=st.sampled_from([slide, 2 * slide, 3 * slide]), slide=st.just(slide)
        )
    ),
    st.builds(SessionWindow, gap=st.sampled_from([3.0, 10.0])),
)

observations = st.builds(
    Observation,
    at=st.integers(min_value=0, max_value=4000).map(lambda tenths: T0 + tenths / 10),
    key=st.sampled_from(["gpt-4o", "haiku", "llama"]),
    value=st.one_of(
        st.none(),
        st.floats(min_value=0.0, max_value=5000.0, allow_nan=False, allow_subnormal=False),
    ),
    error=st.booleans(),
    cost=st.one_of(st.none(), st.floats(min_value=0.0, max_value=1.0, allow_subnormal=False)),
)


@st.composite
def late_arrivals(
    draw: st.DrawFn, events: list[Observation], max_delay: float
) -> list[Observation]:
    """An arrival order of ``events`` in which no event arrives after one more than
    ``max_delay`` seconds newer than itself: sorted by event time plus a delay in
    ``[0, max_delay]``, so for any earlier arrival ``e'``, ``e'.at - e.at <= max_delay``."""
    delays = draw(
        st.lists(
            st.floats(min_value=0.0, max_value=max_delay, allow_nan=False),
            min_size=len(events),
            max_size=len(events),
        )
    )
    order = sorted(range(len(events)), key=lambda i: (events[i].at + delays[i], i))
    return [events[i] for i in order]
