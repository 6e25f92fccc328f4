"""The questions a platform team asks, answered from the projection database.

* :func:`savings`: how much did the chosen arms cost against sending every request to the
  experiment's flagship (its configured ``baseline_arm``, else its most expensive catalogue
  arm), over a time window;
* :func:`task_winners`: which arm (model) wins for which task type, the task type being a
  field of the decisions' context;
* :func:`significance`: is experiment X significant yet (``experiment_results``);
* :func:`model_usage`: cost, tokens, latency and quality per model;
* :func:`drift_alerts`: what drifted, when.

Every function reads the database only; :func:`build_report` gathers them into one
:class:`Report`, which ``llmopt report`` prints as tables or as JSON.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from sqlite_utils import Database

from projections import tracking

WEEK_S = 7 * 86400.0
_FIELD = re.compile(r"[A-Za-z0-9_-]{1,64}")

__all__ = [
    "WEEK_S",
    "AlertRow",
    "ArmResult",
    "ExperimentSignificance",
    "ModelUsage",
    "Report",
    "SavingsRow",
    "TaskArm",
    "TaskWinner",
    "build_report",
    "drift_alerts",
    "model_usage",
    "savings",
    "significance",
    "task_winners",
]


class SavingsRow(msgspec.Struct, frozen=True, kw_only=True):
    """Cost of the chosen arms against the flagship baseline, for the outcomes whose cost and
    token counts are both known (those are the ones a baseline can be priced for)."""

    experiment_id: str
    flagship: str | None
    requests: int
    cost_usd: float
    baseline_cost_usd: float
    saved_usd: float
    saved_share: float | None
    """``saved_usd / baseline_cost_usd``; None when the baseline is 0."""


class TaskArm(msgspec.Struct, frozen=True, kw_only=True):
    arm: str
    model: str
    outcomes: int
    mean_reward: float | None
    mean_quality: float | None
    mean_cost_usd: float | None


class TaskWinner(msgspec.Struct, frozen=True, kw_only=True):
    """The arm with the highest mean reward for one task type (ties: the cheaper, then by name),
    among arms with at least ``min_outcomes`` scored outcomes; every arm is listed."""

    experiment_id: str
    task: str | None
    winner: TaskArm | None
    arms: list[TaskArm]


class ArmResult(msgspec.Struct, frozen=True, kw_only=True):
    arm: str
    is_control: bool
    decisions: int
    n: int
    mean_reward: float | None
    conversion: float | None
    difference: float | None
    difference_ci: tuple[float | None, float | None]
    p_value: float | None
    p_value_holm: float | None
    conversion_p_value: float | None
    significant: bool


class ExperimentSignificance(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: str
    control: str | None
    significant: bool
    """Some arm differs from the control at the family-wise level (Holm-adjusted Welch)."""
    significant_arms: list[str]
    arms: list[ArmResult]


class ModelUsage(msgspec.Struct, frozen=True, kw_only=True):
    experiment_id: str
    arm: str
    model: str
    decisions: int
    outcomes: int
    cost_usd: float
    input_tokens: int
    output_tokens: int
    mean_latency_ms: float | None
    mean_quality: float | None
    mean_reward: float | None
    errors: int


class AlertRow(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    entity_id: str
    at: float
    detail: dict[str, Any]


class Report(msgspec.Struct, frozen=True, kw_only=True):
    position: int
    """The last log sequence the projections had applied."""
    since: float
    until: float
    experiment: str | None
    task_field: str
    savings: list[SavingsRow]
    total_savings: SavingsRow
    winners: list[TaskWinner]
    significance: list[ExperimentSignificance]
    models: list[ModelUsage]
    alerts: list[AlertRow]


def savings(
    db: Database, since: float, until: float, experiment: str | None = None
) -> list[SavingsRow]:
    """Per experiment, over the outcomes of decisions made in ``[since, until)``."""
    rows = db.execute(
        "SELECT experiment_id, MAX(baseline_arm), COUNT(*), SUM(cost_usd), SUM(baseline_cost_usd)"
        " FROM outcomes WHERE decided_at >= ? AND decided_at < ? AND cost_usd IS NOT NULL"
        " AND baseline_cost_usd IS NOT NULL AND (? IS NULL OR experiment_id = ?)"
        " GROUP BY experiment_id ORDER BY experiment_id",
        [since, until, experiment, experiment],
    ).fetchall()
    return [_savings_row(*row) for row in rows]


def total_savings(rows: list[SavingsRow]) -> SavingsRow:
    return _savings_row(
        "(all)",
        None,
        sum(r.requests for r in rows),
        sum(r.cost_usd for r in rows),
        sum(r.baseline_cost_usd for r in rows),
    )


def _savings_row(
    experiment_id: str, flagship: str | None, requests: int, cost: float, baseline: float
) -> SavingsRow:
    cost, baseline = float(cost or 0.0), float(baseline or 0.0)
    saved = baseline - cost
    return SavingsRow(
        experiment_id=experiment_id,
        flagship=flagship,
        requests=int(requests),
        cost_usd=cost,
        baseline_cost_usd=baseline,
        saved_usd=saved,
        saved_share=saved / baseline if baseline > 0 else None,
    )


def task_winners(
    db: Database,
    task_field: str = "task_type",
    experiment: str | None = None,
    *,
    min_outcomes: int = 1,
) -> list[TaskWinner]:
    """Per experiment and value of the context field ``task_field`` (None where a decision's
    context lacks it), every arm's joined outcomes and the winner by mean reward."""
    if not _FIELD.fullmatch(task_field):
        raise ValueError(f"task_field must be 1-64 letters, digits, '_' or '-', got {task_field!r}")
    rows = db.execute(
        "SELECT o.experiment_id, json_extract(d.context, ?) AS task, o.arm,"
        " COALESCE(a.model, o.arm), COUNT(o.reward), AVG(o.reward), AVG(o.quality),"
        " AVG(o.cost_usd)"
        " FROM outcomes o JOIN decisions d ON d.decision_id = o.decision_id"
        " LEFT JOIN arms a ON a.experiment_id = o.experiment_id AND a.arm = o.arm"
        " WHERE (? IS NULL OR o.experiment_id = ?)"
        " GROUP BY o.experiment_id, task, o.arm ORDER BY o.experiment_id, task, o.arm",
        [f'$."{task_field}"', experiment, experiment],
    ).fetchall()
    grouped: dict[tuple[str, str | None], list[TaskArm]] = {}
    for experiment_id, task, arm, model, n, reward, quality, cost in rows:
        key = (experiment_id, None if task is None else str(task))
        grouped.setdefault(key, []).append(
            TaskArm(
                arm=arm,
                model=model,
                outcomes=int(n),
                mean_reward=reward,
                mean_quality=quality,
                mean_cost_usd=cost,
            )
        )
    out = []
    for (experiment_id, task), arms in grouped.items():
        ranked = [a for a in arms if a.outcomes >= min_outcomes and a.mean_reward is not None]
        winner = min(
            ranked,
            key=lambda a: (-(a.mean_reward or 0.0), a.mean_cost_usd or 0.0, a.arm),
            default=None,
        )
        out.append(TaskWinner(experiment_id=experiment_id, task=task, winner=winner, arms=arms))
    return out


