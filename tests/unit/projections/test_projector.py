"""The projector applied to in-memory SQLite: batching, duplicates and failures change nothing."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlite_utils import Database

from events.log import Recorded
from events.schema import (
    AnyEvent,
    CheckpointTaken,
    DecisionMade,
    Event,
    ExperimentCreated,
    OutcomeObserved,
)
from projections import tracking
from projections.projector import Batch, Projector
from projections.read_models import build_projector
from projections.tables import create_schema, snapshot
from tests.strategies import DETERMINISTIC, experiment_histories


def fresh() -> Database:
    db = Database(memory=True)
    create_schema(db)
    return db


def recorded(events: list[AnyEvent], first_seq: int = 1) -> list[Recorded]:
    return [Recorded(first_seq + i, "llmopt.log.x.y.z", e) for i, e in enumerate(events)]


def views(db: Database) -> dict[str, list[tuple[object, ...]]]:
    """Every read model except the tracking record, which counts applied events."""
    tables = snapshot(db)
    tables.pop("projection_position")
    return tables


def created(at: float = 0.0) -> ExperimentCreated:
    return ExperimentCreated(
        event_id="c",
        entity_id="exp",
        at=at,
        arms=("cheap", "flagship"),
        config={
            "catalogue": {
                "cheap": {
                    "model": "small",
                    "price_in_per_1k": 0.001,
                    "price_out_per_1k": 0.002,
                    "context_window": 8000,
                },
                "flagship": {
                    "model": "big",
                    "price_in_per_1k": 0.01,
                    "price_out_per_1k": 0.03,
                    "context_window": 8000,
                },
            }
        },
    )


def decision(i: int, arm: str, at: float) -> DecisionMade:
    return DecisionMade(
        event_id=f"d{i}",
        entity_id="exp",
        at=at,
        decision_id=f"d{i}",
        arm=arm,
        propensity=0.5,
        context={"task_type": "code" if i % 2 else "chat"},
    )


def outcome(i: int, decision_id: str, at: float, **fields: object) -> OutcomeObserved:
    values: dict[str, object] = {
        "input_tokens": 1000,
        "output_tokens": 500,
        "quality": 0.8,
        "latency_ms": 100.0,
    }
    return OutcomeObserved(
        event_id=f"o{i}",
        entity_id="exp",
        at=at,
        decision_id=decision_id,
        **(values | fields),  # type: ignore[arg-type]
    )


class TestBatches:
    @DETERMINISTIC
    @given(history=experiment_histories(max_events=40, checkpoints=True), cuts=st.data())
    def test_any_batch_split_gives_the_same_tables(
        self, history: list[AnyEvent], cuts: st.DataObject
    ) -> None:
        """Applying a history in any batches leaves the same tables as applying it at once."""
        records = recorded(history)
        whole, split = fresh(), fresh()
        build_projector().apply(whole, records)
        points = sorted(cuts.draw(st.sets(st.integers(0, len(records)), max_size=6), label="cuts"))
        projector = build_projector()
        for lo, hi in zip([0, *points], [*points, len(records)], strict=True):
            projector.apply(split, records[lo:hi])
        assert snapshot(split) == snapshot(whole)

    @DETERMINISTIC
    @given(history=experiment_histories(max_events=40))
    def test_duplicated_events_change_no_read_model(self, history: list[AnyEvent]) -> None:
        """Every event appended a second time later in the log (same event id) counts once."""
        once, twice = fresh(), fresh()
        build_projector().apply(once, recorded(history))
        build_projector().apply(twice, recorded(history + history))
        assert views(twice) == views(once)

    def test_a_batch_handed_over_again_is_skipped(self) -> None:
        """Records at or below the stored position are not applied a second time."""
        db = fresh()
        records = recorded([created(), decision(1, "cheap", 10.0), outcome(1, "d1", 20.0)])
        projector = build_projector()
        assert projector.apply(db, records) == 3
        before = snapshot(db)
        assert projector.apply(db, records) == 3
        assert snapshot(db) == before
        assert tracking.read(db, "reports") == (3, 3)


class TestAtomicity:
    def test_a_failing_handler_rolls_back_the_rows_and_the_position(self) -> None:
        """An exception inside a batch leaves neither its rows nor its position behind."""
        db = fresh()
        projector = build_projector()
        projector.apply(db, recorded([created()]))
        before = snapshot(db)
        calls = 0

        def explode(db: Database, record: Recorded, batch: Batch) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise RuntimeError("injected")

        projector.on("DecisionMade", explode)
        with pytest.raises(RuntimeError, match="injected"):
            projector.apply(
                db, recorded([decision(1, "cheap", 1.0), decision(2, "cheap", 2.0)], first_seq=2)
            )
        assert snapshot(db) == before


class TestJoin:
    def test_outcome_before_its_decision_is_joined_when_the_decision_arrives(self) -> None:
        """An early outcome waits and is counted once its decision is logged."""
        db = fresh()
        build_projector().apply(
            db, recorded([created(), outcome(1, "d1", 5.0), decision(1, "cheap", 4.0)])
        )
        assert db.execute("SELECT decision_id, arm FROM outcomes").fetchall() == [("d1", "cheap")]
        assert db.execute("SELECT COUNT(*) FROM early_outcomes").fetchone() == (0,)

    def test_outcome_for_an_unknown_decision_counts_nowhere(self) -> None:
        """An outcome whose decision never appears adds to no roll-up."""
        db = fresh()
        build_projector().apply(db, recorded([created(), outcome(1, "ghost", 5.0)]))
        assert db.execute("SELECT COUNT(*) FROM outcomes").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM arm_hourly").fetchone() == (0,)

    def test_second_outcome_of_a_decision_is_ignored(self) -> None:
        """Only the first outcome of a decision counts, as in the experiment ledger."""
        db = fresh()
        build_projector().apply(
            db,
            recorded(
                [
                    created(),
                    decision(1, "cheap", 1.0),
                    outcome(1, "d1", 2.0, quality=0.9),
                    outcome(2, "d1", 3.0, quality=0.1),
                ]
            ),
        )
        assert db.execute("SELECT quality, outcomes FROM outcomes, arm_hourly").fetchall() == [
            (0.9, 1)
        ]

    def test_costs_come_from_the_catalogue_and_the_baseline_from_the_flagship(self) -> None:
        """Cost is tokens times the arm's prices, baseline the same tokens on the priciest arm."""
        db = fresh()
        build_projector().apply(
            db, recorded([created(), decision(1, "cheap", 1.0), outcome(1, "d1", 2.0)])
        )
        cost, baseline_arm, baseline = db.execute(
            "SELECT cost_usd, baseline_arm, baseline_cost_usd FROM outcomes"
        ).fetchone()
        assert cost == pytest.approx((1000 * 0.001 + 500 * 0.002) / 1000)
        assert baseline_arm == "flagship"
        assert baseline == pytest.approx((1000 * 0.01 + 500 * 0.03) / 1000)

    def test_a_configured_baseline_arm_prices_the_baseline(self) -> None:
        """With ``baseline_arm`` set, the baseline is that arm's price of the same tokens,
        though another arm is dearer."""
        base = created()
        configured = ExperimentCreated(
            event_id=base.event_id,
            entity_id=base.entity_id,
            at=base.at,
            arms=base.arms,
            config={**base.config, "baseline_arm": "cheap"},
        )
        db = fresh()
        build_projector().apply(
            db, recorded([configured, decision(1, "cheap", 1.0), outcome(1, "d1", 2.0)])
        )
        baseline_arm, baseline = db.execute(
            "SELECT baseline_arm, baseline_cost_usd FROM outcomes"
        ).fetchone()
        assert baseline_arm == "cheap"
        assert baseline == pytest.approx((1000 * 0.001 + 500 * 0.002) / 1000)

    def test_an_older_database_gets_the_new_columns(self) -> None:
        """A read model created before a column existed gains it when the schema is ensured."""
        db = Database(memory=True)
        db.execute("CREATE TABLE experiments (experiment_id TEXT PRIMARY KEY, created_at FLOAT)")
        create_schema(db)
        assert "baseline_arm" in db.table("experiments").columns_dict
        build_projector().apply(db, recorded([created()]))
        assert db.execute("SELECT experiment_id FROM experiments").fetchall() == [("exp",)]

    def test_regret_is_null_until_an_outcome_carries_its_counterfactual(self) -> None:
        """Without a counterfactual reward no regret is made up; with one it is the gap."""

        class WithCounterfactual(OutcomeObserved, frozen=True, kw_only=True):
            counterfactual_reward: float | None = None

        db = fresh()
        late = outcome(2, "d2", 3.0, reward=0.25)
        carrying = WithCounterfactual(**msgspec.structs.asdict(late), counterfactual_reward=0.75)
        projector = build_projector()
        projector.on("WithCounterfactual", projector._handlers["OutcomeObserved"][0])
        projector.apply(
            db,
            recorded(
                [
                    created(),
                    decision(1, "cheap", 1.0),
                    decision(2, "cheap", 1.0),
                    outcome(1, "d1", 2.0, reward=0.5),
                    carrying,  # type: ignore[list-item]
                ]
            ),
        )
        assert db.execute("SELECT decision_id, regret FROM outcomes ORDER BY 1").fetchall() == [
            ("d1", None),
            ("d2", 0.5),
        ]


