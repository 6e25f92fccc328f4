"""The detector contract: every detector in ALL_DETECTORS passes the same checks.

A new detector joins by appending a :class:`DetectorFactory` to :data:`ALL_DETECTORS` (River's
``_unit_test_params`` pattern). Each factory uses small windows and warm-ups so the checks
reach the alarm and restart paths on short streams; ``drift`` says whether the detector
watches for lasting changes (tested on a level shift) or for point anomalies (tested on a
spike).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.drift import (
    ADWIN,
    CUSUM,
    DETECTORS,
    IQR,
    MAD,
    PSI,
    Alarm,
    Detector,
    KSTest,
    MultiCUSUM,
    PageHinkley,
    ZScore,
    detector_from_bytes,
    make_detector,
)
from tests.strategies import DETERMINISTIC
from tests.unit.drift.streams import gaussian, regime_streams, shifted


@dataclass(frozen=True)
class DetectorFactory:
    """How the suite builds one detector, and the most samples it may take to react."""

    id: str
    name: str
    params: dict[str, Any]
    drift: bool = True
    bound: int = 200
    level: float = 3.25
    """A constant the detector accepts as in control (a known mean, where one is given)."""

    def make(self) -> Detector:
        return make_detector(self.name, self.params)


ALL_DETECTORS: list[DetectorFactory] = [
    DetectorFactory("adwin", "adwin", {}),
    DetectorFactory("adwin_clock1", "adwin", {"delta": 0.01, "clock": 1}),
    DetectorFactory("page_hinkley", "page_hinkley", {"warmup": 30}),
    DetectorFactory("page_hinkley_known_sd", "page_hinkley", {"sd": 1.0, "threshold": 8.0}),
    DetectorFactory("cusum", "cusum", {"warmup": 30}),
    DetectorFactory(
        "cusum_known", "cusum", {"mean": 0.0, "sd": 1.0, "k": 0.5, "arl0": 500}, level=0.0
    ),
    DetectorFactory("multi_cusum", "multi_cusum", {"warmup": 30}),
    DetectorFactory(
        "multi_cusum_known", "multi_cusum", {"ks": [0.25, 1.0], "mean": 0.0, "sd": 1.0}, level=0.0
    ),
    DetectorFactory("ks", "ks", {"reference_size": 40, "window_size": 30, "every": 5}),
    DetectorFactory(
        "psi", "psi", {"bins": 5, "reference_size": 200, "window_size": 150, "every": 10}
    ),
    DetectorFactory("zscore", "zscore", {"window": 50, "min_samples": 10}, drift=False),
    DetectorFactory("iqr", "iqr", {"window": 50, "min_samples": 10}, drift=False),
    DetectorFactory("mad", "mad", {"window": 50, "min_samples": 10}, drift=False),
]

by_id = pytest.mark.parametrize("factory", ALL_DETECTORS, ids=lambda f: f.id)


def run(detector: Detector, stream: list[float]) -> list[tuple[int, Alarm]]:
    return [(i, a) for i, x in enumerate(stream) if (a := detector.update(x)) is not None]


def test_every_detector_is_in_the_suite() -> None:
    """Each registered detector kind is covered by at least one factory of the suite."""
    assert {f.name for f in ALL_DETECTORS} == set(DETECTORS)
    classes = {ADWIN, CUSUM, IQR, MAD, PSI, KSTest, MultiCUSUM, PageHinkley, ZScore}
    assert set(DETECTORS.values()) == classes


@by_id
class TestContract:
    def test_constant_stream_never_alarms(self, factory: DetectorFactory) -> None:
        """A stream that never changes raises no alarm, however long."""
        assert run(factory.make(), [factory.level] * 3000) == []

    def test_bad_observation_is_refused_and_changes_nothing(self, factory: DetectorFactory) -> None:
        """NaN, infinity, None and text raise ValueError naming the problem; the state stays."""
        detector = factory.make()
        run(detector, gaussian(1, 120))
        before = detector.to_bytes()
        for bad in (float("nan"), float("inf"), -float("inf"), None, "0.5"):
            with pytest.raises(ValueError, match="observation must be"):
                detector.update(bad)  # type: ignore[arg-type]
            assert detector.to_bytes() == before

    def test_reset_gives_a_fresh_detector(self, factory: DetectorFactory) -> None:
        """After reset the detector has the bytes of a new one with the same parameters."""
        detector = factory.make()
        run(detector, shifted(2, 200, 200, 4.0))
        detector.reset()
        assert detector.to_bytes() == factory.make().to_bytes()

    def test_same_history_same_bytes(self, factory: DetectorFactory) -> None:
        """Two detectors fed the same stream have identical bytes and alarms."""
        stream = shifted(3, 300, 300, 3.0)
        a, b = factory.make(), factory.make()
        assert run(a, stream) == run(b, stream)
        assert a.to_bytes() == b.to_bytes()

    def test_round_trip_by_kind_and_by_class(self, factory: DetectorFactory) -> None:
        """from_bytes (of the class, and of the registry) rebuilds the same bytes."""
        detector = factory.make()
        run(detector, shifted(4, 150, 150, 2.0))
        data = detector.to_bytes()
        assert type(detector).from_bytes(data).to_bytes() == data
        assert detector_from_bytes(data).to_bytes() == data

    def test_bytes_of_another_detector_are_refused(self, factory: DetectorFactory) -> None:
        """from_bytes refuses another kind's state, and bytes that are no detector at all."""
        other = "cusum" if factory.name != "cusum" else "adwin"
        with pytest.raises(ValueError, match="expected"):
            type(factory.make()).from_bytes(make_detector(other).to_bytes())
        with pytest.raises(ValueError, match="not the bytes of a detector"):
            detector_from_bytes(b"\x01\x02")
        with pytest.raises(ValueError, match="not the bytes of a detector"):
            detector_from_bytes(msgspec.msgpack.encode([1, 2]))

    def test_reacts_within_bound(self, factory: DetectorFactory) -> None:
        """A 4-sd level shift (drift detectors) or a 12-sd spike (anomaly detectors) alarms
        within the factory's bound, in the right direction."""
        if factory.drift:
            stream = shifted(5, 400, 400, 4.0)
            alarms = run(factory.make(), stream)
            after = [(i, a) for i, a in alarms if i >= 400]
            assert after, "no alarm after the shift"
            assert after[0][0] - 400 < factory.bound
            assert after[0][1].direction in ("up", "both")
        else:
            stream = [*gaussian(5, 400), 12.0, *gaussian(6, 50)]
            alarms = run(factory.make(), stream)
            assert 400 in [i for i, _ in alarms]
            assert dict(alarms)[400].direction == "up"

    def test_detects_a_fall_as_well_as_a_rise(self, factory: DetectorFactory) -> None:
        """Every detector is two-sided: a downward change alarms with direction 'down'."""
        if factory.drift:
            stream = shifted(7, 400, 400, -4.0)
            after = [a for i, a in run(factory.make(), stream) if i >= 400]
        else:
            stream = [*gaussian(7, 400), -12.0]
            after = [a for i, a in run(factory.make(), stream) if i >= 400]
        assert after
        assert after[0].direction == "down"

    def test_alarm_fields_are_consistent(self, factory: DetectorFactory) -> None:
        """An alarm names its detector, exceeds its threshold and counts at least one sample."""
        stream = [*shifted(8, 400, 400, 5.0), 40.0]
        alarms = run(factory.make(), stream)
        assert alarms
        for _, alarm in alarms:
            assert alarm.detector == factory.name
            assert alarm.samples >= 1
            assert alarm.window >= 0
            if factory.name == "ks":
                assert alarm.statistic > 0.0
            else:
                assert alarm.statistic > alarm.threshold

    @given(stream=regime_streams(), cut=st.integers(min_value=0, max_value=600))
    @DETERMINISTIC
    def test_restored_mid_stream_continues_identically(
        self, factory: DetectorFactory, stream: list[float], cut: int
    ) -> None:
        """A detector checkpointed after any prefix and restored from its bytes raises the same
        alarms on the rest of the stream and ends in the same bytes (replay equals live)."""
        cut = min(cut, len(stream))
        live = factory.make()
        head = run(live, stream[:cut])
        restored = detector_from_bytes(live.to_bytes())
        assert restored.to_bytes() == live.to_bytes()
        tail_live = run(live, stream[cut:])
        tail_restored = run(restored, stream[cut:])
        assert tail_restored == tail_live
        assert restored.to_bytes() == live.to_bytes()
        uninterrupted = factory.make()
        assert run(uninterrupted, stream) == head + [(i + cut, a) for i, a in tail_live]
        assert uninterrupted.to_bytes() == live.to_bytes()


