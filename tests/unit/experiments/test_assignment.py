"""Sticky hash assignment: same unit same variant, proportions follow the weights."""

from __future__ import annotations

import hashlib
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.experiments.assignment import Split, SplitError, in_fraction, unit_position
from tests.strategies import DETERMINISTIC, tokens

UNITS = [f"user-{i}" for i in range(20_000)]

weights = st.lists(
    st.floats(min_value=0.05, max_value=10.0, allow_nan=False), min_size=2, max_size=6
)


def split_of(values: list[float]) -> Split:
    return Split.weighted({f"v{i}": w for i, w in enumerate(values)})


def test_position_is_blake2b_of_salt_and_unit() -> None:
    """The position is BLAKE2b-64 of 'salt\\x1funit' (little-endian) over 2^64, reproducible anywhere."""
    digest = hashlib.blake2b(b"exp-1\x1fuser-7", digest_size=8).digest()
    assert unit_position("user-7", "exp-1") == int.from_bytes(digest, "little") / 2**64


def test_positions_lie_in_the_unit_interval() -> None:
    """Every position is in [0, 1)."""
    assert all(0.0 <= unit_position(u, "s") < 1.0 for u in UNITS[:2000])


@given(tokens, tokens, weights)
@DETERMINISTIC
def test_assignment_is_sticky(unit: str, salt: str, values: list[float]) -> None:
    """A unit gets the same variant every time while the split is unchanged."""
    split = split_of(values)
    assert split.assign(unit, salt) == split.assign(unit, salt)
    assert Split.weighted(split.shares).assign(unit, salt) == split.assign(unit, salt)


@given(weights, tokens)
@settings(DETERMINISTIC, max_examples=25)
def test_proportions_follow_the_weights(values: list[float], salt: str) -> None:
    """Over 20,000 units each variant's share is within 5 binomial SDs of its weight."""
    split = split_of(values)
    counts = dict.fromkeys(split.variants, 0)
    for unit in UNITS:
        counts[split.assign(unit, salt)] += 1
    for variant, share in split.shares.items():
        sd = math.sqrt(share * (1 - share) / len(UNITS))
        assert abs(counts[variant] / len(UNITS) - share) <= 5 * sd + 1e-12


def test_three_way_equal_split_uses_every_variant_evenly() -> None:
    """An equal three-way split gives each variant about a third."""
    split = Split.equal(["a", "b", "c"])
    counts = {"a": 0, "b": 0, "c": 0}
    for unit in UNITS:
        counts[split.assign(unit, "exp")] += 1
    assert all(abs(c / len(UNITS) - 1 / 3) < 0.015 for c in counts.values())


def test_salts_decorrelate_experiments() -> None:
    """A unit's variant in one experiment does not predict its variant in another."""
    split = Split.equal(["a", "b"])
    same = sum(split.assign(u, "exp-1") == split.assign(u, "exp-2") for u in UNITS)
    assert abs(same / len(UNITS) - 0.5) < 0.02


@given(tokens, tokens, st.floats(0.0, 1.0), st.floats(0.0, 1.0))
@DETERMINISTIC
def test_fraction_membership_is_monotone(unit: str, salt: str, f1: float, f2: float) -> None:
    """A unit inside a smaller fraction is inside every larger one (canaries only grow)."""
    low, high = sorted((f1, f2))
    if in_fraction(unit, salt, low):
        assert in_fraction(unit, salt, high)


def test_full_fraction_holds_everyone_and_zero_no_one() -> None:
    """Fraction 1 includes every unit and fraction 0 none."""
    assert all(in_fraction(u, "s", 1.0) for u in UNITS[:1000])
    assert not any(in_fraction(u, "s", 0.0) for u in UNITS[:1000])


def test_growing_one_weight_moves_only_units_into_it() -> None:
    """Raising the last variant's weight moves units only into that variant."""
    before = Split.weighted({"a": 1.0, "b": 1.0})
    after = Split.weighted({"a": 1.0, "b": 3.0})
    for unit in UNITS[:5000]:
        if before.assign(unit, "s") != after.assign(unit, "s"):
            assert after.assign(unit, "s") == "b"


@pytest.mark.parametrize(
    ("variants", "weights", "field"),
    [
        ((), (), "variants"),
        (("a", "a"), (1.0, 1.0), "variants"),
        (("a", "b"), (1.0,), "weights"),
        (("a", "b"), (1.0, 0.0), "weights.b"),
        (("a", "b"), (1.0, math.nan), "weights.b"),
        (("a", "b"), (-1.0, 1.0), "weights.a"),
    ],
)
def test_invalid_splits_name_the_field(
    variants: tuple[str, ...], weights: tuple[float, ...], field: str
) -> None:
    """A split that cannot assign is refused with the offending field."""
    with pytest.raises(SplitError) as info:
        Split(variants=variants, weights=weights)
    assert info.value.field == field
