"""Turn a request's JSON context into the vector x a contextual policy reads.

The encoder follows an experiment's :class:`~actors.feature_schema.FeatureSchema`. It is
lenient about absence and strict about type:

* a field that is absent or ``null`` takes its feature's default and is *reported* in the
  ``missing`` list (the caller counts it); the request is still served;
* a field of the wrong type (a string where a number belongs, a boolean, a negative token
  count, a timestamp that does not parse) raises :class:`ContextError` naming the field, and
  the gateway answers with an error naming it.

Encoding is a pure function of the schema and the context: no clock, no process-salted hash.

Example::

    >>> from actors.feature_schema import BiasFeature, FeatureSchema, OneHotFeature
    >>> encoder = ContextEncoder(
    ...     FeatureSchema(features=(BiasFeature(), OneHotFeature(name="tier", values=("free",))))
    ... )
    >>> encoder.encode({"tier": "pro"})
    (array([1., 0., 1.]), [])
    >>> encoder.encode({})
    (array([1., 0., 0.]), ['tier'])
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from actors.feature_schema import (
    BiasFeature,
    CyclicalFeature,
    Feature,
    FeatureSchema,
    HashedFeature,
    InteractionFeature,
    NumericFeature,
    OneHotFeature,
    TokenCountFeature,
)

_NUMBERS = (int, float)
_DAY_S = 86_400.0
_EPOCH_WEEKDAY = 3
"""1970-01-01 was a Thursday (Monday = 0)."""


class ContextError(ValueError):
    """A context field has a value of the wrong type or range; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def __reduce__(self) -> tuple[type[ContextError], tuple[str, str]]:
        return (type(self), (self.field, self.message))


def stable_bucket(value: str, buckets: int) -> int:
    """The bucket of ``value``: BLAKE2b of its UTF-8 bytes, first 8 bytes little-endian,
    modulo ``buckets``. The same in every process and language."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") % buckets


class ContextEncoder:
    """Encodes contexts for one schema; build it once per experiment and reuse it."""

    def __init__(self, schema: FeatureSchema) -> None:
        self.schema = schema
        self.columns = schema.columns
        self._positions = [
            {value: i for i, value in enumerate(feature.values)}
            if isinstance(feature, OneHotFeature)
            else {}
            for feature in schema.features
        ]
        """Per feature, the column of each declared one-hot value (empty for other kinds)."""
        index = {column: i for i, column in enumerate(self.columns)}
        self._factors = [
            [index[c] for c in feature.of] if isinstance(feature, InteractionFeature) else []
            for feature in schema.features
        ]
        """Per interaction feature, the positions in x of the columns it multiplies."""
        self._plan: list[tuple[int, Any, dict[str, int], list[int]]] = [
            (_kind_of(feature), feature, positions, factors)
            for feature, positions, factors in zip(
                schema.features, self._positions, self._factors, strict=True
            )
        ]
        """Per feature its kind as a small int, so :meth:`encode` dispatches on one compare
        instead of a chain of ``isinstance`` (it runs once per decision, on the hot path); the
        feature is typed ``Any`` there because the int, not ``isinstance``, says its class."""

    @property
    def dim(self) -> int:
        return len(self.columns)

    def encode(self, context: Mapping[str, Any]) -> tuple[npt.NDArray[np.float64], list[str]]:
        """The vector x for ``context`` and the fields that were missing (in schema order)."""
        if type(context) is not dict and not isinstance(context, Mapping):
            raise ContextError("context", f"expected an object, got {_json_type(context)}")
        out: list[float] = []
        missing: list[str] = []
        for kind, feature, positions, factors in self._plan:
            if kind == _BIAS:
                out.append(1.0)
                continue
            if kind == _INTERACTION:
                out.append(math.prod(out[i] for i in factors))
                continue
            name = feature.name
            value = context.get(name)
            if value is None and name not in missing:
                missing.append(name)
            if kind == _NUMERIC:
                out.append(self._numeric(feature, value))
            elif kind == _TOKENS:
                count = feature.default if value is None else _number(name, value)
                if count < 0:
                    raise ContextError(name, f"a token count must be >= 0, got {count}")
                out.append(math.log1p(count))
            elif kind == _ONE_HOT:
                row = [0.0] * (len(feature.values) + 1)
                label = feature.default if value is None else _string(name, value)
                if label is not None:
                    row[positions.get(label, len(feature.values))] = 1.0
                out.extend(row)
            elif kind == _HASHED:
                row = [0.0] * feature.buckets
                label = feature.default if value is None else _string(name, value)
                if label is not None:
                    row[stable_bucket(label, feature.buckets)] = 1.0
                out.extend(row)
            else:
                out.extend(_cyclical(feature, value))
        return np.array(out, dtype=np.float64), missing

    @staticmethod
    def _numeric(feature: NumericFeature, value: Any) -> float:
        number = feature.default if value is None else _number(feature.name, value)
        if feature.scale == "log1p":
            if number < 0:
                raise ContextError(feature.name, f"log1p scaling needs a value >= 0, got {number}")
            return math.log1p(number)
        if feature.scale == "standardise":
            return (number - feature.mean) / feature.sd
        return number


_BIAS, _INTERACTION, _NUMERIC, _TOKENS, _ONE_HOT, _HASHED, _CYCLICAL = range(7)


def _kind_of(feature: Feature) -> int:
    for kind, cls in (
        (_BIAS, BiasFeature),
        (_INTERACTION, InteractionFeature),
        (_NUMERIC, NumericFeature),
        (_TOKENS, TokenCountFeature),
        (_ONE_HOT, OneHotFeature),
        (_HASHED, HashedFeature),
        (_CYCLICAL, CyclicalFeature),
    ):
        if isinstance(feature, cls):
            return kind
    raise TypeError(f"unknown feature kind {type(feature).__name__}")


def _cyclical(feature: CyclicalFeature, value: Any) -> tuple[float, float]:
    if value is None:
        return (0.0, 0.0)
    seconds = _timestamp(feature.name, value)
    if feature.period == "hour_of_day":
        turn = (seconds % _DAY_S) / _DAY_S
    else:
        turn = ((math.floor(seconds / _DAY_S) + _EPOCH_WEEKDAY) % 7) / 7.0
    angle = 2.0 * math.pi * turn
    return (math.sin(angle), math.cos(angle))


def _timestamp(field: str, value: Any) -> float:
    """Unix seconds from a number or an ISO 8601 string (naive means UTC)."""
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ContextError(field, f"not an ISO 8601 timestamp: {value!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.timestamp()
    return _number(field, value)


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBERS):
        raise ContextError(field, f"expected a number, got {_json_type(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ContextError(field, "number out of range") from None
    if not math.isfinite(number):
        raise ContextError(field, f"expected a finite number, got {number}")
    return number


def _string(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ContextError(field, f"expected a string, got {_json_type(value)}")
    return value


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    return type(value).__name__
