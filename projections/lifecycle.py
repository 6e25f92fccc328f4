"""Read model of what exists: experiments (arms, control, reward spec) and arms (catalogue).

The first event for a key wins (``INSERT OR IGNORE``), so a duplicated ``ExperimentCreated``
or ``ArmAdded`` changes nothing; retirement and archival keep their first time.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from sqlite_utils import Database

from actors.catalogue import ArmSpec
from actors.reward import RewardSpec
from events.log import Recorded
from events.schema import ArmAdded, ArmRetired, ExperimentArchived, ExperimentCreated
from projections.projector import Batch, Projector


def register(projector: Projector) -> None:
    projector.on("ExperimentCreated", on_created)
    projector.on("ArmAdded", on_arm_added)
    projector.on("ArmRetired", on_arm_retired)
    projector.on("ExperimentArchived", on_archived)


def reward_spec_of(config: dict[str, Any]) -> RewardSpec:
    """The experiment's reward spec; the default where the config names none or a bad one
    (the admin gateway validates configs, so a bad one only comes from a hand-written event)."""
    try:
        return msgspec.convert(config.get("reward", {}), RewardSpec)
    except (msgspec.ValidationError, ValueError, TypeError):
        return RewardSpec()


def arm_spec_of(raw: Any) -> ArmSpec | None:
    """A catalogue entry, or None where there is none or it does not decode."""
    if not isinstance(raw, dict):
        return None
    try:
        return msgspec.convert(raw, ArmSpec)
    except (msgspec.ValidationError, ValueError, TypeError):
        return None


def baseline_of(config: dict[str, Any]) -> str | None:
    """The configured ``baseline_arm`` (None: the catalogue's dearest arm is the baseline)."""
    arm = config.get("baseline_arm")
    return arm if isinstance(arm, str) else None


def on_created(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, ExperimentCreated)
    control = event.fallback_arm if event.fallback_arm in event.arms else None
    if control is None and event.arms:
        control = event.arms[0]
    inserted = db.execute(
        "INSERT OR IGNORE INTO experiments (experiment_id, created_at, created_seq, description,"
        " arms, control_arm, fallback_arm, reward_spec, baseline_arm)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event.entity_id,
            event.at,
            record.seq,
            event.description,
            json.dumps(list(event.arms)),
            control,
            event.fallback_arm,
            msgspec.json.encode(reward_spec_of(event.config)).decode(),
            baseline_of(event.config),
        ],
    ).rowcount
    if not inserted:
        return
    catalogue = event.config.get("catalogue", {})
    for arm in event.arms:
        _add_arm(db, event.entity_id, arm, catalogue.get(arm), event.at)
    batch.experiments.add(event.entity_id)
    batch.invalidate(event.entity_id)


def on_arm_added(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, ArmAdded)
    _add_arm(db, event.entity_id, event.arm, event.spec, event.at)
    batch.experiments.add(event.entity_id)
    batch.invalidate(event.entity_id)


def on_arm_retired(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, ArmRetired)
    db.execute(
        "UPDATE arms SET retired_at = ?, retire_reason = ? "
        "WHERE experiment_id = ? AND arm = ? AND retired_at IS NULL",
        [event.at, event.reason, event.entity_id, event.arm],
    )


def on_archived(db: Database, record: Recorded, batch: Batch) -> None:
    event = record.event
    assert isinstance(event, ExperimentArchived)
    db.execute(
        "UPDATE experiments SET archived_at = ?, archive_reason = ? "
        "WHERE experiment_id = ? AND archived_at IS NULL",
        [event.at, event.reason, event.entity_id],
    )


def _add_arm(db: Database, experiment_id: str, arm: str, raw_spec: Any, at: float) -> None:
    spec = arm_spec_of(raw_spec)
    db.execute(
        "INSERT OR IGNORE INTO arms (experiment_id, arm, model, tier, price_in_per_1k,"
        " price_out_per_1k, added_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            experiment_id,
            arm,
            spec.model if spec else None,
            spec.tier if spec else None,
            spec.price_in_per_1k if spec else None,
            spec.price_out_per_1k if spec else None,
            at,
        ],
    )
