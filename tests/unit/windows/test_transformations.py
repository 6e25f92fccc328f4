"""Running normalisers, interaction features and the served-feature schema."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from actors.context_features import ContextEncoder
from actors.feature_schema import (
    BiasFeature,
    FeatureSchema,
    InteractionFeature,
    NumericFeature,
    OneHotFeature,
)
from actors.windows.feature_set import FeatureDefinition, FeatureSet
from actors.windows.running_scalers import RunningMinMax, RunningZScore


def test_z_score_matches_numpy_after_the_stream() -> None:
    """The z-score uses the mean and sample sd of every value seen so far."""
    x = np.random.default_rng(2).normal(100.0, 15.0, 500)
    z = RunningZScore()
    for v in x:
        z.update(float(v))
    assert z.transform(130.0) == pytest.approx((130.0 - x.mean()) / x.std(ddof=1), rel=1e-10)


def test_z_score_undefined_without_spread() -> None:
    """Before two distinct values the z-score is None rather than a division by zero."""
    z = RunningZScore()
    assert z.transform(1.0) is None
    z.update(5.0)
    z.update(5.0)
    assert z.transform(5.0) is None


def test_min_max_scales_and_clips() -> None:
    """Min-max maps the range seen onto [0, 1] and clips values outside it."""
    m = RunningMinMax()
    assert m.transform(3.0) is None
    for v in (2.0, 10.0, 6.0):
        m.update(v)
    assert [m.transform(v) for v in (2.0, 6.0, 10.0, 20.0, -5.0)] == [0.0, 0.5, 1.0, 1.0, 0.0]


def test_scalers_merge_like_one_stream() -> None:
    """Scalers fed on two shards and merged transform like one fed with everything."""
    a, b = [1.0, 4.0, 9.0], [2.0, 20.0]
    za, zb, zall = RunningZScore(), RunningZScore(), RunningZScore()
    ma, mb, mall = RunningMinMax(), RunningMinMax(), RunningMinMax()
    for v in a:
        za.update(v)
        ma.update(v)
    for v in b:
        zb.update(v)
        mb.update(v)
    for v in a + b:
        zall.update(v)
        mall.update(v)
    za.merge(zb)
    ma.merge(mb)
    assert za.transform(7.0) == pytest.approx(zall.transform(7.0), rel=1e-12)
    assert msgspec.msgpack.encode(ma) == msgspec.msgpack.encode(mall)


def test_interaction_multiplies_earlier_columns() -> None:
    """An interaction column is the product of the named columns declared before it."""
    schema = FeatureSchema(
        features=(
            BiasFeature(),
            OneHotFeature(name="tier", values=("free", "pro")),
            NumericFeature(name="budget", default=2.0),
            InteractionFeature(name="pro_x_budget", of=("tier=pro", "budget")),
        )
    )
    encoder = ContextEncoder(schema)
    assert schema.columns[-1] == "pro_x_budget"
    x, missing = encoder.encode({"tier": "pro", "budget": 3.0})
    assert x[-1] == 3.0 and missing == []
    x, _ = encoder.encode({"tier": "free", "budget": 3.0})
    assert x[-1] == 0.0
    x, missing = encoder.encode({"tier": "pro"})
    assert x[-1] == 2.0 and missing == ["budget"]


def test_interaction_of_unknown_or_later_columns_refused() -> None:
    """An interaction must name columns declared before it, and at least two of them."""
    with pytest.raises(ValueError, match="not declared before"):
        FeatureSchema(
            features=(
                InteractionFeature(name="ab", of=("a", "b")),
                NumericFeature(name="a"),
                NumericFeature(name="b"),
            )
        )
    with pytest.raises(ValueError, match="at least two"):
        InteractionFeature(name="a2", of=("a",))


def test_interaction_schema_round_trips_through_json() -> None:
    """A schema with descriptions and interactions decodes from the JSON it encodes to."""
    schema = FeatureSchema(
        features=(
            NumericFeature(name="a", description="request budget in USD"),
            NumericFeature(name="b"),
            InteractionFeature(name="ab", of=("a", "b")),
        )
    )
    data = msgspec.json.encode(schema)
    assert msgspec.json.decode(data, type=FeatureSchema) == schema


class TestFeatureSet:
    def test_defaults_must_match_type_and_nullability(self) -> None:
        """A default of the wrong type, or no default for a non-nullable feature, is refused."""
        with pytest.raises(ValueError, match="default"):
            FeatureDefinition(name="p95", type="float", default="fast")
        with pytest.raises(ValueError, match="default"):
            FeatureDefinition(name="n", type="int", nullable=False)
        with pytest.raises(ValueError, match="default"):
            FeatureDefinition(name="n", type="int", default=True)

    def test_accepts_values_of_its_type(self) -> None:
        """A float feature takes ints and floats but not booleans or strings."""
        f = FeatureDefinition(name="mean", type="float", default=0.0)
        assert f.accepts(1) and f.accepts(1.5) and f.accepts(None)
        assert not f.accepts(True) and not f.accepts("1")

    def test_duplicate_names_and_bad_version_refused(self) -> None:
        """A feature set names each feature once and starts at version 1."""
        f = FeatureDefinition(name="x")
        with pytest.raises(ValueError, match="duplicate"):
            FeatureSet(name="s", version=1, features=(f, f))
        with pytest.raises(ValueError, match="version"):
            FeatureSet(name="s", version=0, features=(f,))
        assert FeatureSet(name="s", version=2, features=(f,)).get("x") == f
