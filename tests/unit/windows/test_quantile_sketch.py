"""DDSketch: the relative-error bound against numpy, exact merges, canonical bytes."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.windows import QuantileSketch
from tests.strategies import DETERMINISTIC

QS = (0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0)


def sketch_of(values: np.ndarray | list[float], alpha: float = 0.01) -> QuantileSketch:
    s = QuantileSketch(alpha=alpha)
    for v in values:
        s.add(float(v))
    return s


@pytest.mark.parametrize("alpha", [0.01, 0.05])
@pytest.mark.parametrize(
    "distribution",
    [
        lambda rng: rng.lognormal(5.0, 1.5, 20_000),
        lambda rng: rng.pareto(1.5, 20_000) * 100,
        lambda rng: rng.normal(0.0, 50.0, 20_000),
        lambda rng: np.concatenate([np.zeros(500), rng.exponential(3.0, 5_000)]),
    ],
    ids=["lognormal", "pareto", "normal-signed", "exponential-with-zeros"],
)
def test_error_within_the_stated_bound(alpha: float, distribution: object) -> None:
    """Every quantile is within alpha relative error of numpy's lower quantile on seeded data."""
    x = distribution(np.random.default_rng(11))  # type: ignore[operator]
    s = sketch_of(x, alpha)
    for q in QS:
        exact = float(np.quantile(x, q, method="lower"))
        got = s.quantile(q)
        assert got is not None
        assert abs(got - exact) <= alpha * abs(exact) * (1 + 1e-9) + 1e-9, (q, got, exact)


def test_empty_sketch_has_no_quantile() -> None:
    """An empty sketch answers None, and a q outside [0, 1] is refused."""
    s = QuantileSketch()
    assert s.quantile(0.5) is None
    with pytest.raises(ValueError, match="q must be"):
        s.quantile(1.5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_value_refused(bad: float) -> None:
    """A NaN or infinite value raises a clear error instead of corrupting the counts."""
    with pytest.raises(ValueError, match="finite"):
        QuantileSketch().add(bad)


def test_invalid_alpha_refused() -> None:
    """A relative accuracy outside (0, 1) is refused at construction."""
    with pytest.raises(ValueError, match="alpha"):
        QuantileSketch(alpha=1.0)


@DETERMINISTIC
@given(
    st.lists(st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False), max_size=80),
    st.lists(st.floats(-1e4, 1e4, allow_nan=False, allow_subnormal=False), max_size=80),
)
def test_merge_equals_single_pass_bytes(a: list[float], b: list[float]) -> None:
    """A merge of two sketches has the very bytes of one sketch over both inputs, in any order."""
    merged = sketch_of(a)
    merged.merge(sketch_of(b))
    single = sketch_of(b + a)
    assert msgspec.msgpack.encode(merged) == msgspec.msgpack.encode(single)


def test_merge_of_different_alpha_refused() -> None:
    """Sketches whose buckets do not line up cannot be merged."""
    with pytest.raises(ValueError, match="cannot merge"):
        QuantileSketch(alpha=0.01).merge(QuantileSketch(alpha=0.02))


def test_collapsing_bounds_memory_and_keeps_upper_quantiles() -> None:
    """Past max_buckets (a contiguous key range) the lowest buckets collapse, counted; p99
    keeps its guarantee while its bucket is in the range kept."""
    x = np.random.default_rng(5).lognormal(0.0, 2.0, 20_000)
    s = sketch_of(x)
    small = QuantileSketch(max_buckets=300)
    for v in x:
        small.add(float(v))
    assert len(small.positive.counts) == 300 and small.collapsed > 0
    exact = float(np.quantile(x, 0.99, method="lower"))
    assert abs(small.quantile(0.99) - exact) <= 0.01 * exact * (1 + 1e-9)  # type: ignore[operator]
    assert small.count == s.count


def test_round_trip_keeps_bytes_and_answers() -> None:
    """A decoded sketch encodes to the same bytes and gives the same quantiles."""
    s = sketch_of(np.random.default_rng(1).exponential(10.0, 1000))
    data = msgspec.msgpack.encode(s)
    back = msgspec.msgpack.decode(data, type=QuantileSketch)
    assert msgspec.msgpack.encode(back) == data
    assert [back.quantile(q) for q in QS] == [s.quantile(q) for q in QS]
