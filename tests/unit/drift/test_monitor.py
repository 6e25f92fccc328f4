"""The per-arm drift monitor: alarms keyed by arm with the configured action, the event they
become, and a state that replays to the same bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.drift import (
    AlertOnly,
    DetectorSpec,
    DownWeightArm,
    DriftMonitor,
    DriftRule,
    ResetArm,
    RollbackExperiment,
    drift_event,
)
from actors.drift.actions import action_from_dict
from actors.drift.monitor import metrics_of
from events.codec import decode, encode
from events.schema import DriftDetected, OutcomeObserved
from tests.strategies import DETERMINISTIC
from tests.unit.drift.streams import gaussian

QUALITY = DetectorSpec(
    metric="quality", detector="cusum", params={"k": 0.5, "warmup": 100, "arl0": 1e6}
)
LATENCY = DetectorSpec(metric="latency_ms", detector="page_hinkley", params={"warmup": 50})
RULES = [
    DriftRule(metric="quality", direction="down", action=DownWeightArm(factor=0.25)),
    DriftRule(metric="latency_ms", action=RollbackExperiment()),
]


def monitor() -> DriftMonitor:
    return DriftMonitor([QUALITY, LATENCY], RULES)


def quality_drop_history(seed: int = 0) -> list[tuple[str, dict[str, Any]]]:
    """Two arms at quality 0.8 (sd 0.05); arm 'b' drops to 0.65 after 300 outcomes each."""
    a = gaussian(seed, 600, mean=0.8, sd=0.05)
    b = gaussian(seed + 1, 300, mean=0.8, sd=0.05) + gaussian(seed + 2, 300, mean=0.65, sd=0.05)
    history: list[tuple[str, dict[str, Any]]] = []
    for qa, qb in zip(a, b, strict=True):
        history.append(("a", {"quality": qa, "latency_ms": None}))
        history.append(("b", {"quality": qb}))
    return history


class TestObserve:
    def test_a_quality_drop_on_one_arm_alarms_for_that_arm_only(self) -> None:
        """Only the arm whose quality fell raises an alarm, downward, with the rule's action."""
        m = monitor()
        signals = [
            (i, s)
            for i, (arm, values) in enumerate(quality_drop_history())
            for s in m.observe(arm, values)
        ]
        assert signals
        assert {s.arm for _, s in signals} == {"b"}
        first_index, first = signals[0]
        assert first_index // 2 - 300 < 10
        assert first.metric == "quality"
        assert first.alarm.direction == "down"
        assert first.action == DownWeightArm(factor=0.25)

    def test_unmatched_alarm_is_alert_only(self) -> None:
        """An alarm no rule matches (quality going up) gets AlertOnly."""
        m = DriftMonitor([QUALITY], RULES)
        values = gaussian(3, 150, mean=0.5, sd=0.05) + [0.9] * 20
        signals = [s for x in values for s in m.observe("a", {"quality": x})]
        assert signals and signals[0].alarm.direction == "up"
        assert signals[0].action == AlertOnly()

    def test_unwatched_and_missing_metrics_are_skipped(self) -> None:
        """Metrics no spec watches, and None values, create no detector."""
        m = monitor()
        assert m.observe("a", {"cost_usd": 1.0, "quality": None}) == []
        assert m.detectors == {}

    def test_bad_value_is_refused_before_any_detector_changes(self) -> None:
        """A non-finite watched metric raises ValueError naming metric and arm; nothing changes."""
        m = monitor()
        m.observe("a", {"quality": 0.5, "latency_ms": 100.0})
        before = m.to_bytes()
        with pytest.raises(ValueError, match="metric 'latency_ms' of arm 'a'"):
            m.observe("a", {"quality": 0.6, "latency_ms": float("nan")})
        assert m.to_bytes() == before

    def test_bad_arm_is_refused(self) -> None:
        """An arm that is not a non-empty string raises ValueError and creates nothing."""
        m = monitor()
        for arm in ("", None, 3):
            with pytest.raises(ValueError, match="arm must be"):
                m.observe(arm, {"quality": 0.5})  # type: ignore[arg-type]
        assert m.detectors == {}

    def test_forget_arm_restarts_its_detectors(self) -> None:
        """After forget_arm the arm's detectors start afresh on its next observation."""
        m = monitor()
        m.observe("a", {"quality": 0.5})
        m.forget_arm("a")
        assert "a" not in m.detectors

    @pytest.mark.parametrize(
        ("config", "message"),
        [
            ({"detectors": []}, "at least one detector"),
            ({"detectors": [{"metric": "q", "detector": "nope"}]}, "unknown detector"),
            ({"detectors": [{"metric": "q", "detector": "cusum", "params": {"k": -1}}]}, "k must"),
            ({"detectors": [{"metric": "q"}]}, "detector"),
            (
                {
                    "detectors": [{"metric": "q", "detector": "cusum"}],
                    "rules": [{"action": {"kind": "x"}}],
                },
                "action",
            ),
        ],
    )
    def test_bad_config_is_refused_with_the_field(
        self, config: dict[str, Any], message: str
    ) -> None:
        """An invalid configuration raises ValueError naming what is wrong."""
        with pytest.raises(ValueError, match=message):
            DriftMonitor.from_config(config)


