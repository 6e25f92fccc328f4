"""``llmopt serve``: run NATS (embedded unless configured), Ray, the directory and the gateway
until SIGINT or SIGTERM, then stop everything that was started, in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

import ray
from prometheus_client import REGISTRY

from gateway.actor_metrics import RelayedMetrics, relay
from llmopt.metrics_server import MetricsServer
from llmopt.runtime import Services, nats_endpoint
from llmopt.settings import Settings
from llmopt.tracing import configure_tracing

log = logging.getLogger("llmopt.serve")


async def serve(settings: Settings) -> int:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    configure_tracing()
    stop = asyncio.Event()
    started = asyncio.Event()
    metrics_caught_up = asyncio.Event()
    metrics_task: asyncio.Task[object] | None = None
    metrics: MetricsServer | None = None
    relayed: RelayedMetrics | None = None
    if settings.metrics_port:
        metrics = MetricsServer(settings.metrics_port)
        metrics.add_check("services", started.is_set)
        metrics.add_check("log_metrics", metrics_caught_up.is_set)
        metrics.start()
    async with nats_endpoint(settings) as (url, server):
        services = Services(settings, url)
        try:
            await services.start()
            started.set()
            if metrics is not None and services.nc is not None:
                # Decision latency and fold time are measured inside the actors (Ray workers).
                relayed = RelayedMetrics()
                REGISTRY.register(relayed)
                await relay(services.nc, relayed)
            if metrics is not None and services.event_log is not None:
                from projections.log_metrics import follow_log_metrics

                metrics_task = asyncio.create_task(
                    follow_log_metrics(
                        services.event_log, stop, on_caught_up=metrics_caught_up.set
                    ),
                    name="log-metrics",
                )
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
            started.clear()
            stop.set()
            if metrics_task is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(metrics_task, 5.0)
            await services.stop()
            if metrics is not None:
                metrics.stop()
            if relayed is not None:
                REGISTRY.unregister(relayed)
            with contextlib.suppress(Exception):
                ray.shutdown()
    return 0
