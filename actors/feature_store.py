"""The online feature store's storage: one JetStream KV entry per (window entity, window kind,
key) holding the newest emitted window's statistics, when it was computed and how long it stays
fresh.

``computed_at`` is the window's end in event time: a value describes traffic up to then, and
its age for a reader is ``now - computed_at``. Past ``ttl_s`` it is stale and readers serve the
feature's default instead (``gateway.features``). The bucket's own ``max_age`` removes entries
nobody has updated for a long time (an archived window, a model no longer used).
"""

from __future__ import annotations

import base64
from typing import Any, Final

import msgspec
import nats.js.errors
from nats.js import api
from nats.js.kv import KeyValue

from actors.windows.keyed_windows import WindowResult
from actors.windows.window_stats import WindowStats

FEATURE_BUCKET: Final = "llmopt_features"
BUCKET_MAX_AGE_S: Final = 7 * 86_400.0


class FeatureRecord(msgspec.Struct, frozen=True, kw_only=True):
    window: str
    """The feature window entity's id."""
    kind: str
    """The window kind's name, e.g. ``tumbling_60s``."""
    key: str
    start: float
    end: float
    revision: int
    computed_at: float
    """Event time the values are as of (the window's end)."""
    ttl_s: float
    features: WindowStats

    @classmethod
    def of(cls, window: str, result: WindowResult, ttl_s: float) -> FeatureRecord:
        return cls(
            window=window,
            kind=result.window,
            key=result.key,
            start=result.start,
            end=result.end,
            revision=result.revision,
            computed_at=result.end,
            ttl_s=ttl_s,
            features=result.stats,
        )


def feature_key(window: str, kind: str, key: str) -> str:
    """The KV key: window id, window kind (dots made safe), key in unpadded base64url (a key
    such as ``gpt-4o|pro`` holds characters KV keys do not allow)."""
    encoded = base64.urlsafe_b64encode(key.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{window}.{kind.replace('.', '_')}.{encoded or '_'}"


async def feature_bucket(js: Any, *, replicas: int = 1) -> KeyValue:
    """The bucket, created on first use (one value per key: history 1)."""
    try:
        kv: KeyValue = await js.key_value(FEATURE_BUCKET)
    except nats.js.errors.BucketNotFoundError:
        kv = await js.create_key_value(
            api.KeyValueConfig(
                bucket=FEATURE_BUCKET,
                description="llm-auto-optimizer online features (newest window per key)",
                history=1,
                ttl=BUCKET_MAX_AGE_S,
                storage=api.StorageType.FILE,
                replicas=replicas,
            )
        )
    return kv
