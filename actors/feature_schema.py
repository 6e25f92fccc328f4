"""The declared features of an experiment: which request fields become the context vector x.

A schema is data (frozen msgspec Structs), stored with the experiment and written as JSON::

    {"features": [
        {"kind": "bias"},
        {"kind": "numeric", "name": "temperature", "default": 0.7},
        {"kind": "numeric", "name": "budget", "scale": "standardise", "mean": 0.5, "sd": 0.2},
        {"kind": "token_count", "name": "input_tokens"},
        {"kind": "one_hot", "name": "tier", "values": ["free", "pro"]},
        {"kind": "hashed", "name": "service", "buckets": 8},
        {"kind": "cyclical", "name": "ts", "period": "hour_of_day"},
        {"kind": "interaction", "name": "pro_x_budget", "of": ["tier=pro", "budget"]}
    ]}

``name`` is the key of the request context a feature reads (the bias reads none). Each feature
contributes named columns to x, in declaration order; :attr:`FeatureSchema.columns` lists them
and :attr:`FeatureSchema.dim` counts them; :class:`actors.context_features.ContextEncoder`
encodes. Evolution: new feature kinds and new fields (with defaults) may be added, but the
meaning of a column never changes, because a policy's learned weights are tied to it.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

OTHER = "<other>"
"""The one-hot column for a value the schema does not declare."""


class Feature(msgspec.Struct, frozen=True, kw_only=True, tag_field="kind"):
    """Base of every feature kind; ``name`` is the context key it reads."""

    name: str
    description: str = ""
    """What the feature means, for people reading the schema; never read by the encoder."""

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.name,)


class NumericFeature(Feature, frozen=True, kw_only=True, tag="numeric"):
    """A number, optionally scaled: ``log1p`` (needs values >= 0) or ``standardise``
    (``(value - mean) / sd``). ``default`` is in the field's own units, scaled like a value."""

    default: float = 0.0
    scale: Literal["none", "log1p", "standardise"] = "none"
    mean: float = 0.0
    sd: float = 1.0

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.default, self.mean, self.sd)):
            raise ValueError(f"feature {self.name!r}: default, mean and sd must be finite")
        if self.sd <= 0:
            raise ValueError(f"feature {self.name!r}: sd must be positive")
        if self.scale == "log1p" and self.default < 0:
            raise ValueError(f"feature {self.name!r}: a log1p default must be >= 0")


class TokenCountFeature(Feature, frozen=True, kw_only=True, tag="token_count"):
    """A count of tokens (>= 0), encoded as ``log1p(count)``: token counts span orders of
    magnitude and their effect on cost and latency is closer to multiplicative."""

    default: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.default) and self.default >= 0):
            raise ValueError(f"feature {self.name!r}: default must be a count >= 0")


class OneHotFeature(Feature, frozen=True, kw_only=True, tag="one_hot"):
    """A string among declared ``values``: one column per value plus one for any other value.
    A missing field takes ``default``; with no default all its columns are 0."""

    values: tuple[str, ...]
    default: str | None = None

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"feature {self.name!r}: declare at least one value")
        if len(set(self.values)) != len(self.values):
            raise ValueError(f"feature {self.name!r}: values must be unique")

    @property
    def columns(self) -> tuple[str, ...]:
        return (*(f"{self.name}={value}" for value in self.values), f"{self.name}={OTHER}")


class HashedFeature(Feature, frozen=True, kw_only=True, tag="hashed"):
    """A string of an open set, one-hot into ``buckets`` columns by a stable hash: the first
    8 bytes of BLAKE2b of its UTF-8 bytes, little-endian, modulo ``buckets`` (reproducible in
    any language and process, unlike Python's salted ``hash``). A missing field takes
    ``default``; with no default all its columns are 0."""

    buckets: int
    default: str | None = None

    def __post_init__(self) -> None:
        if self.buckets < 1:
            raise ValueError(f"feature {self.name!r}: buckets must be >= 1")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f"{self.name}#{i}" for i in range(self.buckets))


class CyclicalFeature(Feature, frozen=True, kw_only=True, tag="cyclical"):
    """The hour of day (fractional) or the day of week (Monday = 0) of a timestamp, in UTC,
    as the point ``(sin, cos)`` on a circle, so 23:59 sits next to 00:00. The timestamp is Unix
    seconds or an ISO 8601 string (without an offset it is taken as UTC). A missing field
    encodes as ``(0, 0)``, the centre of the circle: no time of day at all."""

    period: Literal["hour_of_day", "day_of_week"]

    @property
    def columns(self) -> tuple[str, ...]:
        unit = "hour" if self.period == "hour_of_day" else "weekday"
        return (f"{self.name}:{unit}_sin", f"{self.name}:{unit}_cos")


class BiasFeature(Feature, frozen=True, kw_only=True, tag="bias"):
    """The constant 1, so a linear policy can learn each arm's mean reward."""

    name: str = "bias"


class InteractionFeature(Feature, frozen=True, kw_only=True, tag="interaction"):
    """The product of columns declared earlier in the schema (e.g. ``tier=pro`` times
    ``budget``), so a linear policy can learn an effect that depends on two features at once
    (a second-order term of a factorisation-free polynomial model). ``name`` names the one
    column it adds; it reads no context key."""

    of: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.of) < 2:
            raise ValueError(f"feature {self.name!r}: an interaction needs at least two columns")


AnyFeature = (
    NumericFeature
    | TokenCountFeature
    | OneHotFeature
    | HashedFeature
    | CyclicalFeature
    | BiasFeature
    | InteractionFeature
)


class FeatureSchema(msgspec.Struct, frozen=True, kw_only=True):
    """The ordered features of one experiment's context vector."""

    features: tuple[AnyFeature, ...]

    def __post_init__(self) -> None:
        if not self.features:
            raise ValueError("a feature schema needs at least one feature")
        columns = self.columns
        if len(set(columns)) != len(columns):
            duplicates = sorted({c for c in columns if columns.count(c) > 1})
            raise ValueError(f"duplicate feature columns: {duplicates}")
        for index, feature in enumerate(self.features):
            if isinstance(feature, InteractionFeature):
                earlier = {c for f in self.features[:index] for c in f.columns}
                unknown = [c for c in feature.of if c not in earlier]
                if unknown:
                    raise ValueError(
                        f"feature {feature.name!r}: interaction of columns not declared "
                        f"before it: {unknown}"
                    )

    @property
    def columns(self) -> tuple[str, ...]:
        """The name of every element of x, in order."""
        return tuple(column for feature in self.features for column in feature.columns)

    @property
    def dim(self) -> int:
        return len(self.columns)
