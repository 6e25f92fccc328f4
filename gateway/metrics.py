"""Prometheus metrics of the gateway process (admin and ingest)."""

from __future__ import annotations

from prometheus_client import Counter

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
