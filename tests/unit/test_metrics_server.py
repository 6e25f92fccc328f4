"""The metrics endpoint serves the registry, a liveness probe and a readiness probe."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry, Counter

from llmopt.metrics_server import MetricsServer


@pytest.fixture
def server() -> Iterator[MetricsServer]:
    registry = CollectorRegistry()
    Counter("probe_hits", "hits", registry=registry).inc(3)
    running = MetricsServer(0, registry=registry)
    running.start()
    try:
        yield running
    finally:
        running.stop()


def get(server: MetricsServer, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_metrics_are_served(server: MetricsServer) -> None:
    """/metrics is the Prometheus exposition of the registry."""
    status, body = get(server, "/metrics")
    assert status == 200 and b"probe_hits_total 3.0" in body


def test_healthz_is_ok_while_serving(server: MetricsServer) -> None:
    """/healthz answers 200 without any readiness check passing."""
    server.add_check("never", lambda: False)
    assert get(server, "/healthz") == (200, b'{"status": "ok"}')


def test_readyz_names_the_failing_checks_until_they_pass(server: MetricsServer) -> None:
    """/readyz is 503 naming each failing or raising check, then 200 once all pass."""
    state = {"ready": False}
    server.add_check("services", lambda: state["ready"])
    server.add_check("boom", lambda: 1 / 0 > 0)
    status, body = get(server, "/readyz")
    assert status == 503 and json.loads(body)["failing"] == ["services", "boom"]
    state["ready"] = True
    server.checks.pop("boom")
    assert get(server, "/readyz")[0] == 200
