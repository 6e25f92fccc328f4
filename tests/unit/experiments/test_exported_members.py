"""The public API of ``actors.experiments`` is deliberate: adding or removing a name is a visible change."""

from __future__ import annotations

import doctest
import importlib

import pytest

import actors.experiments

MODULES = [
    "assignment",
    "canary",
    "champion",
    "contrast",
    "guardrails",
    "lifecycle",
    "metrics",
    "plan",
    "shadow",
    "stopping",
]


def test_exported_members() -> None:
    """The package exports exactly its modules' public names, and every one resolves."""
    expected: set[str] = set()
    for name in MODULES:
        expected |= set(importlib.import_module(f"actors.experiments.{name}").__all__)
    assert set(actors.experiments.__all__) <= expected
    for name in actors.experiments.__all__:
        assert getattr(actors.experiments, name) is not None
    assert "transition" in actors.experiments.__all__


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_run(name: str) -> None:
    """Every module's docstring examples run and print what they show."""
    module = importlib.import_module(f"actors.experiments.{name}")
    result = doctest.testmod(module, verbose=False, report=False)
    assert result.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_experiment_logic_does_no_io(name: str) -> None:
    """No module of the pure package imports NATS, Ray, the event log or the gateway."""
    source = importlib.import_module(f"actors.experiments.{name}").__file__
    assert source is not None
    with open(source, encoding="utf-8") as handle:
        text = handle.read()
    for module in ("nats", "ray", "events", "gateway", "time", "random"):
        assert f"import {module}" not in text and f"from {module} " not in text
