"""Sticky assignment of units (users, sessions) to variants by a hash of the unit id.

A unit's position :math:`u \\in [0, 1)` is the first 8 bytes of BLAKE2b over
``salt + "\\x1f" + unit_id`` read little-endian and divided by :math:`2^{64}` (the hash of
:func:`actors.context_features.stable_bucket`, so any language can reproduce it). Variants own
consecutive intervals of :math:`[0, 1)` in declaration order, as wide as their normalised
weights, and a unit gets the variant whose interval holds its position. So:

* the same unit always gets the same variant while the split is unchanged (no state needed);
* the salt (the experiment id) decorrelates experiments: a unit's variant in one experiment
  says nothing about its variant in another;
* the share of units in a variant converges to its weight (the hash is uniform), which the
  sample-ratio-mismatch check then verifies on real traffic.

Changing weights moves only the units near the moved boundaries; a canary that grows its
fraction keeps every unit already exposed (see :func:`in_fraction`).

>>> split = Split.weighted({"control": 1.0, "treatment": 1.0})
>>> split.assign("user-42", salt="exp-1") == split.assign("user-42", salt="exp-1")
True
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence

import msgspec

__all__ = ["Split", "SplitError", "in_fraction", "unit_position"]

_SCALE = float(2**64)


class SplitError(ValueError):
    """A split that cannot assign: no variants, duplicate names, or a non-positive weight."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def unit_position(unit_id: str, salt: str) -> float:
    """The unit's uniform position in :math:`[0, 1)` for this salt."""
    key = f"{salt}\x1f{unit_id}".encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "little") / _SCALE


def in_fraction(unit_id: str, salt: str, fraction: float) -> bool:
    """Whether the unit is inside the first ``fraction`` of traffic.

    Monotone in ``fraction``: a unit inside at 5% is inside at 25%, 50% and 100%, so a canary
    that widens never moves a user back and forth between champion and challenger.
    """
    return unit_position(unit_id, salt) < fraction


class Split(msgspec.Struct, frozen=True, kw_only=True):
    """Variants and their relative weights (normalised when assigning)."""

    variants: tuple[str, ...]
    weights: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.variants:
            raise SplitError("variants", "a split needs at least one variant")
        if len(set(self.variants)) != len(self.variants):
            raise SplitError("variants", f"variant names repeat: {list(self.variants)}")
        if len(self.weights) != len(self.variants):
            raise SplitError(
                "weights",
                f"{len(self.weights)} weights for {len(self.variants)} variants",
            )
        for name, weight in zip(self.variants, self.weights, strict=True):
            if not (math.isfinite(weight) and weight > 0.0):
                raise SplitError(f"weights.{name}", f"weight of {name!r} must be > 0, got {weight}")

    @classmethod
    def equal(cls, variants: Sequence[str]) -> Split:
        return cls(variants=tuple(variants), weights=tuple(1.0 for _ in variants))

    @classmethod
    def weighted(cls, weights: Mapping[str, float]) -> Split:
        return cls(variants=tuple(weights), weights=tuple(float(w) for w in weights.values()))

    @property
    def shares(self) -> dict[str, float]:
        """Each variant's expected share of units (weights normalised to sum to 1)."""
        total = math.fsum(self.weights)
        return {v: w / total for v, w in zip(self.variants, self.weights, strict=True)}

    def boundaries(self) -> list[float]:
        """Upper end of each variant's interval; the last is exactly 1."""
        total = math.fsum(self.weights)
        running, ends = 0.0, []
        for weight in self.weights:
            running += weight
            ends.append(running / total)
        ends[-1] = 1.0
        return ends

    def assign(self, unit_id: str, salt: str) -> str:
        """The unit's variant: the one whose interval holds its position."""
        position = unit_position(unit_id, salt)
        for variant, end in zip(self.variants, self.boundaries(), strict=True):
            if position < end:
                return variant
        return self.variants[-1]  # unreachable: positions are < 1 == the last end
