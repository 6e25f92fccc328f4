"""The SQLite schema of the read models, created through sqlite-utils.

Every table is a deterministic function of the log prefix it has processed: rows are keyed by
what the events name (decision id, experiment, arm, hour), sums are added in log order, and no
column holds a wall-clock time. So a database caught up incrementally, in any batch sizes, and
one rebuilt from zero hold the same rows (``tests/integration/test_projections.py`` compares
them).

Tables (one read model each, written by the module named):

* ``projection_position`` (:mod:`projections.tracking`): the last log sequence applied.
* ``experiments``, ``arms`` (:mod:`projections.lifecycle`): what exists, its catalogue and reward.
* ``decisions``, ``outcomes``, ``early_outcomes``, ``arm_hourly``
  (:mod:`projections.traffic`): every decision, every joined outcome with its reward, cost,
  flagship baseline cost and (nullable) regret, and the per experiment/arm/hour roll-up.
* ``experiment_results`` (:mod:`projections.results`): per arm, its reward and conversion
  against the control arm with the statistics package's tests and intervals.
* ``checkpoints`` (:mod:`projections.checkpoints`): the checkpoint/recovery audit trail.
* ``alerts`` (:mod:`projections.alerts`): drift and anomaly events.

Views: ``model_usage`` (cost, tokens, latency, quality per model) and ``traffic_share``
(each arm's share of its experiment's decisions per hour).
"""

from __future__ import annotations

from sqlite_utils import Database

_TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...]]] = {
    "projection_position": ({"name": str, "seq": int, "events": int}, "name"),
    "experiments": (
        {
            "experiment_id": str,
            "created_at": float,
            "created_seq": int,
            "description": str,
            "arms": str,
            "control_arm": str,
            "fallback_arm": str,
            "reward_spec": str,
            "baseline_arm": str,
            "archived_at": float,
            "archive_reason": str,
        },
        "experiment_id",
    ),
    "arms": (
        {
            "experiment_id": str,
            "arm": str,
            "model": str,
            "tier": str,
            "price_in_per_1k": float,
            "price_out_per_1k": float,
            "added_at": float,
            "retired_at": float,
            "retire_reason": str,
        },
        ("experiment_id", "arm"),
    ),
    "decisions": (
        {
            "decision_id": str,
            "experiment_id": str,
            "arm": str,
            "propensity": float,
            "at": float,
            "hour": float,
            "context": str,
            "seq": int,
        },
        "decision_id",
    ),
    "outcomes": (
        {
            "decision_id": str,
            "experiment_id": str,
            "arm": str,
            "decided_at": float,
            "hour": float,
            "observed_at": float,
            "seq": int,
            "reward": float,
            "quality": float,
            "cost_usd": float,
            "baseline_arm": str,
            "baseline_cost_usd": float,
            "input_tokens": int,
            "output_tokens": int,
            "latency_ms": float,
            "error": int,
            "feedback": float,
            "counterfactual_reward": float,
            "regret": float,
        },
        "decision_id",
    ),
    "early_outcomes": (
        {"decision_id": str, "experiment_id": str, "seq": int, "event": str},
        "decision_id",
    ),
    "arm_hourly": (
        {
            "experiment_id": str,
            "arm": str,
            "hour": float,
            "decisions": int,
            "outcomes": int,
            "rewarded": int,
            "successes": int,
            "reward_sum": float,
            "reward_sumsq": float,
            "quality_n": int,
            "quality_sum": float,
            "cost_n": int,
            "cost_usd": float,
            "input_tokens": int,
            "output_tokens": int,
            "latency_n": int,
            "latency_ms_sum": float,
            "errors": int,
            "regret_n": int,
            "regret_sum": float,
        },
        ("experiment_id", "arm", "hour"),
    ),
    "experiment_results": (
        {
            "experiment_id": str,
            "arm": str,
            "is_control": int,
            "decisions": int,
            "n": int,
            "mean_reward": float,
            "reward_variance": float,
            "successes": int,
            "conversion": float,
            "difference": float,
            "difference_ci_low": float,
            "difference_ci_high": float,
            "p_value": float,
            "p_value_holm": float,
            "conversion_p_value": float,
            "conversion_ci_low": float,
            "conversion_ci_high": float,
            "significant": int,
        },
        ("experiment_id", "arm"),
    ),
    "checkpoints": (
        {
            "event_id": str,
            "kind": str,
            "entity_id": str,
            "covers_seq": int,
            "digest": str,
            "state_version": int,
            "at": float,
            "seq": int,
            "events_since_previous": int,
        },
        "event_id",
    ),
    "alerts": (
        {
            "event_id": str,
            "type": str,
            "entity_id": str,
            "at": float,
            "seq": int,
            "detail": str,
        },
        "event_id",
    ),
}

_INDEXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("decisions", ("experiment_id", "at")),
    ("outcomes", ("experiment_id", "decided_at")),
    ("checkpoints", ("kind", "entity_id", "covers_seq")),
    ("alerts", ("at",)),
)

_VIEWS = {
    "model_usage": """
        SELECT a.experiment_id, h.arm, COALESCE(a.model, h.arm) AS model,
               SUM(h.decisions) AS decisions, SUM(h.outcomes) AS outcomes,
               SUM(h.cost_usd) AS cost_usd,
               SUM(h.input_tokens) AS input_tokens, SUM(h.output_tokens) AS output_tokens,
               SUM(h.latency_ms_sum) / NULLIF(SUM(h.latency_n), 0) AS mean_latency_ms,
               SUM(h.quality_sum) / NULLIF(SUM(h.quality_n), 0) AS mean_quality,
               SUM(h.reward_sum) / NULLIF(SUM(h.rewarded), 0) AS mean_reward,
               SUM(h.errors) AS errors
        FROM arm_hourly h
        LEFT JOIN arms a ON a.experiment_id = h.experiment_id AND a.arm = h.arm
        GROUP BY h.experiment_id, h.arm
    """,
    "traffic_share": """
        SELECT experiment_id, arm, hour, decisions,
               CAST(decisions AS REAL)
                 / SUM(decisions) OVER (PARTITION BY experiment_id, hour) AS share
        FROM arm_hourly
    """,
}

TABLE_NAMES: tuple[str, ...] = tuple(_TABLES)
"""Every table, in creation order; the rebuild-equality test compares all of them."""


def create_schema(db: Database) -> None:
    """Create every table, index and view that does not exist yet (idempotent).

    A table from an older version gets the columns it lacks; they are empty for the events
    projected before (``--rebuild`` fills them)."""
    for name, (columns, pk) in _TABLES.items():
        existing = db.table(name)
        existing.create(columns, pk=pk, if_not_exists=True)
        present = existing.columns_dict
        for column, kind in columns.items():
            if column not in present:
                existing.add_column(column, kind)
    for table, indexed in _INDEXES:
        db[table].create_index(indexed, if_not_exists=True)  # type: ignore[union-attr]
    for view, sql in _VIEWS.items():
        db.create_view(view, sql, ignore=True)


def drop_schema(db: Database) -> None:
    """Drop every table and view, for ``--rebuild``."""
    for view in _VIEWS:
        db.execute(f"DROP VIEW IF EXISTS {view}")
    for name in _TABLES:
        db.execute(f"DROP TABLE IF EXISTS {name}")


def snapshot(
    db: Database, *, tables: tuple[str, ...] = TABLE_NAMES
) -> dict[str, list[tuple[object, ...]]]:
    """Every row of ``tables``, in primary-key order: equal snapshots mean equal read models."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for name in tables:
        pks = db[name].pks  # type: ignore[union-attr]
        out[name] = [
            tuple(row) for row in db.execute(f"SELECT * FROM {name} ORDER BY {', '.join(pks)}")
        ]
    return out
