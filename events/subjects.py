"""Subject layout of the log: one subject per (entity kind, entity id, channel).

``llmopt.log.<kind>.<entity_id>.<channel>``. An entity's whole history is
``llmopt.log.<kind>.<entity_id>.>``; a channel exists so that events with one writer
(lifecycle, checkpoints) can be appended with a per-subject expected sequence while events
with many writers (decisions from every replica, outcomes from every client) cannot fork it.
"""

from __future__ import annotations

import re
from typing import Final

LOG_PREFIX: Final = "llmopt.log"
LOG_SUBJECTS: Final = f"{LOG_PREFIX}.>"
DEAD_LETTER_PREFIX: Final = "llmopt.deadletter"

_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,128}")


class InvalidEntityId(ValueError):
    """An id that would break the subject hierarchy (dots, wildcards, spaces, too long)."""


def check_token(value: str, what: str = "entity_id") -> str:
    """Return ``value`` if it is usable as one subject token, else raise ``InvalidEntityId``."""
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise InvalidEntityId(
            f"{what} must be 1-128 characters of letters, digits, '_' or '-', got {value!r}"
        )
    return value


def entity_subject(kind: str, entity_id: str, channel: str) -> str:
    return f"{LOG_PREFIX}.{kind}.{entity_id}.{channel}"


def entity_filter(kind: str, entity_id: str) -> str:
    """The filter subject that selects every event of one entity."""
    return f"{LOG_PREFIX}.{kind}.{entity_id}.>"


def kind_filter(kind: str, channel: str = "*") -> str:
    return f"{LOG_PREFIX}.{kind}.*.{channel}"


def parse_subject(subject: str) -> tuple[str, str, str]:
    """Split a log subject into (kind, entity_id, channel)."""
    parts = subject.split(".")
    if len(parts) != 5 or f"{parts[0]}.{parts[1]}" != LOG_PREFIX:
        raise ValueError(f"not a log subject: {subject!r}")
    return parts[2], parts[3], parts[4]
