"""The context encoder: request JSON to the vector x, with defaults, reported gaps and typed errors."""

from __future__ import annotations

import math
import pickle
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.context_features import ContextEncoder, ContextError, stable_bucket
from actors.feature_schema import (
    BiasFeature,
    CyclicalFeature,
    FeatureSchema,
    HashedFeature,
    NumericFeature,
    OneHotFeature,
    TokenCountFeature,
)
from tests.strategies import DETERMINISTIC

SCHEMA = FeatureSchema(
    features=(
        BiasFeature(),
        NumericFeature(name="temperature", default=0.7),
        NumericFeature(name="cost", scale="log1p"),
        NumericFeature(name="budget", scale="standardise", mean=0.5, sd=0.2, default=0.5),
        TokenCountFeature(name="input_tokens"),
        OneHotFeature(name="tier", values=("free", "pro")),
        HashedFeature(name="service", buckets=8),
        CyclicalFeature(name="ts", period="hour_of_day"),
        CyclicalFeature(name="ts", period="day_of_week"),
    )
)
ENCODER = ContextEncoder(SCHEMA)
FIELDS = ["temperature", "cost", "budget", "input_tokens", "tier", "service", "ts"]
HOUR_S = 3600.0
THURSDAY = (math.sin(2 * math.pi * 3 / 7), math.cos(2 * math.pi * 3 / 7))
"""1970-01-01, day 0 of Unix time, was a Thursday: weekday 3 with Monday = 0."""


def one_hot(size: int, index: int | None) -> list[float]:
    return [1.0 if i == index else 0.0 for i in range(size)]


def expected(
    numbers: tuple[float, float, float, float],
    tier: int | None,
    service: int | None,
    hour: tuple[float, float],
    weekday: tuple[float, float],
) -> list[float]:
    """x for SCHEMA: bias, the four numbers, tier (free, pro, other), 8 service buckets, time."""
    return [1.0, *numbers, *one_hot(3, tier), *one_hot(8, service), *hour, *weekday]


class TestEncoding:
    @pytest.mark.parametrize(
        ("context", "vector", "missing"),
        [
            pytest.param(
                {
                    "temperature": 0.2,
                    "cost": math.e - 1,
                    "budget": 0.9,
                    "input_tokens": math.e**2 - 1,
                    "tier": "pro",
                    "service": "checkout",
                    "ts": 6 * HOUR_S,
                },
                expected((0.2, 1.0, 2.0, 2.0), 1, 6, (1.0, 0.0), THURSDAY),
                [],
                id="every-field",
            ),
            pytest.param(
                {},
                expected((0.7, 0.0, 0.0, 0.0), None, None, (0.0, 0.0), (0.0, 0.0)),
                FIELDS,
                id="empty",
            ),
            pytest.param(
                {"temperature": 1, "tier": "enterprise", "ts": "2024-01-01T18:00:00Z", "x": "?"},
                expected((1.0, 0.0, 0.0, 0.0), 2, None, (-1.0, 0.0), (0.0, 1.0)),
                ["cost", "budget", "input_tokens", "service"],
                id="other-tier-iso-monday-extra-key",
            ),
            pytest.param(
                {"temperature": None, "tier": "free", "service": "search", "ts": None},
                expected((0.7, 0.0, 0.0, 0.0), 0, 1, (0.0, 0.0), (0.0, 0.0)),
                ["temperature", "cost", "budget", "input_tokens", "ts"],
                id="nulls-are-missing",
            ),
        ],
    )
    def test_contexts_encode_to_expected_vectors(
        self, context: dict[str, Any], vector: list[float], missing: list[str]
    ) -> None:
        """Each context encodes to the vector worked out by hand and lists exactly its missing fields."""
        x, gaps = ENCODER.encode(context)
        assert x.dtype == np.float64
        np.testing.assert_allclose(x, vector, atol=1e-12)
        assert gaps == missing

    def test_columns_name_every_element(self) -> None:
        """The schema names every element of x, in order, and dim counts them."""
        assert SCHEMA.columns == (
            "bias",
            "temperature",
            "cost",
            "budget",
            "input_tokens",
            "tier=free",
            "tier=pro",
            "tier=<other>",
            *(f"service#{i}" for i in range(8)),
            "ts:hour_sin",
            "ts:hour_cos",
            "ts:weekday_sin",
            "ts:weekday_cos",
        )
        assert ENCODER.dim == SCHEMA.dim == 20

    @pytest.mark.parametrize(
        ("feature", "value", "column"),
        [
            (NumericFeature(name="f", default=3.0), 3.0, 3.0),
            (NumericFeature(name="f", scale="log1p", default=math.e - 1), 1.0, 1.0),
            (
                NumericFeature(name="f", scale="standardise", mean=1.0, sd=2.0, default=5.0),
                2.0,
                2.0,
            ),
            (TokenCountFeature(name="f", default=math.e - 1), 1.0, 1.0),
        ],
        ids=["plain", "log1p", "standardise", "tokens"],
    )
    def test_numeric_defaults_are_scaled_like_values(
        self, feature: Any, value: float, column: float
    ) -> None:
        """A missing number takes its default in the field's own units, then is scaled like a value."""
        x, missing = ContextEncoder(FeatureSchema(features=(feature,))).encode({})
        assert x.tolist() == pytest.approx([column])
        assert missing == ["f"]

    @pytest.mark.parametrize(
        ("feature", "size", "index"),
        [
            (OneHotFeature(name="tier", values=("free", "pro"), default="pro"), 3, 1),
            (OneHotFeature(name="tier", values=("free", "pro"), default="gold"), 3, 2),
            (HashedFeature(name="tier", buckets=8, default="checkout"), 8, 6),
        ],
        ids=["declared", "other", "hashed"],
    )
    def test_categorical_defaults_apply_when_missing(
        self, feature: Any, size: int, index: int
    ) -> None:
        """A missing category takes its default's column and is still reported missing."""
        x, missing = ContextEncoder(FeatureSchema(features=(feature,))).encode({})
        assert x.tolist() == one_hot(size, index)
        assert missing == ["tier"]

    @DETERMINISTIC
    @given(
        present=st.sets(st.sampled_from(FIELDS)),
        number=st.floats(min_value=0, max_value=1e12, allow_nan=False),
        label=st.text(max_size=12),
        ts=st.one_of(st.integers(-(2**40), 2**40), st.floats(-1e11, 1e11, allow_nan=False)),
    )
    def test_any_valid_context_encodes_to_dim_finite_values(
        self, present: set[str], number: float, label: str, ts: float
    ) -> None:
        """Any well-typed context encodes deterministically to dim finite values and lists the absent fields."""
        values: dict[str, Any] = {
            "temperature": number,
            "cost": number,
            "budget": number,
            "input_tokens": int(number),
            "tier": label,
            "service": label,
            "ts": ts,
        }
        context = {field: values[field] for field in present}
        x, missing = ENCODER.encode(context)
        assert len(x) == ENCODER.dim
        assert np.isfinite(x).all()
        assert missing == [field for field in FIELDS if field not in present]
        again, _ = ENCODER.encode(dict(reversed(context.items())))
        assert np.array_equal(x, again)