def significance(db: Database, experiment: str | None = None) -> list[ExperimentSignificance]:
    rows = db.execute(
        "SELECT * FROM experiment_results WHERE (? IS NULL OR experiment_id = ?)"
        " ORDER BY experiment_id, is_control DESC, arm",
        [experiment, experiment],
    ).fetchall()
    columns = [c.name for c in db["experiment_results"].columns]
    grouped: dict[str, list[ArmResult]] = {}
    for raw in rows:
        r = dict(zip(columns, raw, strict=True))
        grouped.setdefault(r["experiment_id"], []).append(
            ArmResult(
                arm=r["arm"],
                is_control=bool(r["is_control"]),
                decisions=r["decisions"],
                n=r["n"],
                mean_reward=r["mean_reward"],
                conversion=r["conversion"],
                difference=r["difference"],
                difference_ci=(r["difference_ci_low"], r["difference_ci_high"]),
                p_value=r["p_value"],
                p_value_holm=r["p_value_holm"],
                conversion_p_value=r["conversion_p_value"],
                significant=bool(r["significant"]),
            )
        )
    out = []
    for experiment_id, arms in grouped.items():
        winners = [a.arm for a in arms if a.significant]
        control = next((a.arm for a in arms if a.is_control), None)
        out.append(
            ExperimentSignificance(
                experiment_id=experiment_id,
                control=control,
                significant=bool(winners),
                significant_arms=winners,
                arms=arms,
            )
        )
    return out


def model_usage(db: Database, experiment: str | None = None) -> list[ModelUsage]:
    rows = db.execute(
        "SELECT experiment_id, arm, model, decisions, outcomes, cost_usd, input_tokens,"
        " output_tokens, mean_latency_ms, mean_quality, mean_reward, errors FROM model_usage"
        " WHERE (? IS NULL OR experiment_id = ?) ORDER BY experiment_id, arm",
        [experiment, experiment],
    ).fetchall()
    return [
        ModelUsage(
            experiment_id=e,
            arm=arm,
            model=model,
            decisions=int(d),
            outcomes=int(o),
            cost_usd=float(c or 0.0),
            input_tokens=int(i or 0),
            output_tokens=int(out or 0),
            mean_latency_ms=lat,
            mean_quality=q,
            mean_reward=rew,
            errors=int(err or 0),
        )
        for e, arm, model, d, o, c, i, out, lat, q, rew, err in rows
    ]


def drift_alerts(db: Database, since: float, until: float) -> list[AlertRow]:
    rows = db.execute(
        "SELECT type, entity_id, at, detail FROM alerts WHERE at >= ? AND at < ? ORDER BY at, seq",
        [since, until],
    ).fetchall()
    return [
        AlertRow(type=t, entity_id=e, at=at, detail=msgspec.json.decode(d.encode()))
        for t, e, at, d in rows
    ]


def build_report(
    db: Database,
    *,
    until: float,
    since: float | None = None,
    experiment: str | None = None,
    task_field: str = "task_type",
    projection: str = "reports",
) -> Report:
    """Every answer over the window ``[since, until)`` (default: the week before ``until``)."""
    start = until - WEEK_S if since is None else since
    if not start < until:
        raise ValueError(f"since must be before until, got {start} >= {until}")
    rows = savings(db, start, until, experiment)
    return Report(
        position=tracking.read(db, projection)[0],
        since=start,
        until=until,
        experiment=experiment,
        task_field=task_field,
        savings=rows,
        total_savings=total_savings(rows),
        winners=task_winners(db, task_field, experiment),
        significance=significance(db, experiment),
        models=model_usage(db, experiment),
        alerts=drift_alerts(db, start, until),
    )
