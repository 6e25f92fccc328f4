"""Creating a JetStream stream or bringing an existing one's settings up to date."""

from __future__ import annotations

import nats.js.errors
from nats.js import JetStreamContext, api


async def ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    """Create the stream, or update it so that a changed setting (replicas, limits) applies."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except nats.js.errors.NotFoundError:
        await js.add_stream(config)
    else:
        await js.update_stream(config)
