"""The shipped Grafana dashboards and Prometheus alert rules parse and name only exported metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

import gateway.metrics
import projections.metrics

OPS = Path(__file__).resolve().parents[2] / "ops"
DASHBOARDS = sorted((OPS / "grafana").glob("*.json"))
METRIC = re.compile(r"\b((?:ml|llmopt)_[a-z0-9_]+)\b")
SPEC_METRICS = {
    "ml_inference_latency_seconds",
    "ml_inference_requests_total",
    "ml_feature_staleness_seconds",
    "ml_training_update_latency_seconds",
    "ml_training_samples_total",
    "ml_model_accuracy",
    "ml_model_regret",
    "ml_checkpoint_count",
}


def exported() -> set[str]:
    """Every series name the service's metric objects expose, with their type's suffixes."""
    names: set[str] = set()
    for module in (gateway.metrics, projections.metrics):
        for value in vars(module).values():
            if not isinstance(value, MetricWrapperBase):
                continue
            base = value._name
            if isinstance(value, Counter):
                names.add(f"{base}_total")
            elif isinstance(value, Histogram):
                names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count", base}
            elif isinstance(value, Gauge):
                names.add(base)
    return names


def dashboard_exprs(path: Path) -> list[str]:
    board = json.loads(path.read_text())
    return [t["expr"] for p in board["panels"] for t in p["targets"]]


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((OPS / "prometheus" / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def test_four_dashboards_ship() -> None:
    """Inference, training health, feature store and experiments each have a dashboard."""
    assert [p.stem for p in DASHBOARDS] == ["experiments", "feature_store", "inference", "training"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_dashboard_parses_and_names_only_exported_metrics(path: Path) -> None:
    """Each dashboard is JSON with panels whose queries name only metrics the service exports."""
    board = json.loads(path.read_text())
    assert board["uid"] and board["panels"]
    names = {n for e in dashboard_exprs(path) for n in METRIC.findall(e)}
    assert names, "a dashboard must query something"
    assert names <= exported(), names - exported()


def test_alert_rules_parse_and_name_only_exported_metrics() -> None:
    """The alert rules are valid YAML groups whose expressions name only exported metrics."""
    exprs = alert_exprs()
    assert len(exprs) >= 8
    names = {n for e in exprs for n in METRIC.findall(e)}
    assert names <= exported(), names - exported()


def test_every_spec_metric_is_exported_and_charted() -> None:
    """The spec's metric names are exported and each appears on at least one dashboard."""
    charted = {n for p in DASHBOARDS for e in dashboard_exprs(p) for n in METRIC.findall(e)}
    for name in SPEC_METRICS:
        assert name in exported(), name
        assert name in charted or f"{name}_bucket" in charted, name


def test_the_checker_rejects_an_unknown_metric() -> None:
    """A query naming a metric nobody exports is caught (the check above can fail)."""
    assert not {"ml_made_up_total"} <= exported()
