"""Prometheus metrics of the gateway process (admin and ingest)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

ADMIN_REQUESTS = Counter(
    "llmopt_admin_requests_total",
    "Admin requests by subject and result code",
    ["subject", "result"],
)
DEAD_LETTERS = Counter(
    "llmopt_dead_letters_total", "Refused inputs recorded in the dead-letter stream", ["subject"]
)
OUTCOMES = Counter("llmopt_outcomes_total", "Outcome reports by result code", ["result"])
FALLBACK_DECISIONS = Counter(
    "llmopt_fallback_decisions_total",
    "Decisions answered with the fallback arm because the experiment's actor could not",
    ["experiment"],
)

# The spec's ``ml_*`` metrics. The log-derived ones are kept by ``projections.log_metrics``
# in the ``llmopt serve`` process; the two latency histograms are recorded where the work is
# timed (the decision service and the actor host, in Ray workers) into ACTOR_REGISTRY, which
# each actor publishes and the serve process relays (``gateway.actor_metrics``).
ACTOR_REGISTRY = CollectorRegistry()
"""Metrics recorded inside actor processes, relayed to the serve endpoint over NATS."""
INFERENCE_LATENCY = Histogram(
    "ml_inference_latency_seconds",
    "Time from a decide request's arrival at its actor to the reply, the log's ack included",
    ["experiment"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=ACTOR_REGISTRY,
)
DECIDE_REQUESTS_DROPPED = Counter(
    "llmopt_decide_requests_dropped",
    "Decide requests an overloaded actor dropped unanswered (its queue was full); clients time "
    "out and fall back or retry",
    ["experiment"],
    registry=ACTOR_REGISTRY,
)
DECISIONS_UNLOGGED = Counter(
    "llmopt_decisions_unlogged",
    "Decisions answered 'unavailable' because the log refused or did not acknowledge them",
    ["experiment"],
    registry=ACTOR_REGISTRY,
)
INFERENCE_REQUESTS = Counter(
    "ml_inference_requests", "Decisions made (logged DecisionMade events)", ["experiment", "arm"]
)
FEATURE_STALENESS = Gauge(
    "ml_feature_staleness_seconds",
    "Seconds since a served feature value's window closed (wall clock minus its event time)",
    ["window", "kind", "key"],
)
LOG_STALENESS = Gauge(
    "llmopt_log_staleness_seconds",
    "Wall-clock seconds since the event time of the newest logged event of an entity kind",
    ["kind"],
)
TRAINING_UPDATE_LATENCY = Histogram(
    "ml_training_update_latency_seconds",
    "Time an actor takes to fold one batch of log events into its state",
    ["kind", "entity_id"],
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0),
    registry=ACTOR_REGISTRY,
)
TRAINING_SAMPLES = Counter(
    "ml_training_samples",
    "Outcomes joined to their decision: the samples the policies learn from",
    ["experiment"],
)
MODEL_ACCURACY = Gauge(
    "ml_model_accuracy",
    "Share of an experiment's joined outcomes that succeeded (not an error, quality >= 0.5)",
    ["experiment"],
)
MODEL_REGRET = Gauge(
    "ml_model_regret",
    "Cumulative regret of an experiment over the outcomes that carry a counterfactual reward",
    ["experiment"],
)
CHECKPOINT_COUNT = Gauge("ml_checkpoint_count", "Checkpoints taken (logged)", ["kind"])
CONSUMER_LAG = Gauge(
    "llmopt_consumer_lag_events",
    "Log events a JetStream consumer (an actor or a projection) has not yet been delivered",
    ["consumer"],
)
DERIVED_EVENTS = Counter(
    "llmopt_derived_events_total",
    "Events an actor's state derived and the actor appended: drift alarms, guardrail breaches, "
    "pauses, rollbacks, canary stages, promotions, completions, sample-ratio mismatches",
    ["kind", "event"],
    registry=ACTOR_REGISTRY,
)
GC_PAUSE = Histogram(
    "llmopt_actor_gc_pause_seconds",
    "Time an actor process spent in one garbage collection, by generation: every request "
    "that arrives meanwhile waits for it",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
    registry=ACTOR_REGISTRY,
)
