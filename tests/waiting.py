"""Waiting on a condition, never on the clock: tests poll what they need with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], *, within_s: float = 30.0
) -> T:
    """Poll ``probe`` until ``until`` holds for its result; fail with the last result."""
    deadline = time.monotonic() + within_s
    while True:
        value = await probe()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within_s}s; last value: {value!r}")
        await asyncio.sleep(0.05)
