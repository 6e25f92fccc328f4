"""The driver waits for the actor to fold back the drift alarms its fold derived."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from llmopt.demo.driver import DemoError, wait_for_derived


def probe_of(summaries: list[dict[str, Any]]) -> Any:
    """A status probe returning ``summaries`` one after the other, then the last forever."""
    seen = iter(summaries)
    last: dict[str, Any] = summaries[-1]

    async def probe() -> dict[str, Any]:
        nonlocal last
        last = next(seen, last)
        return last

    return probe


def test_returns_once_every_alarm_is_folded() -> None:
    """After 10 requests (21 events with the creation) and 2 alarms, it waits for 23 events."""
    probe = probe_of(
        [
            {"events_applied": 21, "drift_alarms": 2},
            {"events_applied": 22, "drift_alarms": 2},
            {"events_applied": 23, "drift_alarms": 2},
        ]
    )
    asyncio.run(wait_for_derived(probe, 10))


def test_an_alarm_never_folded_back_is_an_error() -> None:
    """If the alarm never comes back from the log, a DemoError says so within the budget."""
    probe = probe_of([{"events_applied": 21, "drift_alarms": 1}])
    with pytest.raises(DemoError, match="drift alarms"):
        asyncio.run(wait_for_derived(probe, 10, within_s=0.05))
