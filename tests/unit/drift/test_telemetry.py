"""An appended drift alarm is counted, logged as structured fields and added to the span."""

from __future__ import annotations

import logging

import pytest

from actors.drift.telemetry import DRIFT_ALARMS, report_drift
from events.schema import DriftDetected
from tests.strategies import SAMPLE_EVENTS


def test_report_counts_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    """The counter of the alarm's labels goes up by one and the log line carries its fields."""
    event = SAMPLE_EVENTS[DriftDetected]
    assert isinstance(event, DriftDetected)
    counter = DRIFT_ALARMS.labels("quality", "cusum", "down", "down_weight_arm")
    before = counter._value.get()
    with caplog.at_level(logging.WARNING, logger="llmopt.drift"):
        report_drift(event)
    assert counter._value.get() == before + 1
    record = next(r for r in caplog.records if r.getMessage() == "drift_detected")
    assert (record.experiment, record.arm, record.metric) == ("exp-1", "b", "quality")  # type: ignore[attr-defined]
    assert record.action == "down_weight_arm"  # type: ignore[attr-defined]
    assert record.cause_event_id == "o-1"  # type: ignore[attr-defined]