class TestWrongTypes:
    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("temperature", "hot", "expected a number, got string"),
            ("temperature", True, "expected a number, got boolean"),
            ("temperature", 10**400, "out of range"),
            ("budget", math.nan, "finite"),
            ("cost", -1.0, "log1p"),
            ("input_tokens", -3, ">= 0"),
            ("input_tokens", "12", "got string"),
            ("tier", 3, "expected a string, got number"),
            ("service", ["a"], "expected a string, got array"),
            ("ts", "yesterday", "ISO 8601"),
            ("ts", {"h": 1}, "got object"),
        ],
    )
    def test_wrong_type_names_the_field(self, field: str, value: Any, message: str) -> None:
        """A value of the wrong type or range raises ContextError naming the field and the problem."""
        with pytest.raises(ContextError, match=message) as caught:
            ENCODER.encode({field: value})
        assert caught.value.field == field
        assert str(caught.value).startswith(f"{field}: ")

    def test_context_must_be_an_object(self) -> None:
        """A context that is not a JSON object is refused as a whole."""
        with pytest.raises(ContextError, match="expected an object, got array") as caught:
            ENCODER.encode([1, 2])  # type: ignore[arg-type]
        assert caught.value.field == "context"

    def test_error_survives_pickling(self) -> None:
        """A ContextError keeps its field and message through pickling (as across a Ray call)."""
        error = pickle.loads(pickle.dumps(ContextError("tier", "expected a string, got number")))
        assert (error.field, error.message) == ("tier", "expected a string, got number")


class TestHashing:
    @pytest.mark.parametrize(
        ("value", "buckets", "bucket"),
        [("checkout", 8, 6), ("search", 8, 1), ("gpt-4o", 1024, 252), ("", 1024, 740)],
    )
    def test_bucket_is_fixed(self, value: str, buckets: int, bucket: int) -> None:
        """A string's bucket is a fixed BLAKE2b value, the same in every process (not Python's salted hash)."""
        assert stable_bucket(value, buckets) == bucket

    def test_encoder_uses_the_stable_bucket(self) -> None:
        """The hashed feature sets exactly the column of the string's stable bucket."""
        x, _ = ContextEncoder(
            FeatureSchema(features=(HashedFeature(name="s", buckets=1024),))
        ).encode({"s": "gpt-4o"})
        assert np.flatnonzero(x).tolist() == [252]


