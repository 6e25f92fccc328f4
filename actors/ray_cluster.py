"""Joining Ray: a local cluster by default, an existing one when an address is configured."""

from __future__ import annotations

import logging
from typing import Any

import ray

from llmopt.settings import Settings

log = logging.getLogger("llmopt.ray")


def init_ray(settings: Settings, **kwargs: Any) -> None:
    """``ray.init`` once per process, in the project's namespace."""
    if ray.is_initialized():
        return
    options: dict[str, Any] = {
        "namespace": settings.ray_namespace,
        "include_dashboard": False,
        "logging_level": logging.WARNING,
        "log_to_driver": True,
    }
    if settings.ray_address:
        options["address"] = settings.ray_address
    options.update(kwargs)
    ray.init(**options)
    log.info("ray joined", extra={"address": settings.ray_address or "local"})
