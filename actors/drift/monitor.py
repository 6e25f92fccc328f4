"""Drift monitoring per arm: configured detectors on each arm's metric streams.

This is the seam between the pure detectors and the experiment's event-sourced state. The
experiment's fold (or a drift-monitor actor) joins each outcome to its arm and calls
``monitor.observe(arm, metrics_of(outcome))``; every alarm comes back as a
:class:`DriftSignal` carrying the configured action, and :func:`drift_event` turns it into the
``DriftDetected`` event to append. The fold that later reads that event applies the action,
so the live actor and a replay make the same change at the same point of the log.

The monitor is deterministic: detectors are created on an arm's first observation of a
metric, in the order of the configured specs, and ``to_bytes`` encodes the configuration and
every detector's state with sorted keys, so identical histories give identical bytes.

Examples
--------
>>> from actors.drift.actions import DownWeightArm
>>> monitor = DriftMonitor(
...     [DetectorSpec(metric="quality", detector="cusum",
...                   params={"k": 0.5, "threshold": 4.0, "mean": 0.9, "sd": 0.05})],
...     rules=[DriftRule(metric="quality", direction="down", action=DownWeightArm(0.25))],
... )
>>> [monitor.observe("gpt", {"quality": 0.9}) for _ in range(3)]
[[], [], []]
>>> signals = [s for _ in range(5) for s in monitor.observe("gpt", {"quality": 0.7})]
>>> signals[0].arm, signals[0].alarm.direction, signals[0].action
('gpt', 'down', DownWeightArm(factor=0.25))
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Self

import msgspec

from actors.drift.actions import DriftAction, DriftRule, action_to_dict, plan_action
from actors.drift.base import Alarm, Detector, observation
from actors.drift.registry import detector_from_bytes, make_detector
from events.schema import DriftDetected, OutcomeObserved

_encoder = msgspec.msgpack.Encoder(order="deterministic")


class DetectorSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One detector to run on one metric of every arm: ``detector`` is a name of
    ``actors.drift.registry.DETECTORS`` and ``params`` its constructor arguments."""

    metric: str
    detector: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class DriftSignal(msgspec.Struct, frozen=True):
    """An alarm of the detector ``spec`` (its index in the monitor's specs) on ``metric`` of
    ``arm``, with the action the rules chose for it."""

    arm: str
    metric: str
    spec: int
    alarm: Alarm
    action: DriftAction


