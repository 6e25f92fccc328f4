"""Checkpoints in the JetStream KV bucket: only intact ones of the right version are trusted."""

from __future__ import annotations

from typing import Any

import msgspec

from actors.checkpoint import Checkpoint, CheckpointStore, checkpoint_key, make_checkpoint
from actors.experiment_ledger import ExperimentLedger
from events.schema import ExperimentCreated


def ledger_bytes(entity_id: str, arms: tuple[str, ...]) -> bytes:
    state = ExperimentLedger.initial(entity_id)
    state.apply(ExperimentCreated(event_id="c", entity_id=entity_id, at=1.0, arms=arms))
    return state.to_bytes()


async def store_for(nc: Any, storage: Any) -> CheckpointStore:
    store = CheckpointStore(nc.jetstream())
    await store.ensure(history=4)
    return store


class TestLoadNewestValid:
    async def test_no_checkpoint_means_full_replay(
        self, nc: Any, storage: Any, entity_id: str
    ) -> None:
        """An entity that never checkpointed loads nothing and skips nothing."""
        store = await store_for(nc, storage)
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert (loaded.checkpoint, loaded.skipped) == (None, 0)

    async def test_the_newest_intact_checkpoint_wins(
        self, nc: Any, storage: Any, entity_id: str
    ) -> None:
        """Of several intact checkpoints the newest is loaded, with its sequence and bytes."""
        store = await store_for(nc, storage)
        for seq, arms in ((10, ("a",)), (20, ("a", "b"))):
            await store.save(
                make_checkpoint("experiment", entity_id, seq, 1, ledger_bytes(entity_id, arms))
            )
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert loaded.checkpoint is not None
        assert loaded.checkpoint.seq == 20
        assert ExperimentLedger.from_bytes(loaded.checkpoint.state).arms.keys() == {"a", "b"}

    async def test_a_corrupted_checkpoint_is_skipped_for_an_older_one(
        self, nc: Any, storage: Any, entity_id: str
    ) -> None:
        """A checkpoint whose bytes do not match its digest is skipped and counted."""
        store = await store_for(nc, storage)
        good = make_checkpoint("experiment", entity_id, 10, 1, ledger_bytes(entity_id, ("a",)))
        await store.save(good)
        bad = msgspec.structs.replace(
            make_checkpoint("experiment", entity_id, 20, 1, ledger_bytes(entity_id, ("a",))),
            state=ledger_bytes(entity_id, ("x",)),
        )
        await store.save(bad)
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert loaded.checkpoint == good
        assert loaded.skipped == 1

    async def test_garbage_and_other_versions_are_skipped(
        self, nc: Any, storage: Any, entity_id: str
    ) -> None:
        """Undecodable bytes and a checkpoint of another state version are never trusted."""
        store = await store_for(nc, storage)
        kv = await nc.jetstream().key_value(store.bucket)
        await kv.put(checkpoint_key("experiment", entity_id), b"\x00not a checkpoint")
        await store.save(
            make_checkpoint("experiment", entity_id, 5, 99, ledger_bytes(entity_id, ("a",)))
        )
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert (loaded.checkpoint, loaded.skipped) == (None, 2)

    async def test_checkpoint_round_trips_through_the_bucket(
        self, nc: Any, storage: Any, entity_id: str
    ) -> None:
        """What is saved is what is loaded, byte for byte, digest included."""
        store = await store_for(nc, storage)
        saved = make_checkpoint("experiment", entity_id, 3, 1, ledger_bytes(entity_id, ("a", "b")))
        await store.save(saved)
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert isinstance(loaded.checkpoint, Checkpoint)
        assert loaded.checkpoint == saved and loaded.checkpoint.is_intact()


class TestLargeStates:
    async def test_a_state_larger_than_a_message_round_trips_through_the_object_store(
        self, nc: Any, storage: Any, settings: Any, entity_id: str
    ) -> None:
        """A state bigger than NATS max_payload is checkpointed (chunked) and loaded intact."""
        store = await store_for(nc, storage)
        state = bytes(range(256)) * ((settings.nats_max_payload + 2**20) // 256)
        saved = make_checkpoint("experiment", entity_id, 7, 1, state)
        await store.save(saved)
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert loaded.checkpoint is not None and loaded.skipped == 0
        assert loaded.checkpoint.state_object is not None
        assert (loaded.checkpoint.seq, loaded.checkpoint.digest) == (7, saved.digest)
        assert loaded.checkpoint.state == state and loaded.checkpoint.is_intact()

    async def test_every_revision_the_bucket_keeps_keeps_its_state_object(
        self, nc: Any, storage: Any, entity_id: str
    ) -> None:
        """After more large checkpoints than the history holds, a damaged newest one falls
        back to the previous one, whose object was not reused."""
        store = CheckpointStore(nc.jetstream(), inline_max=64)
        await store.ensure(history=4)
        states = {
            seq: ledger_bytes(entity_id, tuple(f"arm{i}" for i in range(seq)))
            for seq in range(1, 8)
        }
        for seq, state in states.items():
            await store.save(make_checkpoint("experiment", entity_id, seq, 1, state))
        newest = await store.load_newest_valid("experiment", entity_id, 1)
        assert newest.checkpoint is not None and newest.checkpoint.seq == 7
        objects = await nc.jetstream().object_store(store.objects_bucket)
        await objects.put(newest.checkpoint.state_object, b"damaged")
        loaded = await store.load_newest_valid("experiment", entity_id, 1)
        assert loaded.checkpoint is not None and loaded.skipped == 1
        assert (loaded.checkpoint.seq, loaded.checkpoint.state) == (6, states[6])
