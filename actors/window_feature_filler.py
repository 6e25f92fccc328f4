"""Window aggregates join a request's context without a remote call on the hot path.

An experiment whose config lists ``window_features`` (``actors.experiment_config``) gets, in
its actor, an in-memory copy of the online feature store kept current by a KV watch
(``actors.feature_cache.FeatureCache``): filling a context is a dict lookup per feature. The
filled context is the one decided on and logged, so the fold, a replay and an audit see the
value the decision saw, whatever the store holds later.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from actors.decider import DecideRequest
from actors.experiment_config import WindowFeatureRef
from actors.feature_cache import FeatureCache, FeatureRequest


class WindowFeatureFiller:
    def __init__(self, cache: FeatureCache, refs: Sequence[WindowFeatureRef]) -> None:
        self.cache = cache
        self.refs = tuple(refs)

    def fill(self, request: DecideRequest) -> DecideRequest:
        """The request with every configured field the application did not send filled in: the
        window's value for the request's key, or the feature's default when that value is
        stale or missing (counted by the cache). A request without its key field gets
        nothing filled for that reference (the feature schema's default applies)."""
        context = request.context
        added: dict[str, Any] = {}
        for ref in self.refs:
            if ref.field in context:
                continue
            key = ref.key if ref.key is not None else context.get(ref.key_from or "")
            if key is None:
                continue
            reply = self.cache.read(
                FeatureRequest(
                    window=ref.window, kind=ref.kind, key=str(key), features=[ref.feature]
                )
            )
            added[ref.field] = reply.values.get(ref.feature)
        if not added:
            return request
        return msgspec.structs.replace(request, context={**context, **added})
