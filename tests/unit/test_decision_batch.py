"""Decisions logged together: packing into messages, and folds that read them as if logged alone."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.experiment_ledger import ExperimentLedger
from actors.feature_window import FeatureWindowAggregate
from events.codec import decode, encode
from events.decision_batch import batch_id, pack
from events.schema import (
    AnyEvent,
    DecisionMade,
    DecisionsMade,
    FeatureWindowDefined,
    decisions_in,
)
from tests.strategies import DETERMINISTIC, T0, WINDOW_CONFIG, experiment_histories

EXP = "exp-1"


def decided(i: int, *, context: dict[str, Any] | None = None) -> DecisionMade:
    return DecisionMade(
        event_id=f"{EXP}:d{i}",
        entity_id=EXP,
        at=T0 + i,
        decision_id=f"{EXP}:d{i}",
        arm="ab"[i % 2],
        propensity=0.5,
        context=context or {"tier": "free"},
    )


def unpacked(messages: list[Any]) -> list[DecisionMade]:
    return [d for m in messages for d in decisions_in(decode(m.data))]


class TestPack:
    def test_one_decision_is_logged_as_before(self) -> None:
        """A pass that decided one request logs a plain DecisionMade, byte for byte as alone."""
        [message] = pack([decided(1)], at=T0, max_bytes=1 << 20)
        assert message.event == decided(1)
        assert message.data == encode(decided(1))
        assert (message.first, message.stop) == (0, 1)

    def test_decisions_made_together_are_one_message(self) -> None:
        """Several decisions become one DecisionsMade holding them in order."""
        decisions = [decided(i) for i in range(5)]
        [message] = pack(decisions, at=T0 + 9, max_bytes=1 << 20)
        assert isinstance(message.event, DecisionsMade)
        assert message.event.decisions == tuple(decisions)
        assert message.event.entity_id == EXP
        assert message.event.at == T0 + 9
        assert (message.first, message.stop) == (0, 5)
        assert decode(message.data) == message.event

    def test_the_same_decisions_pack_to_the_same_message_id(self) -> None:
        """A retried batch is the same message (the log drops it); other decisions are not."""
        decisions = [decided(i) for i in range(3)]
        first = pack(decisions, at=T0, max_bytes=1 << 20)[0].event
        again = pack(decisions, at=T0 + 60, max_bytes=1 << 20)[0].event
        other = pack(decisions[:2], at=T0, max_bytes=1 << 20)[0].event
        assert first.event_id == again.event_id == batch_id(decisions)
        assert other.event_id != first.event_id
        reordered = batch_id([decisions[1], decisions[0], decisions[2]])
        assert reordered != first.event_id

    def test_messages_stay_under_max_bytes_and_keep_every_decision_in_order(self) -> None:
        """Large contexts split a pass into several messages, each within the byte limit."""
        decisions = [decided(i, context={"text": "x" * 900}) for i in range(37)]
        limit = 8 * 1024
        messages = pack(decisions, at=T0, max_bytes=limit)
        assert len(messages) > 1
        assert all(len(m.data) <= limit for m in messages)
        assert unpacked(messages) == decisions
        assert [m.first for m in messages] == [0] + [m.stop for m in messages[:-1]]
        assert messages[-1].stop == len(decisions)

    def test_max_decisions_bounds_a_message(self) -> None:
        """No message holds more than max_decisions decisions."""
        decisions = [decided(i) for i in range(10)]
        messages = pack(decisions, at=T0, max_bytes=1 << 20, max_decisions=4)
        assert [m.stop - m.first for m in messages] == [4, 4, 2]
        assert unpacked(messages) == decisions

    def test_a_decision_over_the_limit_is_its_own_message(self) -> None:
        """One decision larger than max_bytes is not dropped: it goes alone (the log decides)."""
        big = decided(0, context={"text": "x" * 5000})
        messages = pack([big, decided(1)], at=T0, max_bytes=2000)
        assert [m.event for m in messages] == [big, decided(1)]

    def test_nothing_to_pack(self) -> None:
        """No decisions, no messages; a non-positive max_decisions is a clear error."""
        assert pack([], at=T0, max_bytes=100) == []
        with pytest.raises(ValueError, match="max_decisions"):
            pack([decided(1)], at=T0, max_bytes=100, max_decisions=0)


def grouped(history: list[AnyEvent], cuts: list[bool]) -> list[AnyEvent]:
    """``history`` with runs of consecutive decisions packed into DecisionsMade messages;
    ``cuts[i]`` ends a run after the i-th event."""
    out: list[AnyEvent] = []
    run: list[DecisionMade] = []

    def flush() -> None:
        if run:
            for message in pack(run, at=run[-1].at, max_bytes=1 << 20):
                out.append(message.event)
            run.clear()

    for i, event in enumerate(history):
        if isinstance(event, DecisionMade):
            run.append(event)
            if cuts[i % len(cuts)]:
                flush()
        else:
            flush()
            out.append(event)
    flush()
    return out


class TestFolds:
    @DETERMINISTIC
    @given(history=experiment_histories(entity_id=EXP), cuts=st.lists(st.booleans(), min_size=1))
    def test_the_ledger_folds_a_batch_as_its_decisions_one_by_one(
        self, history: list[AnyEvent], cuts: list[bool]
    ) -> None:
        """Any grouping of consecutive decisions into batches gives the same ledger bytes,
        duplicates and unknown arms included."""
        singles, batches = ExperimentLedger.initial(EXP), ExperimentLedger.initial(EXP)
        for event in history:
            singles.apply(event)
        for event in grouped(history, cuts):
            batches.apply(event)
        assert batches.to_bytes() == singles.to_bytes()

    @DETERMINISTIC
    @given(history=experiment_histories(entity_id=EXP), cuts=st.lists(st.booleans(), min_size=1))
    def test_a_feature_window_folds_a_batch_as_its_decisions(
        self, history: list[AnyEvent], cuts: list[bool]
    ) -> None:
        """A feature window following the experiment sees the same decisions either way."""
        define = FeatureWindowDefined(
            event_id="w", entity_id="w-1", at=T0 - 1, config=WINDOW_CONFIG
        )
        singles = FeatureWindowAggregate.initial("w-1")
        batches = FeatureWindowAggregate.initial("w-1")
        for event in [define, *history]:
            singles.apply(event)
        for event in [define, *grouped(history, cuts)]:
            batches.apply(event)
        assert batches.to_bytes() == singles.to_bytes()
        assert singles.decisions > 0 or not any(isinstance(e, DecisionMade) for e in history)
