"""Event-time feature windows: pure, deterministic, serialisable (no I/O, no wall clock).

One concept per module: :mod:`~actors.windows.watermark` (event-time progress and the lateness
policy), :mod:`~actors.windows.tumbling`, :mod:`~actors.windows.sliding` and
:mod:`~actors.windows.session` (window assigners), :mod:`~actors.windows.keyed_windows` (the
operator), :mod:`~actors.windows.moments` (Welford / Chan), :mod:`~actors.windows.quantile_sketch`
(DDSketch) and :mod:`~actors.windows.window_stats` (what a window publishes).
"""

from actors.windows.keyed_windows import AnyWindow, KeyedWindows, WindowResult
from actors.windows.moments import RunningMoments
from actors.windows.observation import Observation
from actors.windows.quantile_sketch import QuantileSketch
from actors.windows.session import SessionWindow
from actors.windows.sliding import SlidingWindow
from actors.windows.tumbling import TumblingWindow
from actors.windows.watermark import Watermark
from actors.windows.window_stats import WindowAccumulator, WindowStats

__all__ = [
    "AnyWindow",
    "KeyedWindows",
    "Observation",
    "QuantileSketch",
    "RunningMoments",
    "SessionWindow",
    "SlidingWindow",
    "TumblingWindow",
    "Watermark",
    "WindowAccumulator",
    "WindowResult",
    "WindowStats",
]