class TestCyclical:
    HOUR = ContextEncoder(
        FeatureSchema(features=(CyclicalFeature(name="ts", period="hour_of_day"),))
    )
    WEEKDAY = ContextEncoder(
        FeatureSchema(features=(CyclicalFeature(name="ts", period="day_of_week"),))
    )

    def test_midnight_and_hour_24_are_equal(self) -> None:
        """Hour 0 and hour 24 (the next midnight) encode identically."""
        assert np.array_equal(self.HOUR.encode({"ts": 0})[0], self.HOUR.encode({"ts": 86400})[0])

    @pytest.mark.parametrize(
        ("hour", "point"),
        [(0, (0.0, 1.0)), (6, (1.0, 0.0)), (12, (0.0, -1.0)), (18, (-1.0, 0.0)), (-1, None)],
    )
    def test_hours_lie_on_the_circle(self, hour: int, point: tuple[float, float] | None) -> None:
        """6h encodes as (sin 1, cos 0), and a time before 1970 wraps like any other (-1h is 23h)."""
        x, _ = self.HOUR.encode({"ts": hour * HOUR_S})
        if point is None:
            point = tuple(self.HOUR.encode({"ts": 23 * HOUR_S})[0])
        np.testing.assert_allclose(x, point, atol=1e-12)

    @pytest.mark.parametrize(
        "ts",
        ["1970-01-01T06:00:00Z", "1970-01-01T06:00:00", "1970-01-01T08:00:00+02:00", 21600],
        ids=["utc", "naive-is-utc", "offset", "seconds"],
    )
    def test_iso_strings_are_read_in_utc(self, ts: Any) -> None:
        """ISO 8601 strings, with or without an offset, encode like the same instant in Unix seconds."""
        np.testing.assert_allclose(self.HOUR.encode({"ts": ts})[0], [1.0, 0.0], atol=1e-12)

    @pytest.mark.parametrize(
        ("day", "weekday"),
        [("2024-01-01T00:00:00Z", 0), ("2024-01-07T23:59:59Z", 6), ("2024-01-04T12:00:00Z", 3)],
        ids=["monday", "sunday-night", "thursday"],
    )
    def test_weekdays_count_from_monday(self, day: str, weekday: int) -> None:
        """The day of week is Monday = 0 in UTC, placed at 2 pi weekday / 7."""
        angle = 2 * math.pi * weekday / 7
        np.testing.assert_allclose(
            self.WEEKDAY.encode({"ts": day})[0], [math.sin(angle), math.cos(angle)], atol=1e-12
        )


class TestSchema:
    def test_json_round_trip(self) -> None:
        """A schema written as JSON (kind-tagged features) decodes to the same schema."""
        assert msgspec.json.decode(msgspec.json.encode(SCHEMA), type=FeatureSchema) == SCHEMA
        decoded = msgspec.json.decode(
            b'{"features": [{"kind": "bias"}, {"kind": "hashed", "name": "s", "buckets": 4}]}',
            type=FeatureSchema,
        )
        assert decoded == FeatureSchema(
            features=(BiasFeature(), HashedFeature(name="s", buckets=4))
        )

    @pytest.mark.parametrize(
        "build",
        [
            lambda: FeatureSchema(features=()),
            lambda: FeatureSchema(features=(BiasFeature(), BiasFeature())),
            lambda: NumericFeature(name="f", scale="standardise", sd=0.0),
            lambda: NumericFeature(name="f", default=math.inf),
            lambda: NumericFeature(name="f", scale="log1p", default=-1.0),
            lambda: TokenCountFeature(name="f", default=-1.0),
            lambda: OneHotFeature(name="f", values=()),
            lambda: OneHotFeature(name="f", values=("a", "a")),
            lambda: HashedFeature(name="f", buckets=0),
        ],
        ids=[
            "empty",
            "duplicate-columns",
            "zero-sd",
            "infinite-default",
            "negative-log1p-default",
            "negative-token-default",
            "no-values",
            "repeated-values",
            "no-buckets",
        ],
    )
    def test_invalid_schemas_are_refused(self, build: Any) -> None:
        """A schema or feature that could not encode a sensible vector is refused when built."""
        with pytest.raises(ValueError):  # noqa: PT011 (the message varies by case)
            build()

    def test_invalid_json_schema_is_refused(self) -> None:
        """Decoding an invalid schema fails with a validation error naming the feature."""
        with pytest.raises(msgspec.ValidationError, match="buckets"):
            msgspec.json.decode(
                b'{"features": [{"kind": "hashed", "name": "s", "buckets": 0}]}', type=FeatureSchema
            )
