"""Running moments: Welford's single pass and Chan et al.'s merge against numpy."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.windows import RunningMoments
from tests.strategies import DETERMINISTIC


def moments_of(values: list[float] | np.ndarray) -> RunningMoments:
    m = RunningMoments()
    for v in values:
        m.add(float(v))
    return m


def test_matches_numpy_on_seeded_data() -> None:
    """Count, sum, mean, min, max and sample standard deviation equal numpy's to 1e-12."""
    x = np.random.default_rng(7).lognormal(3.0, 1.0, 10_000)
    m = moments_of(x)
    assert m.count == x.size
    assert m.total == pytest.approx(x.sum(), rel=1e-12)
    assert m.mean == pytest.approx(x.mean(), rel=1e-12)
    assert m.low == x.min() and m.high == x.max()
    assert m.std == pytest.approx(x.std(ddof=1), rel=1e-10)


def test_stable_on_a_large_offset() -> None:
    """Values 1e9 + small noise keep their variance, where sum-of-squares loses every digit."""
    rng = np.random.default_rng(3)
    x = 1e9 + rng.normal(0.0, 1.0, 5_000)
    naive = (np.sum(x**2) - x.size * x.mean() ** 2) / (x.size - 1)
    m = moments_of(x)
    assert m.variance == pytest.approx(np.var(x, ddof=1), rel=1e-6)
    assert abs(naive - np.var(x, ddof=1)) > 1e-3  # the formula Welford replaces does fail here


def test_fewer_than_two_values_have_no_variance() -> None:
    """The sample variance is undefined (None) for zero or one value, and empty merges are no-ops."""
    m = RunningMoments()
    assert m.variance is None and m.std is None
    m.merge(RunningMoments())
    m.add(4.0)
    assert m.variance is None and m.mean == 4.0


@DETERMINISTIC
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=60),
)
def test_merge_equals_single_pass(a: list[float], b: list[float]) -> None:
    """Merging the moments of two halves equals one pass over both, up to rounding."""
    merged = moments_of(a)
    merged.merge(moments_of(b))
    single = moments_of(a + b)
    assert merged.count == single.count
    assert (merged.low, merged.high) == (single.low, single.high)
    assert merged.total == pytest.approx(single.total, rel=1e-9, abs=1e-6)
    assert merged.mean == pytest.approx(single.mean, rel=1e-9, abs=1e-6)
    assert merged.m2 == pytest.approx(single.m2, rel=1e-9, abs=1e-3)


def test_round_trip_keeps_bytes() -> None:
    """Encoding, decoding and encoding again gives the same bytes."""
    m = moments_of([1.0, 2.5, -3.0])
    data = msgspec.msgpack.encode(m)
    assert msgspec.msgpack.encode(msgspec.msgpack.decode(data, type=RunningMoments)) == data