class TestMakeDetector:
    def test_unknown_name_lists_the_known_ones(self) -> None:
        """An unknown detector name raises ValueError listing the known names."""
        with pytest.raises(ValueError, match="unknown detector 'nope'; known"):
            make_detector("nope")

    def test_unknown_parameter_is_named(self) -> None:
        """A parameter the detector does not take raises ValueError naming it."""
        with pytest.raises(ValueError, match="does not take parameter 'lambda_'"):
            make_detector("page_hinkley", {"lambda_": 3.0})

    @pytest.mark.parametrize(
        ("name", "params", "field"),
        [
            ("adwin", {"delta": 1.5}, "delta"),
            ("adwin", {"clock": 0}, "clock"),
            ("cusum", {"k": -1.0}, "k"),
            ("cusum", {"sd": 0.0}, "sd"),
            ("cusum", {"warmup": 1}, "warmup"),
            ("page_hinkley", {"threshold": float("nan")}, "threshold"),
            ("ks", {"alpha": 0.0}, "alpha"),
            ("ks", {"window_size": 20_000}, "window_size"),
            ("psi", {"bins": 1}, "bins"),
            ("zscore", {"rate": 2.0}, "rate"),
            ("iqr", {"k": "wide"}, "k"),
            ("mad", {"window": 10, "min_samples": 20}, "min_samples"),
        ],
    )
    def test_bad_parameter_is_named(self, name: str, params: dict[str, Any], field: str) -> None:
        """A parameter value the detector refuses raises ValueError naming the parameter."""
        with pytest.raises(ValueError, match=field):
            make_detector(name, params)


_: Callable[[], Detector] = CUSUM  # every detector is constructible without arguments