class DriftMonitor:
    """The configured detectors, one instance per arm and spec, and the rules that pick an
    action for each alarm (first match wins; none matching means alert only)."""

    def __init__(self, specs: Sequence[DetectorSpec], rules: Sequence[DriftRule] = ()) -> None:
        if not specs:
            raise ValueError("a drift monitor needs at least one detector spec")
        self.specs = list(specs)
        self.rules = list(rules)
        for i, spec in enumerate(self.specs):
            try:
                make_detector(spec.detector, spec.params)
            except ValueError as error:
                raise ValueError(f"detector spec {i} ({spec.metric}): {error}") from None
        self.detectors: dict[str, list[Detector | None]] = {}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """A monitor from ``{"detectors": [spec, ...], "rules": [rule, ...]}`` (JSON-like);
        ``ValueError`` naming the bad field."""
        try:
            specs = msgspec.convert(config.get("detectors", []), list[DetectorSpec])
            rules = msgspec.convert(config.get("rules", []), list[DriftRule])
        except msgspec.ValidationError as error:
            raise ValueError(f"invalid drift monitor config: {error}") from None
        return cls(specs, rules)

    def config(self) -> dict[str, Any]:
        """The configuration :meth:`from_config` takes."""
        return {
            "detectors": msgspec.to_builtins(self.specs),
            "rules": msgspec.to_builtins(self.rules),
        }

    @property
    def metrics(self) -> list[str]:
        """The metrics some spec watches, in spec order without repeats."""
        return list(dict.fromkeys(spec.metric for spec in self.specs))

    def observe(self, arm: str, metrics: Mapping[str, float | None]) -> list[DriftSignal]:
        """Fold one outcome's metrics for ``arm``; the alarms it completes, in spec order.

        Metrics no spec watches and metrics that are ``None`` (not measured) are skipped. A
        watched value that is not a finite number raises ``ValueError`` naming the metric,
        before any detector changes.
        """
        if not isinstance(arm, str) or not arm:
            raise ValueError(f"arm must be a non-empty string, got {arm!r}")
        values: dict[str, float] = {}
        for metric in self.metrics:
            raw = metrics.get(metric)
            if raw is None:
                continue
            try:
                values[metric] = observation(raw)
            except ValueError as error:
                raise ValueError(f"metric {metric!r} of arm {arm!r}: {error}") from None
        if not values:
            return []
        row = self.detectors.setdefault(arm, [None] * len(self.specs))
        signals = []
        for i, spec in enumerate(self.specs):
            if spec.metric not in values:
                continue
            detector = row[i]
            if detector is None:
                detector = row[i] = make_detector(spec.detector, spec.params)
            alarm = detector.update(values[spec.metric])
            if alarm is not None:
                action = plan_action(alarm, spec.metric, self.rules)
                signals.append(DriftSignal(arm, spec.metric, i, alarm, action))
        return signals

    def forget_arm(self, arm: str) -> None:
        """Drop an arm's detectors (the arm was retired, or its memory reset): its next
        observation starts them afresh."""
        self.detectors.pop(arm, None)

    def to_bytes(self) -> bytes:
        return _encoder.encode(
            {
                "config": self.config(),
                "detectors": {
                    arm: [None if d is None else d.to_bytes() for d in row]
                    for arm, row in self.detectors.items()
                },
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        try:
            decoded = msgspec.msgpack.decode(data)
        except msgspec.DecodeError as error:
            raise ValueError(f"not the bytes of a drift monitor: {error}") from None
        if not (isinstance(decoded, dict) and {"config", "detectors"} <= decoded.keys()):
            raise ValueError("not the bytes of a drift monitor")
        monitor = cls.from_config(decoded["config"])
        for arm, row in decoded["detectors"].items():
            if len(row) != len(monitor.specs):
                raise ValueError(
                    f"arm {arm!r}: {len(row)} detectors for {len(monitor.specs)} specs"
                )
            monitor.detectors[arm] = [None if d is None else detector_from_bytes(d) for d in row]
        return monitor


def metrics_of(outcome: OutcomeObserved) -> dict[str, float | None]:
    """The metric streams an outcome feeds: its measured fields, and ``error`` as 0/1."""
    tokens = (
        None
        if outcome.input_tokens is None and outcome.output_tokens is None
        else float((outcome.input_tokens or 0) + (outcome.output_tokens or 0))
    )
    return {
        "reward": outcome.reward,
        "quality": outcome.quality,
        "cost_usd": outcome.cost_usd,
        "latency_ms": outcome.latency_ms,
        "feedback": outcome.feedback,
        "tokens": tokens,
        "error": 1.0 if outcome.error else 0.0,
    }


def drift_event(
    signal: DriftSignal, experiment_id: str, at: float, cause_event_id: str
) -> DriftDetected:
    """The event recording ``signal`` for ``experiment_id``, at the event time of the
    observation that caused it.

    Its id is a hash of the experiment, the cause and the detector, so the same alarm
    re-derived on a replay or a retried append is the same event, and the log drops the copy.
    """
    key = f"{experiment_id}|{cause_event_id}|{signal.arm}|{signal.metric}|{signal.spec}"
    alarm = signal.alarm
    return DriftDetected(
        event_id="drift-" + hashlib.sha256(key.encode()).hexdigest()[:32],
        entity_id=experiment_id,
        at=at,
        detector=alarm.detector,
        metric=signal.metric,
        statistic=alarm.statistic if math.isfinite(alarm.statistic) else None,
        threshold=alarm.threshold,
        samples=alarm.samples,
        window=alarm.window,
        direction=alarm.direction,
        arm=signal.arm,
        action=action_to_dict(signal.action),
        cause_event_id=cause_event_id,
    )
