"""The versioned schema of the features a window publishes to the online feature store.

Readers (bandits, the CLI, other services) look features up by name and must know, without
reading code, what type a value has, whether it may be null, what to use when it is missing or
stale, and what it means. A :class:`FeatureSet` carries that, with a ``version`` that is bumped
whenever a feature's meaning changes (a renamed metric, another window size): a reader that
pinned version ``n`` can tell that it is reading something else. Evolution follows the event
rules: add features freely, never change the meaning of a name within a version.

The bandit context schema (:mod:`actors.feature_schema`) describes how request fields become
a policy's vector; this one describes stored, served values. Names are ``<key>/<feature>``
per key, e.g. ``gpt-4o/latency_ms.p95@tumbling_60s``.
"""

from __future__ import annotations

import math
from typing import Literal

import msgspec

FeatureType = Literal["float", "int", "bool", "str"]

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "float": (float, int),
    "int": (int,),
    "bool": (bool,),
    "str": (str,),
}


class FeatureDefinition(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    type: FeatureType = "float"
    nullable: bool = True
    default: float | int | bool | str | None = None
    """Served when the value is missing or older than ``ttl_s`` (then counted as stale)."""
    description: str = ""
    ttl_s: float = 300.0
    """How long a stored value stays fresh, in seconds of its computed-at time."""

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("name: a feature needs a name")
        if not (math.isfinite(self.ttl_s) and self.ttl_s > 0):
            raise ValueError(f"ttl_s: must be a finite number > 0, got {self.ttl_s}")
        if self.default is None:
            if not self.nullable:
                raise ValueError(f"default: feature {self.name!r} is not nullable, give a default")
        elif not self.accepts(self.default):
            raise ValueError(f"default: feature {self.name!r} is {self.type}, got {self.default!r}")

    def accepts(self, value: object) -> bool:
        """True if ``value`` is of this feature's type (or None for a nullable one)."""
        if value is None:
            return self.nullable
        if isinstance(value, bool) and self.type != "bool":
            return False
        return isinstance(value, _PYTHON_TYPES[self.type])


class FeatureSet(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    version: int
    features: tuple[FeatureDefinition, ...]

    def __post_init__(self) -> None:
        if self.version < 1:
            raise ValueError(f"version: must be >= 1, got {self.version}")
        names = [f.name for f in self.features]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"features: duplicate names {duplicates}")

    def get(self, name: str) -> FeatureDefinition | None:
        for feature in self.features:
            if feature.name == name:
                return feature
        return None


WINDOW_FEATURES = FeatureSet(
    name="window_stats",
    version=1,
    features=(
        FeatureDefinition(
            name="count",
            type="int",
            nullable=False,
            default=0,
            description="outcomes in the window",
        ),
        FeatureDefinition(
            name="value_count",
            type="int",
            nullable=False,
            default=0,
            description="outcomes that carried the metric",
        ),
        FeatureDefinition(name="total", default=0.0, description="sum of the metric"),
        FeatureDefinition(name="mean", description="mean of the metric (Welford)"),
        FeatureDefinition(name="low", description="smallest value of the metric"),
        FeatureDefinition(name="high", description="largest value of the metric"),
        FeatureDefinition(name="std", description="sample standard deviation (Welford/Chan)"),
        FeatureDefinition(name="error_rate", description="errors / outcomes"),
        FeatureDefinition(name="cost_total", default=0.0, description="sum of cost_usd"),
        FeatureDefinition(name="p50", description="median, DDSketch (1 % relative error)"),
        FeatureDefinition(name="p95", description="95th percentile, DDSketch"),
        FeatureDefinition(name="p99", description="99th percentile, DDSketch"),
    ),
)
"""What every window publishes per key: the fields of ``WindowStats``, with their defaults."""
