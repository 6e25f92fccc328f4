"""A mergeable streaming quantile sketch with a relative-error guarantee: DDSketch.

Masson, Rim and Lee, "DDSketch: A fast and fully-mergeable quantile sketch with
relative-error guarantees", PVLDB 12(12), 2019. A value ``x > 0`` goes to bucket
``k = ceil(log_gamma(x))`` with ``gamma = (1 + alpha) / (1 - alpha)``; bucket ``k`` covers
``(gamma**(k-1), gamma**k]`` and is read back as ``2 * gamma**k / (gamma + 1)``, which is within a
factor ``alpha`` of every value in it. Hence the guarantee this module is tested against:

    for every q, ``|quantile(q) - x_q| <= alpha * |x_q|``

where ``x_q`` is the element of rank ``floor(q * (n - 1))`` of the sorted values (numpy's
``method="lower"``), as long as no bucket has been collapsed. Negative values use a mirrored
store and values with ``|x| < MIN_INDEXABLE`` count as zero (their error is below that).

Why not the ``ddsketch`` package (Datadog, PyPI 3.0.1)? Its ``DenseStore`` keeps a list of
float counts whose ``offset`` and length depend on the order in which buckets were first hit
(it grows in chunks of 128), and its only serialisation is protobuf of that list: two sketches
with the same contents, or a merged sketch and its single-pass twin, give different bytes. Our
states are compared by SHA-256 on replay and must be canonical, so the same algorithm is kept
here with a dense store of integer counts trimmed to exactly ``[lowest, highest]`` bucket key:
equal contents, equal bytes, whatever the order of insertion or merging.

Memory is bounded by ``max_buckets`` per sign: past it, the lowest buckets are collapsed into
the lowest kept one (the paper's collapsing store, section 2.2), which keeps the guarantee for
the upper quantiles (p50/p95/p99 of latency and cost) and counts it in ``collapsed``.
"""

from __future__ import annotations

import math
from typing import ClassVar

import msgspec

MIN_INDEXABLE = 1e-9
"""Values closer to zero than this are counted as zero."""


class BucketStore(msgspec.Struct, kw_only=True, array_like=True):
    """Counts of consecutive bucket keys ``offset, offset + 1, ...``; both ends non-zero."""

    offset: int = 0
    counts: list[int] = msgspec.field(default_factory=list)

    def add(self, key: int, n: int = 1) -> None:
        counts = self.counts
        index = key - self.offset
        if 0 <= index < len(counts):
            counts[index] += n
        elif not counts:
            self.offset, self.counts = key, [n]
        elif index < 0:
            self.counts = [n, *([0] * (-index - 1)), *counts]
            self.offset = key
        else:
            counts.extend([0] * (index - len(counts)))
            counts.append(n)

    def merge(self, other: BucketStore) -> None:
        if not other.counts:
            return
        if not self.counts:
            self.offset, self.counts = other.offset, list(other.counts)
            return
        low = min(self.offset, other.offset)
        high = max(self.offset + len(self.counts), other.offset + len(other.counts))
        merged = [0] * (high - low)
        start = self.offset - low
        merged[start : start + len(self.counts)] = self.counts
        start = other.offset - low
        end = start + len(other.counts)
        merged[start:end] = [a + b for a, b in zip(merged[start:end], other.counts, strict=True)]
        self.offset, self.counts = low, merged

    def collapse_to(self, max_buckets: int) -> int:
        """Fold the lowest buckets into the lowest kept one; returns how many values moved
        (they now read as that bucket's value: too high by more than alpha)."""
        excess = len(self.counts) - max_buckets
        if excess <= 0:
            return 0
        moved = sum(self.counts[:excess])
        self.counts = self.counts[excess:]
        self.counts[0] += moved
        self.offset += excess
        return moved

    def items(self) -> list[tuple[int, int]]:
        """(key, count) of the non-empty buckets, ascending."""
        return [(self.offset + i, n) for i, n in enumerate(self.counts) if n]


class QuantileSketch(msgspec.Struct, kw_only=True, dict=True):
    """DDSketch with relative accuracy ``alpha`` (default 1 %)."""

    DEFAULT_ALPHA: ClassVar[float] = 0.01

    alpha: float = 0.01
    max_buckets: int = 2048
    count: int = 0
    zeros: int = 0
    positive: BucketStore = msgspec.field(default_factory=BucketStore)
    negative: BucketStore = msgspec.field(default_factory=BucketStore)
    collapsed: int = 0
    """Values moved into a lower-accuracy bucket by the collapsing store."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.max_buckets < 1:
            raise ValueError(f"max_buckets must be >= 1, got {self.max_buckets}")
        self.alpha = float(self.alpha)
        gamma = (1.0 + self.alpha) / (1.0 - self.alpha)
        self._gamma = gamma
        self._log_gamma = math.log(gamma)

    def _value(self, key: int) -> float:
        return 2.0 * math.exp(key * self._log_gamma) / (self._gamma + 1.0)

    def add(self, x: float) -> None:
        if not math.isfinite(x):
            raise ValueError(f"a sketch takes finite values, got {x}")
        self.count += 1
        if x > MIN_INDEXABLE:
            store = self.positive
            store.add(math.ceil(math.log(x) / self._log_gamma))
        elif x < -MIN_INDEXABLE:
            store = self.negative
            store.add(math.ceil(math.log(-x) / self._log_gamma))
        else:
            self.zeros += 1
            return
        if len(store.counts) > self.max_buckets:
            self.collapsed += store.collapse_to(self.max_buckets)

    def merge(self, other: QuantileSketch) -> None:
        """Add ``other``'s counts; both must share ``alpha`` (the buckets must line up)."""
        if other.alpha != self.alpha:
            raise ValueError(f"cannot merge sketches of alpha {self.alpha} and {other.alpha}")
        self.count += other.count
        self.zeros += other.zeros
        self.collapsed += other.collapsed
        for mine, theirs in ((self.positive, other.positive), (self.negative, other.negative)):
            mine.merge(theirs)
            self.collapsed += mine.collapse_to(self.max_buckets)

    def quantile(self, q: float) -> float | None:
        """The value of rank ``floor(q * (count - 1))`` within relative error ``alpha``;
        None when empty."""
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"q must be in [0, 1], got {q}")
        if self.count == 0:
            return None
        rank = math.floor(q * (self.count - 1))
        seen = 0
        # Ascending order: the most negative values (largest keys of the negative store) first.
        for key, n in reversed(self.negative.items()):
            seen += n
            if seen > rank:
                return -self._value(key)
        seen += self.zeros
        if seen > rank:
            return 0.0
        for key, n in self.positive.items():
            seen += n
            if seen > rank:
                return self._value(key)
        raise AssertionError("sketch counts do not add up to its count")  # pragma: no cover
