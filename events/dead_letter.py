"""Refused input, kept apart from the log: what arrived, where, and why it was refused.

Invalid input never enters the log (replay must only ever see valid events), but it is not
dropped either: an operator can read ``llmopt events --dead-letters`` to see what clients sent.
"""

from __future__ import annotations

import base64
import time
from typing import Final

import msgspec
from nats.js import JetStreamContext, api

from events.streams import ensure_stream
from events.subjects import DEAD_LETTER_PREFIX

DEAD_LETTER_STREAM: Final = "LLMOPT_DEADLETTER"


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """One refused message. ``payload`` is the text that arrived (or base64 if it was binary)."""

    subject: str
    """The subject the input was sent to."""
    code: str
    message: str
    field: str | None = None
    payload: str
    payload_encoding: str = "utf-8"
    received_at: float


class DeadLetterLog:
    """Appends refused input to its own stream; limits by age so it cannot fill the disk."""

    def __init__(self, js: JetStreamContext, *, stream: str = DEAD_LETTER_STREAM):
        self.js = js
        self.stream = stream

    async def ensure(self, *, replicas: int = 1, max_age_s: float = 30 * 86400.0) -> None:
        config = api.StreamConfig(
            name=self.stream,
            description="llm-auto-optimizer refused input",
            subjects=[f"{DEAD_LETTER_PREFIX}.>"],
            storage=api.StorageType.FILE,
            num_replicas=replicas,
            max_age=max_age_s,
        )
        await ensure_stream(self.js, config)

    async def record(
        self, subject: str, payload: bytes, *, code: str, message: str, field: str | None
    ) -> int:
        """Store one refused input; returns its sequence in the dead-letter stream."""
        try:
            text, encoding = payload.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
        letter = DeadLetter(
            subject=subject,
            code=code,
            message=message,
            field=field,
            payload=text,
            payload_encoding=encoding,
            received_at=time.time(),
        )
        ack = await self.js.publish(
            f"{DEAD_LETTER_PREFIX}.{subject}", msgspec.json.encode(letter), stream=self.stream
        )
        return int(ack.seq)
