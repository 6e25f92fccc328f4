"""Prometheus metrics of the projections: position and consumer lag per projection."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

PROJECTION_POSITION = Gauge(
    "llmopt_projection_position", "Last log sequence applied by a projection", ["projection"]
)
PROJECTION_LAG = Gauge(
    "llmopt_projection_lag_events",
    "Log events not yet applied by a projection (log head minus its position)",
    ["projection"],
)
PROJECTION_EVENTS = Counter(
    "llmopt_projection_events_total", "Log events applied by a projection", ["projection"]
)
