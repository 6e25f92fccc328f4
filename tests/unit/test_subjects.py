"""Subject layout of the log: which ids are usable tokens and where each event type is appended."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.schema import (
    EVENT_TYPES,
    CheckpointTaken,
    DecisionMade,
    Event,
    ExperimentArchived,
    ExperimentCreated,
    OutcomeObserved,
    subject_of,
)
from events.subjects import (
    LOG_PREFIX,
    LOG_SUBJECTS,
    InvalidEntityId,
    check_token,
    entity_filter,
    entity_subject,
    kind_filter,
    parse_subject,
)
from tests.strategies import DETERMINISTIC, SAMPLE_EVENTS, tokens


class TestCheckToken:
    @pytest.mark.parametrize(
        "value",
        ["a", "exp-1", "EXP_2", "0", "a" * 128, "under_score-and-dash", "A1b2C3"],
        ids=["one-char", "dash", "underscore", "digit", "128-chars", "mixed", "alnum"],
    )
    def test_accepts_valid_tokens(self, value: str) -> None:
        """Letters, digits, '_' and '-' up to 128 characters are returned unchanged."""
        assert check_token(value) == value

    @pytest.mark.parametrize(
        "value",
        ["", "a.b", "a*", "*", ">", "a>", "a b", " a", "a\t", "a" * 129, "é", "a/b", "a:b", "\n"],
        ids=[
            "empty",
            "dot",
            "star-suffix",
            "star",
            "gt",
            "gt-suffix",
            "space",
            "leading-space",
            "tab",
            "129-chars",
            "non-ascii",
            "slash",
            "colon",
            "newline-only",
        ],
    )
    def test_refuses_tokens_that_break_subjects(self, value: str) -> None:
        """Dots, wildcards, whitespace, empty and over-long ids raise InvalidEntityId."""
        with pytest.raises(InvalidEntityId):
            check_token(value)

    @pytest.mark.parametrize("value", ["exp\n", "a" * 128 + "\n"], ids=["short", "128+newline"])
    def test_refuses_trailing_newline(self, value: str) -> None:
        """An id ending in a newline is refused: NATS subjects must not contain whitespace."""
        with pytest.raises(InvalidEntityId):
            check_token(value)

    @pytest.mark.parametrize("value", [None, 5, b"exp"], ids=["none", "int", "bytes"])
    def test_refuses_non_strings(self, value: object) -> None:
        """A non-string id raises InvalidEntityId rather than a TypeError from the regex."""
        with pytest.raises(InvalidEntityId):
            check_token(value)  # type: ignore[arg-type]

    def test_error_names_what_was_checked(self) -> None:
        """The error message names the checked field and repeats the offending value."""
        with pytest.raises(InvalidEntityId, match=r"experiment_id must be .* got 'a\.b'"):
            check_token("a.b", "experiment_id")

    def test_invalid_entity_id_is_a_value_error(self) -> None:
        """Callers that catch ValueError also catch invalid ids."""
        with pytest.raises(ValueError, match="entity_id"):
            check_token("a b")


class TestSubjectOf:
    @pytest.mark.parametrize(
        ("cls", "subject"),
        [
            (ExperimentCreated, "llmopt.log.experiment.exp-1.lifecycle"),
            (ExperimentArchived, "llmopt.log.experiment.exp-1.lifecycle"),
            (DecisionMade, "llmopt.log.experiment.exp-1.decision"),
            (OutcomeObserved, "llmopt.log.experiment.exp-1.outcome"),
            (CheckpointTaken, "llmopt.log.experiment.exp-1.checkpoint"),
        ],
        ids=lambda v: v.__name__ if isinstance(v, type) else None,
    )
    def test_subject_of_each_event_type(self, cls: type[Event], subject: str) -> None:
        """Each event type is appended to its entity's subject on its own channel."""
        assert subject_of(SAMPLE_EVENTS[cls]) == subject

    def test_every_event_type_is_in_the_table(self) -> None:
        """Every type of the log has a sample event, so the subject table above covers it."""
        assert set(EVENT_TYPES.values()) == set(SAMPLE_EVENTS)

    @pytest.mark.parametrize("kind", ["experiment", "policy", "drift_monitor"])
    def test_checkpoint_subject_takes_kind_from_the_event(self, kind: str) -> None:
        """A CheckpointTaken goes to the checkpoint channel of the kind it names, not to '*'."""
        event = msgspec.structs.replace(SAMPLE_EVENTS[CheckpointTaken], kind=kind)
        assert subject_of(event) == f"llmopt.log.{kind}.exp-1.checkpoint"

    @pytest.mark.parametrize("cls", list(SAMPLE_EVENTS), ids=lambda c: c.__name__)
    def test_subject_is_inside_the_entity_filter(self, cls: type[Event]) -> None:
        """Every event of an entity is selected by that entity's filter (its whole history)."""
        event = SAMPLE_EVENTS[cls]
        kind = event.kind if isinstance(event, CheckpointTaken) else event.ENTITY_KIND
        assert subject_of(event).startswith(entity_filter(kind, event.entity_id)[:-1])


class TestParseSubject:
    @DETERMINISTIC
    @given(kind=tokens, entity_id=tokens, channel=tokens)
    def test_parse_inverts_entity_subject(self, kind: str, entity_id: str, channel: str) -> None:
        """Parsing a subject built from valid tokens gives back (kind, entity_id, channel)."""
        assert parse_subject(entity_subject(kind, entity_id, channel)) == (
            kind,
            entity_id,
            channel,
        )

    @pytest.mark.parametrize("cls", list(SAMPLE_EVENTS), ids=lambda c: c.__name__)
    def test_parse_subject_of_event(self, cls: type[Event]) -> None:
        """The subject of an event parses back to its kind, entity id and channel."""
        event = SAMPLE_EVENTS[cls]
        kind, entity_id, channel = parse_subject(subject_of(event))
        assert (entity_id, channel) == (event.entity_id, event.CHANNEL)
        assert kind == getattr(event, "kind", event.ENTITY_KIND)

    @pytest.mark.parametrize(
        "subject",
        [
            "llmopt.log.experiment.exp-1",
            "llmopt.log.experiment.exp-1.decision.extra",
            "other.log.experiment.exp-1.decision",
            "llmopt.deadletter.experiment.exp-1.decision",
            "",
            "llmopt.log",
        ],
        ids=["too-short", "too-long", "other-prefix", "dead-letter", "empty", "prefix-only"],
    )
    def test_refuses_non_log_subjects(self, subject: str) -> None:
        """A subject that is not llmopt.log.<kind>.<id>.<channel> raises ValueError."""
        with pytest.raises(ValueError, match="not a log subject"):
            parse_subject(subject)


class TestFilters:
    def test_filters(self) -> None:
        """The stream, entity and kind filters select the intended subjects."""
        assert f"{LOG_PREFIX}.>" == LOG_SUBJECTS
        assert entity_filter("experiment", "exp-1") == "llmopt.log.experiment.exp-1.>"
        assert kind_filter("experiment") == "llmopt.log.experiment.*.*"
        assert kind_filter("experiment", "outcome") == "llmopt.log.experiment.*.outcome"

    @DETERMINISTIC
    @given(entity_id=st.one_of(tokens, st.just("exp-1")))
    def test_entity_filter_does_not_select_a_prefix_sibling(self, entity_id: str) -> None:
        """The filter of entity X does not select entity X-suffix (tokens are whole)."""
        other = entity_subject("experiment", entity_id + "x", "decision")
        assert not other.startswith(entity_filter("experiment", entity_id)[:-1])
