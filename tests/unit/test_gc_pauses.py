"""An actor process times its collections and leaves what recovery built out of them."""

from __future__ import annotations

import gc

from actors.gc_pauses import freeze_survivors, time_collections
from gateway.metrics import ACTOR_REGISTRY


def pauses(generation: int) -> float:
    value = ACTOR_REGISTRY.get_sample_value(
        "llmopt_actor_gc_pause_seconds_count", {"generation": str(generation)}
    )
    return value or 0.0


def test_every_collection_is_timed_once_by_generation() -> None:
    """Each collection adds one observation to its generation's histogram, however often the
    timing is installed."""
    time_collections()
    time_collections()
    before = [pauses(g) for g in range(3)]
    gc.collect(0)
    gc.collect(2)
    after = [pauses(g) for g in range(3)]
    assert after[0] >= before[0] + 1
    assert after[2] == before[2] + 1


def test_freezing_leaves_the_survivors_out_of_later_collections() -> None:
    """After the freeze, what existed is in the permanent generation; new objects are not."""
    kept = [[i] for i in range(1000)]
    try:
        freeze_survivors()
        assert gc.get_freeze_count() >= len(kept)
        assert all(gc.is_tracked(d) for d in kept)
        fresh = [[j] for j in range(10)]
        young = {id(o) for o in gc.get_objects(0)}
        assert all(id(d) in young for d in fresh)
        assert not any(id(d) in young for d in kept)
    finally:
        gc.unfreeze()
