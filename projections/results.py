r"""Read model of experiment results: each arm against the control arm, recomputed from the
hourly roll-up whenever a batch touched the experiment.

Per arm: :math:`n` scored outcomes, mean and sample variance of the reward (from
:math:`\sum r` and :math:`\sum r^2`, :meth:`SampleSummary.from_sums`), and conversions
(reward :math:`\ge 0.5`). Each non-control arm gets Welch's t-test of its mean reward against
the control's (:func:`actors.statistics.welch_ttest`: difference B - A, its interval and
p-value) and the two-proportion z-test of its conversion rate
(:func:`actors.statistics.two_proportion_ztest`). With several variants the Welch p-values are
Holm-adjusted (:func:`actors.statistics.holm`) so that "significant" keeps the family-wise
error at :data:`ALPHA`; an arm is ``significant`` when its adjusted p-value is at most
``ALPHA``.

These are fixed-horizon tests: reading them after every batch and stopping at the first
significant one inflates the false-positive rate (peeking). The control arm is the
experiment's fallback arm, else its first arm.
"""

from __future__ import annotations

import math
from typing import Any, Final

from sqlite_utils import Database

from actors.statistics import SampleSummary, holm, two_proportion_ztest, welch_ttest
from projections.projector import Batch, Projector

ALPHA: Final = 0.05


def register(projector: Projector) -> None:
    projector.finish_with(recompute)


def recompute(db: Database, batch: Batch) -> None:
    """Rewrite the result rows of every experiment the batch touched, in a stable order."""
    for experiment_id in sorted(batch.experiments):
        db.execute("DELETE FROM experiment_results WHERE experiment_id = ?", [experiment_id])
        for row in experiment_rows(db, experiment_id):
            db.execute(
                f"INSERT INTO experiment_results ({', '.join(row)}) "
                f"VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )


def experiment_rows(db: Database, experiment_id: str) -> list[dict[str, Any]]:
    """The result rows of one experiment, control first, then the arms by name."""
    totals = db.execute(
        "SELECT arm, SUM(decisions), SUM(rewarded), SUM(reward_sum), SUM(reward_sumsq),"
        " SUM(successes) FROM arm_hourly WHERE experiment_id = ? GROUP BY arm ORDER BY arm",
        [experiment_id],
    ).fetchall()
    if not totals:
        return []
    control_row = db.execute(
        "SELECT control_arm FROM experiments WHERE experiment_id = ?", [experiment_id]
    ).fetchone()
    arms = {row[0]: row for row in totals}
    control = control_row[0] if control_row and control_row[0] in arms else totals[0][0]
    rows: dict[str, dict[str, Any]] = {}
    for arm, decisions, n, total, squares, successes in totals:
        summary = SampleSummary.from_sums(int(n), float(total), float(squares))
        rows[arm] = {
            "experiment_id": experiment_id,
            "arm": arm,
            "is_control": int(arm == control),
            "decisions": int(decisions),
            "n": int(n),
            "mean_reward": _number(summary.mean),
            "reward_variance": _number(summary.variance),
            "successes": int(successes),
            "conversion": successes / n if n else None,
            "difference": None,
            "difference_ci_low": None,
            "difference_ci_high": None,
            "p_value": None,
            "p_value_holm": None,
            "conversion_p_value": None,
            "conversion_ci_low": None,
            "conversion_ci_high": None,
            "significant": 0,
        }
    _, _, c_n, c_total, c_squares, c_successes = arms[control]
    control_summary = SampleSummary.from_sums(int(c_n), float(c_total), float(c_squares))
    tested: list[str] = []
    for arm, _, n, total, squares, successes in totals:
        summary = SampleSummary.from_sums(int(n), float(total), float(squares))
        if arm == control or not (_testable(summary) and _testable(control_summary)):
            continue
        mean_test = welch_ttest(control_summary, summary)
        conversion = two_proportion_ztest(int(c_successes), int(c_n), int(successes), int(n))
        rows[arm] |= {
            "difference": _number(mean_test.difference),
            "difference_ci_low": _number(mean_test.difference_ci[0]),
            "difference_ci_high": _number(mean_test.difference_ci[1]),
            "p_value": _number(mean_test.p_value),
            "conversion_p_value": _number(conversion.p_value),
            "conversion_ci_low": _number(conversion.difference_ci[0]),
            "conversion_ci_high": _number(conversion.difference_ci[1]),
        }
        if not math.isnan(mean_test.p_value):
            tested.append(arm)
    for arm, adjusted in zip(tested, holm([rows[a]["p_value"] for a in tested]), strict=True):
        rows[arm]["p_value_holm"] = adjusted
        rows[arm]["significant"] = int(adjusted <= ALPHA)
    ordered = [rows[control]] + [rows[arm] for arm in sorted(rows) if arm != control]
    return ordered


def _testable(summary: SampleSummary) -> bool:
    """At least one observation, and a usable variance where there are two or more (sums of
    squares that overflowed leave none)."""
    if summary.n < 1 or not math.isfinite(summary.mean):
        return False
    return summary.n < 2 or (math.isfinite(summary.variance) and summary.variance >= 0.0)


def _number(value: float) -> float | None:
    """SQLite stores NaN as NULL anyway; saying so keeps the rows comparable."""
    return value if math.isfinite(value) else None
