"""Every detector by name, so configuration and checkpoints can name a detector's kind."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Final

from actors.drift.adwin import ADWIN
from actors.drift.base import Detector, decode_detector
from actors.drift.cusum import CUSUM
from actors.drift.iqr import IQR
from actors.drift.ks import KSTest
from actors.drift.mad import MAD
from actors.drift.multi_cusum import MultiCUSUM
from actors.drift.page_hinkley import PageHinkley
from actors.drift.psi import PSI
from actors.drift.zscore import ZScore

DETECTORS: Final[dict[str, type[Detector]]] = {
    cls.name: cls for cls in (ADWIN, PageHinkley, CUSUM, MultiCUSUM, KSTest, PSI, ZScore, IQR, MAD)
}
"""Every detector class, by its ``name``."""


def make_detector(name: str, params: Mapping[str, Any] | None = None) -> Detector:
    """A new detector ``name`` built with ``params``; ``ValueError`` naming the problem for an
    unknown detector, an unknown parameter or a value the detector refuses."""
    try:
        cls = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; known: {sorted(DETECTORS)}") from None
    arguments = dict(params or {})
    signature = inspect.signature(cls)
    for key in arguments:
        if key not in signature.parameters:
            raise ValueError(f"detector {name!r} does not take parameter {key!r}")
    try:
        return cls(**arguments)
    except TypeError as error:
        raise ValueError(f"detector {name!r}: invalid parameters: {error}") from None


def detector_from_bytes(data: bytes) -> Detector:
    """Rebuild any detector from :meth:`Detector.to_bytes`, whatever its kind."""
    name, _, _ = decode_detector(data)
    if name not in DETECTORS:
        raise ValueError(f"state of unknown detector {name!r}")
    return DETECTORS[name].from_bytes(data)
