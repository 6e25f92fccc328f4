"""``llmopt serve``: run NATS (embedded unless configured), Ray, the directory and the gateway
until SIGINT or SIGTERM, then stop everything that was started, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import ray
from prometheus_client import start_http_server

from llmopt.runtime import Services, nats_endpoint
from llmopt.settings import Settings

log = logging.getLogger("llmopt.serve")


async def serve(settings: Settings) -> int:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    stop = asyncio.Event()
    if settings.metrics_port:
        start_http_server(settings.metrics_port, addr="127.0.0.1")
    async with nats_endpoint(settings) as (url, server):
        services = Services(settings, url)
        try:
            await services.start()
            # After ray.init, which installs handlers of its own that would dump stacks and
            # skip our orderly shutdown.
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            print(
                f"llmopt serving: NATS {url} ({'embedded' if server else 'external'}), "
                f"Ray {settings.ray_address or 'local'}; Ctrl-C stops",
                flush=True,
            )
            await stop.wait()
        finally:
            log.info("stopping")
            await services.stop()
            with contextlib.suppress(Exception):
                ray.shutdown()
    return 0
