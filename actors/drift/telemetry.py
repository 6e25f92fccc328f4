"""What a drift alarm tells the operators: a Prometheus counter, a JSON log line, a span event.

The detectors and the monitor are pure; the actor that appends a ``DriftDetected`` event calls
:func:`report_drift` once the append succeeded (not while replaying, so a restart does not
count old alarms twice). The counter's labels stay low-cardinality (no experiment or arm: those
are in the log line and the event).
"""

from __future__ import annotations

import logging

from opentelemetry import trace
from prometheus_client import Counter

from events.schema import DriftDetected
from gateway.metrics import ACTOR_REGISTRY

DRIFT_ALARMS = Counter(
    "llmopt_drift_alarms_total",
    "Drift and anomaly alarms appended, by metric, detector, direction and configured action",
    ["metric", "detector", "direction", "action"],
    registry=ACTOR_REGISTRY,  # counted in the actor, relayed to the serve endpoint
)

log = logging.getLogger("llmopt.drift")


def report_drift(event: DriftDetected) -> None:
    """Count the alarm, log it as one JSON object, and add it to the current span."""
    action = str(event.action.get("kind", "alert_only"))
    DRIFT_ALARMS.labels(event.metric, event.detector, event.direction, action).inc()
    fields = {
        "experiment": event.entity_id,
        "arm": event.arm,
        "metric": event.metric,
        "detector": event.detector,
        "direction": event.direction,
        "statistic": event.statistic,
        "threshold": event.threshold,
        "samples": event.samples,
        "window": event.window,
        "action": action,
        "drift_event_id": event.event_id,
        "cause_event_id": event.cause_event_id,
    }
    log.warning("drift_detected", extra=fields)
    trace.get_current_span().add_event(
        "drift_detected", {k: v for k, v in fields.items() if isinstance(v, str | int | float)}
    )
