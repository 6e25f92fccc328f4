"""The exact two-sample KS test equals scipy's, and the KS drift test sees changes of shape."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from actors.drift import KSTest, ks_2samp
from tests.unit.drift.streams import gaussian


def _case(
    seed: int, m: int, n: int, shift: float, scale: float = 1.0
) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, m).tolist(), rng.normal(shift, scale, n).tolist()


CASES = [
    pytest.param(*_case(0, 1, 1, 0.0), id="one-each"),
    pytest.param(*_case(1, 3, 2, 1.0), id="tiny-unequal"),
    pytest.param(*_case(2, 5, 7, 0.0), id="small-unequal"),
    pytest.param(*_case(3, 10, 10, 1.0), id="equal-10"),
    pytest.param(*_case(4, 30, 45, 0.5), id="gcd-15"),
    pytest.param(*_case(5, 100, 37, 0.3), id="coprime"),
    pytest.param(*_case(6, 100, 100, 0.2), id="equal-100"),
    pytest.param(*_case(7, 50, 50, 2.0), id="tiny-p"),
    pytest.param(*_case(8, 200, 200, 0.0, 2.0), id="variance-change"),
    pytest.param(*_case(9, 500, 300, 0.2), id="500-300"),
    pytest.param(*_case(10, 7, 1000, 0.5), id="lopsided"),
    pytest.param(*_case(11, 1000, 1000, 0.05), id="equal-1000"),
    pytest.param([0.0, 1.0, 2.0, 2.0, 1.0] * 20, [0.0, 2.0, 3.0, 3.0] * 20, id="ties"),
    pytest.param([1.0] * 10, [1.0] * 12, id="identical-constants"),
    pytest.param([0.0] * 10, [1.0] * 12, id="disjoint"),
]


@pytest.mark.parametrize(("a", "b"), CASES)
def test_equals_scipy(a: list[float], b: list[float]) -> None:
    """Statistic and p-value equal scipy.stats.ks_2samp (its default, exact method) within 1e-9."""
    statistic, pvalue = ks_2samp(a, b)
    expected = stats.ks_2samp(a, b)
    assert statistic == pytest.approx(float(expected.statistic), abs=1e-12)
    assert abs(pvalue - float(expected.pvalue)) <= 1e-9


def test_symmetric_in_its_samples() -> None:
    """Swapping the samples changes neither the statistic nor the p-value."""
    a, b = _case(12, 40, 65, 0.4)
    assert ks_2samp(a, b) == pytest.approx(ks_2samp(b, a), abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        ([], [1.0], "non-empty"),
        ([1.0, float("nan")], [1.0], "finite"),
        ([0.0] * 10_001, [1.0], "at most 10000"),
    ],
)
def test_bad_samples_are_refused(a: list[float], b: list[float], message: str) -> None:
    """Empty, non-finite or too large samples raise ValueError saying which."""
    with pytest.raises(ValueError, match=message):
        ks_2samp(a, b)


class TestKSTest:
    def test_sees_a_change_of_spread_with_the_same_mean(self) -> None:
        """A variance that triples with the mean unchanged raises an alarm within two windows."""
        detector = KSTest(reference_size=300, window_size=200, alpha=0.001, every=20)
        stream = gaussian(20, 600) + gaussian(21, 600, sd=3.0)
        alarms = [i for i, x in enumerate(stream) if detector.update(x)]
        assert alarms
        assert 600 <= alarms[0] < 1000

    def test_alarm_reports_statistic_and_alpha(self) -> None:
        """The alarm carries the KS statistic, alpha as its threshold and the window size."""
        detector = KSTest(reference_size=50, window_size=40, alpha=0.01, every=10)
        alarm = next(a for x in [0.0] * 50 + [5.0] * 40 if (a := detector.update(x)))
        assert alarm.statistic == 1.0
        assert alarm.threshold == 0.01
        assert alarm.window == 40
        assert alarm.direction == "up"
