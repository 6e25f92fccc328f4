"""Checkpoints: an actor's state bytes with the log sequence they cover, in a JetStream KV bucket.

A checkpoint only shortens recovery; the log stays the truth. So a checkpoint is trusted only
if its digest matches its bytes, its state version matches the code and it decodes; anything
else is skipped (and counted), and recovery falls back to an older one or to a full replay.
The bucket keeps a few revisions per key so that one damaged checkpoint costs little.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

import msgspec
import nats.js.errors
from nats.js import JetStreamContext, api
from nats.js.kv import KeyValue

from actors.aggregate import state_digest

CHECKPOINT_BUCKET: Final = "llmopt_checkpoints"
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

    def is_intact(self) -> bool:
        return state_digest(self.state) == self.digest


class LoadedCheckpoint(msgspec.Struct, frozen=True):
    checkpoint: Checkpoint | None
    skipped: int
    """How many newer checkpoints were refused (damaged, undecodable, other state version)."""


def checkpoint_key(kind: str, entity_id: str) -> str:
    return f"{kind}.{entity_id}"


class CheckpointStore:
    def __init__(self, js: JetStreamContext, *, bucket: str = CHECKPOINT_BUCKET):
        self.js = js
        self.bucket = bucket
        self._kv: KeyValue | None = None

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

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            self._kv = await self.js.key_value(self.bucket)
        return self._kv

    async def save(self, checkpoint: Checkpoint) -> int:
        """Store a checkpoint; returns its KV revision."""
        kv = await self._bucket()
        key = checkpoint_key(checkpoint.kind, checkpoint.entity_id)
        return int(await kv.put(key, msgspec.msgpack.encode(checkpoint)))

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
        entries = [newest]
        if self._refuse(newest, kind, entity_id, state_version) is not None:
            # Only now read the older revisions: nats-py's history() watcher can miss an existing
            # key inside a Ray worker (nats-io/nats.py#842), so the common case avoids it, and
            # here it is retried before an empty answer is believed.
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
            reason = self._refuse(entry, kind, entity_id, state_version)
            if reason is None:
                return LoadedCheckpoint(_decoded(entry.value), skipped)
            skipped += 1
            log.warning(
                "checkpoint skipped",
                extra={
                    "kind": kind,
                    "entity_id": entity_id,
                    "revision": entry.revision,
                    "reason": reason,
                },
            )
        return LoadedCheckpoint(None, skipped)

    @staticmethod
    def _refuse(entry: Any, kind: str, entity_id: str, state_version: int) -> str | None:
        """Why a stored entry cannot be trusted, or None if it can."""
        if entry.operation is not None or not entry.value:
            return "deleted"
        verdict = _refusal(entry.value, kind, entity_id, state_version)
        return None if isinstance(verdict, Checkpoint) else verdict


def _decoded(raw: bytes) -> Checkpoint:
    return msgspec.msgpack.decode(raw, type=Checkpoint)


def _refusal(raw: bytes, kind: str, entity_id: str, state_version: int) -> Checkpoint | str:
    """The checkpoint if it can be trusted, else why not."""
    try:
        checkpoint = msgspec.msgpack.decode(raw, type=Checkpoint)
    except msgspec.MsgspecError as exc:
        return f"undecodable: {exc}"
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
