"""The feature window fold: the decision/outcome join, keys, filtering, and replay determinism."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.feature_window import FeatureWindowAggregate
from actors.registry import AGGREGATES, CREATION_EVENTS
from actors.windows.window_config import FeatureWindowConfig
from events.schema import (
    AnyEvent,
    CheckpointTaken,
    DecisionMade,
    Event,
    FeatureWindowArchived,
    FeatureWindowDefined,
    OutcomeObserved,
)
from events.subjects import entity_subject
from tests.strategies import DETERMINISTIC, WINDOW_CONFIG, experiment_histories

W = "w-1"
T0 = 1_700_000_000.0


def defined(at: float = T0 - 1, **config: Any) -> FeatureWindowDefined:
    return FeatureWindowDefined(
        event_id=f"define:{W}", entity_id=W, at=at, config={**WINDOW_CONFIG, **config}
    )


def decided(did: str, arm: str, at: float, exp: str = "exp-1", **context: Any) -> DecisionMade:
    return DecisionMade(
        event_id=did,
        entity_id=exp,
        at=at,
        decision_id=did,
        arm=arm,
        propensity=0.5,
        context=context,
    )


def observed(did: str, at: float, exp: str = "exp-1", **fields: Any) -> OutcomeObserved:
    return OutcomeObserved(
        event_id=f"o-{did}-{at}", entity_id=exp, at=at, decision_id=did, **fields
    )


def fold(events: list[Event]) -> FeatureWindowAggregate:
    state = FeatureWindowAggregate.initial(W)
    for event in events:
        state.apply(event)
    return state


def test_window_kind_is_registered() -> None:
    """The registry runs a FeatureWindowAggregate for kind ``window``, created by its definition."""
    assert AGGREGATES["window"] is FeatureWindowAggregate
    assert CREATION_EVENTS[FeatureWindowDefined] == "window"


def test_log_subjects_cover_its_own_and_experiment_traffic() -> None:
    """Its consumer reads its own subjects and every experiment's decisions and outcomes."""
    subjects = FeatureWindowAggregate.log_subjects(W)
    assert subjects == [
        f"llmopt.log.window.{W}.>",
        "llmopt.log.experiment.*.decision",
        "llmopt.log.experiment.*.outcome",
    ]
    assert entity_subject("experiment", "x", "outcome").startswith("llmopt.log.experiment.")


def test_outcomes_join_their_decision_key_and_close_windows() -> None:
    """An outcome is keyed by its decision's arm and context field; closed windows are latest."""
    events: list[Event] = [defined()]
    for i in range(10):
        arm = "fast" if i % 2 else "slow"
        events.append(decided(f"d{i}", arm, T0 + i, tier="pro"))
        events.append(observed(f"d{i}", T0 + i + 0.5, latency_ms=100.0 * (1 + i % 2), error=i == 3))
    events.append(decided("late-clock", "fast", T0 + 400, tier="pro"))  # moves event time on
    state = fold(events)
    assert state.outcomes == 10 and state.unmatched_outcomes == 0
    fast = state.latest["tumbling_60s/fast|pro"].stats
    slow = state.latest["tumbling_60s/slow|pro"].stats
    assert (fast.count, fast.mean, fast.error_rate) == (5, 200.0, 0.2)
    assert (slow.count, slow.mean, slow.error_rate) == (5, 100.0, 0.0)
    assert fast.p50 == pytest.approx(200.0, rel=0.01)
    assert {name.split("/")[0] for name in state.latest} == {
        "tumbling_60s",
        "sliding_120s_60s",
        "session_30s",
    }


def test_missing_context_key_reads_as_dash() -> None:
    """A decision without the declared context field is keyed with ``-`` for it."""
    state = fold([defined(), decided("d", "a", T0), observed("d", T0 + 1, latency_ms=5.0)])
    state.apply(decided("e", "a", T0 + 500))
    assert "tumbling_60s/a|-" in state.latest


