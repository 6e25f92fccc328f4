"""Seeded synthetic streams and hypothesis strategies for the drift tests.

Use the strategies with :data:`tests.strategies.DETERMINISTIC` so that runs are reproducible.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


def gaussian(seed: int, n: int, mean: float = 0.0, sd: float = 1.0) -> list[float]:
    """``n`` i.i.d. Gaussian observations from a generator seeded by ``seed``."""
    return np.random.default_rng(seed).normal(mean, sd, n).tolist()


def shifted(seed: int, before: int, after: int, shift: float, sd: float = 1.0) -> list[float]:
    """``before`` observations of N(0, sd^2), then ``after`` of N(shift, sd^2)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.0, sd, before), rng.normal(shift, sd, after)]).tolist()


def bernoulli(seed: int, n: int, p: float) -> list[float]:
    """``n`` 0/1 observations with success probability ``p``."""
    return (np.random.default_rng(seed).random(n) < p).astype(np.float64).tolist()


@st.composite
def regime_streams(draw: st.DrawFn, max_segments: int = 4) -> list[float]:
    """A stream of up to ``max_segments`` regimes (level, spread, length), some constant, some
    Gaussian, some 0/1: every detector meets warm-ups, alarms and restarts on them."""
    seed = draw(st.integers(min_value=0, max_value=2**32 - 1))
    rng = np.random.default_rng(seed)
    values: list[float] = []
    for _ in range(draw(st.integers(min_value=1, max_value=max_segments))):
        length = draw(st.integers(min_value=1, max_value=150))
        kind = draw(st.sampled_from(["gaussian", "constant", "bernoulli"]))
        level = draw(st.floats(min_value=-100.0, max_value=100.0, allow_nan=False))
        if kind == "constant":
            values.extend([level] * length)
        elif kind == "bernoulli":
            p = draw(st.floats(min_value=0.0, max_value=1.0))
            values.extend((rng.random(length) < p).astype(np.float64).tolist())
        else:
            spread = draw(st.floats(min_value=0.01, max_value=10.0))
            values.extend(rng.normal(level, spread, length).tolist())
    return values
