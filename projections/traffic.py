r"""Read model of traffic: every decision, every outcome joined to its decision, and the roll-up
per experiment, arm and hour.

**Join.** An outcome is joined to its decision by decision id. The first outcome of a decision
counts; a later one (a duplicate, or a second report) is ignored, as the experiment ledger
does. An outcome whose decision the log has not shown yet waits in ``early_outcomes`` and is
joined when the decision arrives; one whose decision never arrives is never counted. Unlike
the ledger, the read model keeps no time limit on the join: it reports what happened, not
what the policy learned from.

**Hour.** Outcomes count in the hour of their *decision* (``floor(at / 3600) * 3600``), so an
hour's cost, quality and traffic describe the same requests however late their outcomes come.

**Reward.** The outcome's own ``reward`` if it sent one, else the composite reward
(:mod:`actors.reward`) under the experiment's reward spec, with the catalogue's cost estimate
for an outcome that reports tokens but no cost. A reward of at least 0.5 counts as a success
(conversion) for the proportion test in :mod:`projections.results`.

**Baseline.** The flagship of an experiment is its configured ``baseline_arm`` if it has one,
else its catalogue's most expensive arm,
:math:`\arg\max_a (p^{in}_a + p^{out}_a)` (ties by name) among the arms known when the outcome
is joined; ``baseline_cost_usd`` is what the outcome's token counts would have cost on it
(:func:`actors.catalogue.cost_of`). The same tokens are an approximation: another model's
tokenizer and answer length differ.

**Regret.** ``counterfactual_reward`` is the best reward the request could have had, where an
outcome carries one (no event field carries it yet; the column is ready for it);
``regret = counterfactual_reward - reward``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, Final, TypeVar

import msgspec
from sqlite_utils import Database

from actors.catalogue import ArmSpec, cost_of
from actors.reward import RewardSpec, composite_reward
from events.codec import decode, encode
from events.log import Recorded
from events.schema import DecisionMade, OutcomeObserved, decisions_in
from projections.projector import Batch, Projector

T = TypeVar("T")

HOUR: Final = 3600.0
SUCCESS_REWARD: Final = 0.5
"""A reward at or above this counts as a conversion."""

_COUNTERS: Final = (
    "decisions",
    "outcomes",
    "rewarded",
    "successes",
    "reward_sum",
    "reward_sumsq",
    "quality_n",
    "quality_sum",
    "cost_n",
    "cost_usd",
    "input_tokens",
    "output_tokens",
    "latency_n",
    "latency_ms_sum",
    "errors",
    "regret_n",
    "regret_sum",
)
_BUMP_SQL: Final = (
    f"INSERT INTO arm_hourly (experiment_id, arm, hour, {', '.join(_COUNTERS)}) "
    f"VALUES (?, ?, ?, {', '.join('?' for _ in _COUNTERS)}) "
    "ON CONFLICT(experiment_id, arm, hour) DO UPDATE SET "
    + ", ".join(f"{c} = {c} + excluded.{c}" for c in _COUNTERS)
)


def register(projector: Projector) -> None:
    projector.on("DecisionMade", on_decision)
    projector.on("DecisionsMade", on_decisions)
    projector.on("OutcomeObserved", on_outcome)


def hour_of(at: float) -> float:
    return math.floor(at / HOUR) * HOUR


def on_decision(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, DecisionMade)
    inserted = db.execute(
        "INSERT OR IGNORE INTO decisions (decision_id, experiment_id, arm, propensity, at, hour,"
        " context, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event.decision_id,
            event.entity_id,
            event.arm,
            event.propensity,
            event.at,
            hour_of(event.at),
            msgspec.json.encode(event.context).decode(),
            record.seq,
        ],
    ).rowcount
    if not inserted:
        return
    _bump(db, event.entity_id, event.arm, hour_of(event.at), decisions=1)
    batch.experiments.add(event.entity_id)
    early = db.execute(
        "SELECT seq, event FROM early_outcomes WHERE decision_id = ?", [event.decision_id]
    ).fetchone()
    if early is not None:
        db.execute("DELETE FROM early_outcomes WHERE decision_id = ?", [event.decision_id])
        outcome = decode(early[1].encode())
        assert isinstance(outcome, OutcomeObserved)
        _join(db, outcome, int(early[0]), batch)


def on_decisions(db: Database, record: Recorded, batch: Batch) -> None:
    """Decisions logged together: each as if logged alone, at the batch's position."""
    for decision in decisions_in(record.event):
        on_decision(db, Recorded(record.seq, record.subject, decision), batch)


def on_outcome(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, OutcomeObserved)
    known = db.execute(
        "SELECT 1 FROM decisions WHERE decision_id = ?", [event.decision_id]
    ).fetchone()
    if known is None:
        db.execute(
            "INSERT OR IGNORE INTO early_outcomes (decision_id, experiment_id, seq, event) "
            "VALUES (?, ?, ?, ?)",
            [event.decision_id, event.entity_id, record.seq, encode(event).decode()],
        )
        return
    _join(db, event, record.seq, batch)


