"""Drift and anomaly detectors for metric streams, the actions their alarms trigger, and the
per-arm monitor that runs them.

Every detector keeps the contract of :class:`~actors.drift.base.Detector` (pure, no I/O,
``update(x) -> Alarm | None``, ``reset()``, byte-identical state for identical histories):

- sequential change detectors, which restart after an alarm: :class:`ADWIN` (``adwin``),
  :class:`PageHinkley` (``page_hinkley``) and :class:`CUSUM` (``cusum``), the last two on the
  stream's own scale with thresholds from a target false-alarm rate
  (:mod:`actors.drift.calibration`);
- window comparisons between a reference window and the current one: :class:`KSTest`
  (``ks``, exact two-sample Kolmogorov-Smirnov) and :class:`PSI` (``psi``);
- point-anomaly detectors over a sliding window: :class:`ZScore` (``zscore``), :class:`IQR`
  (``iqr``) and :class:`MAD` (``mad``).

:class:`DriftMonitor` runs configured detectors per arm and metric and attaches the configured
:data:`DriftAction` to each alarm; :func:`drift_event` turns the result into the
``DriftDetected`` event the experiment's fold applies.
"""

from __future__ import annotations

from actors.drift.actions import (
    AlertOnly,
    DownWeightArm,
    DriftAction,
    DriftRule,
    RaiseExploration,
    ResetArm,
    RollbackExperiment,
    plan_action,
)
from actors.drift.adwin import ADWIN
from actors.drift.base import Alarm, Detector
from actors.drift.cusum import CUSUM
from actors.drift.iqr import IQR
from actors.drift.ks import KSTest, ks_2samp
from actors.drift.mad import MAD
from actors.drift.monitor import DetectorSpec, DriftMonitor, DriftSignal, drift_event
from actors.drift.multi_cusum import MultiCUSUM
from actors.drift.page_hinkley import PageHinkley
from actors.drift.psi import PSI, psi
from actors.drift.registry import DETECTORS, detector_from_bytes, make_detector
from actors.drift.zscore import ZScore

__all__ = [
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
]
