"""Tracing is off unless the user configures an exporter; configured, spans are exported."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = """
from opentelemetry import trace
from llmopt.tracing import configure_tracing
print("exporter:", configure_tracing())
from llmopt.tracing import tracing_enabled
print("enabled:", tracing_enabled())
trace.get_tracer("check").start_span("hello-span").end()
provider = trace.get_tracer_provider()
if hasattr(provider, "force_flush"):
    provider.force_flush()
"""


def run(env: dict[str, str]) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=clean | env, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_without_configuration_tracing_is_off() -> None:
    """No OTEL_* variables: no SDK is installed and nothing is exported."""
    out = run({})
    assert "exporter: None" in out and "hello-span" not in out
    assert "enabled: False" in out


@pytest.mark.parametrize("env", [{"OTEL_TRACES_EXPORTER": "console"}])
def test_a_configured_exporter_receives_the_spans(env: dict[str, str]) -> None:
    """OTEL_TRACES_EXPORTER=console installs the SDK, and a span reaches the exporter."""
    out = run(env)
    assert "exporter: console" in out and '"name": "hello-span"' in out
    assert "enabled: True" in out
