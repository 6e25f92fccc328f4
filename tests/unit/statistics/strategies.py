"""Hypothesis strategies for the statistics tests: counts, samples and p-values.

Use them with :data:`tests.strategies.DETERMINISTIC` so that runs are reproducible.
"""

from __future__ import annotations

from hypothesis import strategies as st

from actors.statistics import SampleSummary


@st.composite
def arm_counts(draw: st.DrawFn, max_trials: int = 100_000) -> tuple[int, int]:
    """``(successes, trials)`` of one arm: at least one trial, often 0 or all successes."""
    trials = draw(st.integers(min_value=1, max_value=max_trials))
    successes = draw(
        st.one_of(st.just(0), st.just(trials), st.integers(min_value=0, max_value=trials))
    )
    return successes, trials


means = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_subnormal=False)
variances = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_subnormal=False),
)


@st.composite
def sample_summaries(draw: st.DrawFn) -> SampleSummary:
    """One arm's (n, mean, variance), n from 1 (variance undefined) to a million."""
    n = draw(st.integers(min_value=1, max_value=1_000_000))
    return SampleSummary(n=n, mean=draw(means), variance=draw(variances) if n > 1 else float("nan"))


p_values = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
p_value_lists = st.lists(p_values | st.sampled_from([0.0, 0.01, 0.05, 1.0]), max_size=30)
"""Families of p-values, with ties and the ends 0 and 1 drawn often."""