def test_other_experiments_and_entities_leave_the_state_untouched() -> None:
    """Events of another experiment, another window or before the definition change no byte."""
    base = fold([defined(), decided("d", "a", T0)])
    before = base.to_bytes()
    for event in [
        decided("x", "a", T0 + 1, exp="other"),
        observed("d", T0 + 2, exp="other", latency_ms=1.0),
        FeatureWindowArchived(event_id="a", entity_id="w-2", at=T0, reason=""),
        CheckpointTaken(
            event_id="c",
            entity_id=W,
            at=T0,
            kind="window",
            seq=3,
            digest="0" * 64,
            state_version=1,
        ),
    ]:
        base.apply(event)
    assert base.to_bytes() == before
    early = fold([decided("d0", "a", T0 - 10), defined(), observed("d0", T0, latency_ms=1.0)])
    assert early.decisions == 0 and early.unmatched_outcomes == 1


def test_duplicates_and_unknown_outcomes_are_counted() -> None:
    """A redelivered decision or outcome and an outcome for no decision are counted, not folded."""
    state = fold(
        [
            defined(),
            decided("d", "a", T0),
            decided("d", "a", T0),
            observed("d", T0 + 1, latency_ms=1.0),
            observed("d", T0 + 1, latency_ms=1.0),
            observed("nobody", T0 + 1, latency_ms=1.0),
        ]
    )
    assert (state.decisions, state.duplicate_decisions) == (1, 1)
    assert (state.outcomes, state.duplicate_outcomes, state.unmatched_outcomes) == (1, 1, 1)


def test_non_finite_values_are_counted_not_fatal() -> None:
    """A NaN metric or cost (msgpack can carry one) is counted as missing; the fold goes on."""
    state = fold(
        [
            defined(),
            decided("d", "a", T0),
            observed("d", T0 + 1, latency_ms=float("nan"), cost_usd=float("inf"), error=True),
        ]
    )
    state.apply(decided("e", "a", T0 + 500))
    stats = state.latest["tumbling_60s/a|-"].stats
    assert (stats.count, stats.value_count, stats.cost_total) == (1, 0, 0.0)
    assert state.missing_values == 1


def test_archived_window_stops_folding() -> None:
    """After its archival event the window folds no more traffic."""
    state = fold([defined(), FeatureWindowArchived(event_id="z", entity_id=W, at=T0)])
    state.apply(decided("d", "a", T0))
    assert state.archived and state.decisions == 0


def test_state_bytes_do_not_depend_on_config_key_order() -> None:
    """A definition whose config dict was built in another key order gives the same bytes
    (the log's codec sorts keys; an event built in Python does not)."""
    reordered = dict(reversed(list(WINDOW_CONFIG.items())))
    a = fold([defined()])
    b = fold(
        [FeatureWindowDefined(event_id=f"define:{W}", entity_id=W, at=T0 - 1, config=reordered)]
    )
    assert a.to_bytes() == b.to_bytes()


def test_bad_config_names_the_field() -> None:
    """A window config with no windows or a negative lateness is refused, naming the field."""
    with pytest.raises(ValueError, match="windows"):
        msgspec.convert({"experiment": "e", "windows": []}, FeatureWindowConfig)
    with pytest.raises(ValueError, match="allowed_lateness"):
        msgspec.convert({**WINDOW_CONFIG, "allowed_lateness": -1.0}, FeatureWindowConfig)


def test_drain_changed_returns_each_emission_once() -> None:
    """The publisher sees every newly emitted window once, and nothing when nothing changed."""
    state = fold([defined(), decided("d", "a", T0), observed("d", T0 + 1, latency_ms=5.0)])
    state.apply(decided("e", "a", T0 + 500))
    first = state.drain_changed()
    assert {r.window for r in first} == {"tumbling_60s", "sliding_120s_60s", "session_30s"}
    assert state.drain_changed() == []


@DETERMINISTIC
@given(history=experiment_histories(max_events=40), cut=st.integers(0, 41))
def test_replay_and_checkpoint_give_the_live_digest(history: list[AnyEvent], cut: int) -> None:
    """Folding the same log twice gives the same digest, and a state decoded from its bytes
    mid-way then fed the rest ends with the digest of the uninterrupted fold."""
    events: list[Event] = [defined(at=history[0].at), *history]
    live = fold(events)
    assert fold(events).digest() == live.digest()
    head = fold(events[:cut])
    restored = FeatureWindowAggregate.from_bytes(head.to_bytes())
    assert restored.to_bytes() == head.to_bytes()
    for event in events[cut:]:
        restored.apply(event)
    assert restored.digest() == live.digest()