class TestState:
    def test_config_round_trip(self) -> None:
        """from_config(config()) rebuilds a monitor with the same bytes."""
        m = monitor()
        assert DriftMonitor.from_config(m.config()).to_bytes() == m.to_bytes()

    @given(cut=st.integers(min_value=0, max_value=1200), seed=st.integers(0, 2**16))
    @DETERMINISTIC
    def test_restored_monitor_continues_identically(self, cut: int, seed: int) -> None:
        """A monitor checkpointed at any point and restored from its bytes emits the same
        signals on the rest of the history and ends in the same bytes as the live one."""
        history = quality_drop_history(seed)
        live = monitor()
        for arm, values in history[:cut]:
            live.observe(arm, values)
        restored = DriftMonitor.from_bytes(live.to_bytes())
        assert restored.to_bytes() == live.to_bytes()
        for arm, values in history[cut:]:
            assert restored.observe(arm, values) == live.observe(arm, values)
        assert restored.to_bytes() == live.to_bytes()

    def test_garbage_bytes_are_refused(self) -> None:
        """Bytes that are no monitor raise ValueError."""
        with pytest.raises(ValueError, match="drift monitor"):
            DriftMonitor.from_bytes(b"\x00\x01")


class TestEvent:
    def test_signal_becomes_an_event_that_survives_the_codec(self) -> None:
        """drift_event gives a DriftDetected on the experiment's drift channel that encodes and
        decodes unchanged, with the action as a dict the ledger can read back."""
        m = monitor()
        signal = next(s for arm, values in quality_drop_history() for s in m.observe(arm, values))
        event = drift_event(signal, "exp-1", at=1_700_000_000.0, cause_event_id="out-42")
        assert isinstance(event, DriftDetected)
        assert (event.entity_id, event.arm, event.metric, event.direction) == (
            "exp-1",
            "b",
            "quality",
            "down",
        )
        assert event.threshold == signal.alarm.threshold
        assert decode(encode(event)) == event
        assert action_from_dict(event.action) == DownWeightArm(factor=0.25)

    def test_event_id_is_a_function_of_the_cause(self) -> None:
        """The same alarm re-derived on a replay has the same event id; another cause another."""
        m = monitor()
        signal = next(s for arm, values in quality_drop_history() for s in m.observe(arm, values))
        one = drift_event(signal, "exp-1", 1.0, "out-1")
        assert drift_event(signal, "exp-1", 1.0, "out-1").event_id == one.event_id
        assert drift_event(signal, "exp-1", 1.0, "out-2").event_id != one.event_id

    def test_unbounded_statistic_is_none(self) -> None:
        """An anomaly off a constant window (statistic inf) is stored as None, valid JSON."""
        m = DriftMonitor(
            [
                DetectorSpec(
                    metric="latency_ms", detector="zscore", params={"window": 10, "min_samples": 5}
                )
            ]
        )
        signals = [s for x in [5.0] * 10 + [6.0] for s in m.observe("a", {"latency_ms": x})]
        event = drift_event(signals[0], "exp-1", 1.0, "out-1")
        assert event.statistic is None
        assert decode(encode(event)) == event


def test_metrics_of_an_outcome() -> None:
    """An outcome feeds its measured fields, error as 0/1 and the token total."""
    outcome = OutcomeObserved(
        event_id="o",
        entity_id="e",
        at=1.0,
        decision_id="d",
        quality=0.7,
        latency_ms=120.0,
        input_tokens=10,
        output_tokens=5,
        error=True,
    )
    metrics = metrics_of(outcome)
    assert metrics["quality"] == 0.7 and metrics["latency_ms"] == 120.0
    assert metrics["error"] == 1.0 and metrics["tokens"] == 15.0
    assert metrics["reward"] is None and metrics["cost_usd"] is None


def test_rules_first_match_wins() -> None:
    """The first matching rule decides; detector and direction filters are honoured."""
    m = DriftMonitor(
        [QUALITY],
        [
            DriftRule(detector="adwin", action=ResetArm()),
            DriftRule(direction="up", action=ResetArm()),
            DriftRule(metric="quality", action=RollbackExperiment(to_arm="a")),
        ],
    )
    values = gaussian(4, 150, mean=0.8, sd=0.05) + [0.5] * 20
    signal = next(s for x in values for s in m.observe("b", {"quality": x}))
    assert signal.action == RollbackExperiment(to_arm="a")
