"""Garbage collection in an actor process: freeze what start-up and recovery built, and time
every collection.

Why: CPython's full (generation 2) collection walks every tracked object the process holds. In
a Ray worker that is Ray's, numpy's and nats-py's module objects plus the recovered state, tens
of thousands of objects: in the decision benchmark at 5,000 decisions/s the actor ran a full
collection every few seconds at 35-64 ms each, and every request that arrived meanwhile waited
(at that load, ~250 of them, and the backlog behind them). ``gc.freeze()`` once the actor has
recovered moves all of it to the permanent generation, which collections skip; what the actor
allocates afterwards is collected as before. (The objects frozen are never collected; those
that become garbage later are few and were built once.)

The pauses are a histogram in the actor's relayed metrics, so a latency tail from collections
shows as such.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from gateway.metrics import GC_PAUSE

_started: list[float] = []
_installed = False


def freeze_survivors() -> None:
    """Move every object the process tracks now into the permanent generation.

    No collection first: it would be the very pause this avoids (~50 ms), taken just as the
    actor starts serving. Garbage frozen with the rest is only what sits in reference cycles
    at that moment; everything else is freed by reference counting as usual."""
    gc.freeze()


def time_collections() -> None:
    """Observe the duration of every collection of this process into ``GC_PAUSE`` (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    generations = [GC_PAUSE.labels(str(generation)) for generation in range(3)]

    def observe(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started.append(time.perf_counter())
        elif _started:
            generations[info["generation"]].observe(time.perf_counter() - _started.pop())

    gc.callbacks.append(observe)
