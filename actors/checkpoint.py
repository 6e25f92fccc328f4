"""Checkpoints: an actor's state bytes with the log sequence they cover, in a JetStream KV bucket.

A state larger than ``INLINE_MAX`` would not fit in one NATS message (``max_payload``, 8 MiB
at most): its bytes go to a JetStream object store (chunked), and the KV entry holds everything
else plus the object's name. Each entity cycles through as many object names as the KV keeps
revisions, so every revision still in the KV has its object, and nothing older accumulates.

A checkpoint only shortens recovery; the log stays the truth. So a checkpoint is trusted only
if its digest matches its bytes, its state version matches the code and it decodes; anything
else is skipped (and counted), and recovery falls back to an older one or to a full replay.
The bucket keeps a few revisions per key so that one damaged checkpoint costs little.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from typing import Any, Final

import msgspec
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from actors.aggregate import state_digest

CHECKPOINT_BUCKET: Final = "llmopt_checkpoints"
STATE_OBJECTS_BUCKET: Final = "llmopt_checkpoint_states"
INLINE_MAX: Final = 1 << 20
"""States up to this size (bytes) stay inside the KV entry."""
log = logging.getLogger("llmopt.checkpoint")


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    entity_id: str
    seq: int
    """Last log sequence folded into ``state``."""
    state_version: int
    digest: str
    """SHA-256 of ``state``, checked before the state is trusted."""
    state: bytes
    taken_at: float
    """Wall-clock time of the save: metadata for operators, never read by a fold."""
    state_object: str | None = None
    """Name of the object holding ``state`` when it was too large to store inline."""

    def is_intact(self) -> bool:
        return state_digest(self.state) == self.digest


class LoadedCheckpoint(msgspec.Struct, frozen=True):
    checkpoint: Checkpoint | None
    skipped: int
    """How many newer checkpoints were refused (damaged, undecodable, other state version)."""


def checkpoint_key(kind: str, entity_id: str) -> str:
    return f"{kind}.{entity_id}"


class CheckpointStore:
    def __init__(
        self,
        js: JetStreamContext,
        *,
        bucket: str = CHECKPOINT_BUCKET,
        objects_bucket: str = STATE_OBJECTS_BUCKET,
        inline_max: int = INLINE_MAX,
    ):
        self.js = js
        self.bucket = bucket
        self.objects_bucket = objects_bucket
        self.inline_max = inline_max
        self._kv: KeyValue | None = None
        self._objects: ObjectStore | None = None

    async def ensure(
        self, *, history: int = 4, replicas: int = 1, max_value_size: int = -1
    ) -> None:
        try:
            self._kv = await self.js.key_value(self.bucket)
        except nats.js.errors.BucketNotFoundError:
            self._kv = await self.js.create_key_value(
                api.KeyValueConfig(
                    bucket=self.bucket,
                    description="llm-auto-optimizer actor checkpoints",
                    history=history,
                    storage=api.StorageType.FILE,
                    replicas=replicas,
                    max_value_size=max_value_size,
                )
            )
        try:
            self._objects = await self.js.object_store(self.objects_bucket)
        except nats.js.errors.BucketNotFoundError:
            self._objects = await self.js.create_object_store(
                self.objects_bucket,
                api.ObjectStoreConfig(
                    description="llm-auto-optimizer checkpoint states too large for a message",
                    storage=api.StorageType.FILE,
                    replicas=replicas,
                ),
            )

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.key_value(self.bucket)
        return self._kv

    async def _object_store(self) -> ObjectStore:
        if self._objects is None:
            self._objects = await self.js.object_store(self.objects_bucket)
        return self._objects

    async def save(self, checkpoint: Checkpoint) -> int:
        """Store a checkpoint; returns its KV revision."""
        kv = await self._bucket()
        key = checkpoint_key(checkpoint.kind, checkpoint.entity_id)
        if len(checkpoint.state) > self.inline_max:
            name = await self._next_object_name(kv, key)
            await (await self._object_store()).put(name, checkpoint.state)
            checkpoint = msgspec.structs.replace(checkpoint, state=b"", state_object=name)
        return int(await kv.put(key, msgspec.msgpack.encode(checkpoint)))

    async def _next_object_name(self, kv: KeyValue, key: str) -> str:
        """The slot after the newest checkpoint's: with one slot more than the KV keeps
        revisions, no revision the KV still has loses its object."""
        slots = max(1, (await kv.status()).history) + 1
        slot = 0
        with contextlib.suppress(Exception):  # no checkpoint yet, or an unreadable one
            newest = _decoded((await kv.get(key)).value or b"")
            if newest.state_object is not None:
                slot = (int(newest.state_object.rsplit(".", 1)[1]) + 1) % slots
        return f"{key}.{slot}"

    async def with_state(self, checkpoint: Checkpoint) -> Checkpoint:
        """The checkpoint with its state bytes, fetched from the object store if stored there."""
        if checkpoint.state_object is None:
            return checkpoint
        # Into a buffer: without one, nats-py appends each chunk to an immutable bytes object,
        # a copy of everything so far per 128 KiB chunk (seconds for a 20 MB state).
        buffer = io.BytesIO()
        await (await self._object_store()).get(checkpoint.state_object, writeinto=buffer)
        return msgspec.structs.replace(checkpoint, state=buffer.getvalue())

    async def load_newest_valid(
        self, kind: str, entity_id: str, state_version: int
    ) -> LoadedCheckpoint:
        """The newest checkpoint that passes every check, and how many newer ones did not."""
        kv = await self._bucket()
        key = checkpoint_key(kind, entity_id)
        try:
            newest = await kv.get(key)
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            return LoadedCheckpoint(None, 0)
        verdict = await self._trusted(newest, kind, entity_id, state_version)
        if isinstance(verdict, Checkpoint):
            return LoadedCheckpoint(verdict, 0)
        # Only now read the older revisions: nats-py's history() watcher can miss an existing
        # key inside a Ray worker (nats-io/nats.py#842), so the common case avoids it, and
        # here it is retried before an empty answer is believed.
        entries = [newest]
        for _attempt in range(3):
            try:
                entries = await kv.history(key)
                break
            except nats.js.errors.NoKeysError:
                continue
        skipped = 0
        for entry in reversed(entries):
            if entry.operation is not None or not entry.value:
                continue  # a delete or purge marker, not a checkpoint
            verdict = await self._trusted(entry, kind, entity_id, state_version)
            if isinstance(verdict, Checkpoint):
                return LoadedCheckpoint(verdict, skipped)
            skipped += 1
            log.warning(
                "checkpoint skipped",
                extra={
                    "kind": kind,
                    "entity_id": entity_id,
                    "revision": entry.revision,
                    "reason": verdict,
                },
            )
        return LoadedCheckpoint(None, skipped)

    async def _trusted(
        self, entry: Any, kind: str, entity_id: str, state_version: int
    ) -> Checkpoint | str:
        """The checkpoint of a stored entry, with its state, if it can be trusted; else why not."""
        if entry.operation is not None or not entry.value:
            return "deleted"
        try:
            checkpoint = _decoded(entry.value)
        except msgspec.MsgspecError as exc:
            return f"undecodable: {exc}"
        if checkpoint.state_object is not None:
            try:
                checkpoint = await self.with_state(checkpoint)
            except Exception as exc:
                return f"state object {checkpoint.state_object!r} unreadable: {exc!r}"
        return _refusal(checkpoint, kind, entity_id, state_version)


def _decoded(raw: bytes) -> Checkpoint:
    return msgspec.msgpack.decode(raw, type=Checkpoint)


def _refusal(
    checkpoint: Checkpoint, kind: str, entity_id: str, state_version: int
) -> Checkpoint | str:
    """The checkpoint if it can be trusted, else why not."""
    if (checkpoint.kind, checkpoint.entity_id) != (kind, entity_id):
        return f"belongs to {checkpoint.kind}/{checkpoint.entity_id}"
    if checkpoint.state_version != state_version:
        return f"state version {checkpoint.state_version}, code expects {state_version}"
    if not checkpoint.is_intact():
        return "digest mismatch"
    return checkpoint


def make_checkpoint(
    kind: str, entity_id: str, seq: int, state_version: int, state: bytes
) -> Checkpoint:
    return Checkpoint(
        kind=kind,
        entity_id=entity_id,
        seq=seq,
        state_version=state_version,
        digest=state_digest(state),
        state=state,
        taken_at=time.time(),
    )