def _join(db: Database, event: OutcomeObserved, seq: int, batch: Batch) -> None:
    if db.execute("SELECT 1 FROM outcomes WHERE decision_id = ?", [event.decision_id]).fetchone():
        return
    experiment_id, arm, decided_at = db.execute(
        "SELECT experiment_id, arm, at FROM decisions WHERE decision_id = ?", [event.decision_id]
    ).fetchone()
    catalogue = _cached(batch, "catalogue", experiment_id, lambda: _catalogue(db, experiment_id))
    tokens_known = event.input_tokens is not None or event.output_tokens is not None
    input_tokens, output_tokens = event.input_tokens or 0, event.output_tokens or 0
    cost = _finite(event.cost_usd)
    if cost is None and tokens_known and arm in catalogue:
        cost = cost_of(catalogue[arm], input_tokens, output_tokens)
    configured = _cached(batch, "baseline", experiment_id, lambda: _baseline(db, experiment_id))
    baseline_arm = configured if configured in catalogue else _flagship(catalogue)
    baseline = (
        cost_of(catalogue[baseline_arm], input_tokens, output_tokens)
        if baseline_arm is not None and tokens_known
        else None
    )
    reward = (
        _finite(event.reward)
        if event.reward is not None
        else composite_reward(
            event,
            _cached(batch, "reward", experiment_id, lambda: _reward_spec(db, experiment_id)),
            cost_usd=cost,
        )
    )
    counterfactual = _finite(getattr(event, "counterfactual_reward", None))
    regret = counterfactual - reward if counterfactual is not None and reward is not None else None
    quality = _finite(event.quality)
    latency = _finite(event.latency_ms)
    hour = hour_of(decided_at)
    db.execute(
        "INSERT INTO outcomes (decision_id, experiment_id, arm, decided_at, hour, observed_at,"
        " seq, reward, quality, cost_usd, baseline_arm, baseline_cost_usd, input_tokens,"
        " output_tokens, latency_ms, error, feedback, counterfactual_reward, regret)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event.decision_id,
            experiment_id,
            arm,
            decided_at,
            hour,
            event.at,
            seq,
            reward,
            quality,
            cost,
            baseline_arm,
            baseline,
            event.input_tokens,
            event.output_tokens,
            latency,
            int(event.error),
            _finite(event.feedback),
            counterfactual,
            regret,
        ],
    )
    _bump(
        db,
        experiment_id,
        arm,
        hour,
        outcomes=1,
        rewarded=int(reward is not None),
        successes=int(reward is not None and reward >= SUCCESS_REWARD),
        reward_sum=reward or 0.0,
        reward_sumsq=(reward or 0.0) * (reward or 0.0),
        quality_n=int(quality is not None),
        quality_sum=quality or 0.0,
        cost_n=int(cost is not None),
        cost_usd=cost or 0.0,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        latency_n=int(latency is not None),
        latency_ms_sum=latency or 0.0,
        errors=int(event.error),
        regret_n=int(regret is not None),
        regret_sum=regret or 0.0,
    )
    batch.experiments.add(experiment_id)


def _cached(batch: Batch, what: str, experiment_id: str, read: Callable[[], T]) -> T:
    key = (what, experiment_id)
    if key not in batch.cache:
        batch.cache[key] = read()
    value: T = batch.cache[key]
    return value


def _bump(db: Database, experiment_id: str, arm: str, hour: float, **increments: float) -> None:
    db.execute(_BUMP_SQL, [experiment_id, arm, hour, *(increments.get(c, 0) for c in _COUNTERS)])


def _catalogue(db: Database, experiment_id: str) -> dict[str, ArmSpec]:
    rows = db.execute(
        "SELECT arm, model, price_in_per_1k, price_out_per_1k FROM arms "
        "WHERE experiment_id = ? AND model IS NOT NULL",
        [experiment_id],
    ).fetchall()
    return {
        arm: ArmSpec(model=model, price_in_per_1k=p_in, price_out_per_1k=p_out, context_window=1)
        for arm, model, p_in, p_out in rows
    }


def _baseline(db: Database, experiment_id: str) -> str | None:
    row = db.execute(
        "SELECT baseline_arm FROM experiments WHERE experiment_id = ?", [experiment_id]
    ).fetchone()
    return None if row is None else row[0]


def _flagship(catalogue: dict[str, ArmSpec]) -> str | None:
    if not catalogue:
        return None
    return min(
        catalogue,
        key=lambda arm: (-(catalogue[arm].price_in_per_1k + catalogue[arm].price_out_per_1k), arm),
    )


def _reward_spec(db: Database, experiment_id: str) -> RewardSpec:
    row = db.execute(
        "SELECT reward_spec FROM experiments WHERE experiment_id = ?", [experiment_id]
    ).fetchone()
    if row is None or row[0] is None:
        return RewardSpec()
    return msgspec.json.decode(row[0].encode(), type=RewardSpec)


def _finite(value: Any) -> float | None:
    """A reported number, or None for unreported, NaN or infinite (SQLite cannot hold NaN)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def context_of(raw: str | None) -> dict[str, Any]:
    """A decision's stored context."""
    value = json.loads(raw) if raw else {}
    return value if isinstance(value, dict) else {}