class TestOtherReadModels:
    def test_checkpoints_record_how_far_each_advanced(self) -> None:
        """The audit shows each checkpoint's covered sequence and the advance over the last."""
        db = fresh()
        marks = [
            CheckpointTaken(
                event_id=f"k{i}",
                entity_id="exp",
                at=float(s),
                kind="experiment",
                seq=s,
                digest="0" * 64,
                state_version=2,
            )
            for i, s in enumerate((10, 25, 25))
        ]
        build_projector().apply(db, recorded(marks))  # type: ignore[arg-type]
        assert db.execute(
            "SELECT covers_seq, events_since_previous FROM checkpoints ORDER BY seq"
        ).fetchall() == [(10, None), (25, 15), (25, 0)]

    def test_a_new_event_type_is_one_handler(self) -> None:
        """An alert event type the projector has never imported fills the alerts table."""

        class DriftDetected(Event, frozen=True, kw_only=True):
            detector: str
            statistic: float

        db = fresh()
        alert = DriftDetected(
            event_id="a1", entity_id="win", at=7.0, detector="adwin", statistic=3.5
        )
        build_projector().apply(db, recorded([alert]))  # type: ignore[list-item]
        assert db.execute("SELECT type, entity_id, at, detail FROM alerts").fetchall() == [
            ("DriftDetected", "win", 7.0, '{"v":1,"detector":"adwin","statistic":3.5}')
        ]

    def test_unhandled_event_types_only_advance_the_position(self) -> None:
        """An event no read model handles is tracked as processed and changes no table."""
        db = fresh()
        projector = Projector("bare")
        assert projector.apply(db, recorded([created()], first_seq=41)) == 41
        assert views(db)["experiments"] == []
