"""Checks for the numeric parameters of policies and detectors: a clear ``ValueError`` naming the
parameter, raised in the constructor, before a bad value can reach a fold."""

from __future__ import annotations

import math


def number(name: str, value: float) -> float:
    """``value`` as a float, or ``ValueError`` naming ``name`` if it is not a number (a bool is
    not: ``True`` passed for a rate is a mistake, not 1.0)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def positive(name: str, value: float) -> float:
    """``value`` as a float if it is finite and above 0, else ``ValueError`` naming ``name``."""
    v = number(name, value)
    if not (math.isfinite(v) and v > 0.0):
        raise ValueError(f"{name} must be finite and positive, got {value!r}")
    return v


def non_negative(name: str, value: float) -> float:
    """``value`` as a float if it is finite and at least 0, else ``ValueError`` naming ``name``."""
    v = number(name, value)
    if not (math.isfinite(v) and v >= 0.0):
        raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    return v
