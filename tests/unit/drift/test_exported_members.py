"""The public API of ``actors.drift`` is deliberate: adding or removing a name is a visible change."""

from __future__ import annotations

import actors.drift

PUBLIC = {
    "ADWIN",
    "CUSUM",
    "DETECTORS",
    "IQR",
    "MAD",
    "PSI",
    "Alarm",
    "AlertOnly",
    "Detector",
    "DetectorSpec",
    "DownWeightArm",
    "DriftAction",
    "DriftMonitor",
    "DriftRule",
    "DriftSignal",
    "KSTest",
    "MultiCUSUM",
    "PageHinkley",
    "RaiseExploration",
    "ResetArm",
    "RollbackExperiment",
    "ZScore",
    "detector_from_bytes",
    "drift_event",
    "ks_2samp",
    "make_detector",
    "plan_action",
    "psi",
}


def test_exported_members() -> None:
    """actors.drift exports exactly its listed names, and every one of them resolves."""
    assert set(actors.drift.__all__) == PUBLIC
    for name in actors.drift.__all__:
        assert getattr(actors.drift, name) is not None
