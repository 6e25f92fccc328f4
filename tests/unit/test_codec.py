"""Bytes <-> events: round trips, refusals, upcasting of older versions and stable encoding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.codec import (
    EventDecodeError,
    decode,
    encode,
    register_upcaster,
    unregister_upcaster,
)
from events.schema import (
    EVENT_TYPES,
    DecisionMade,
    Event,
    ExperimentArchived,
    OutcomeObserved,
)
from tests.strategies import DETERMINISTIC, EVENTS_BY_TYPE, SAMPLE_EVENTS

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _outcome_v1(**extra: Any) -> bytes:
    """A stored OutcomeObserved as a v1 writer wrote it, plus any old-shape fields."""
    raw: dict[str, Any] = {
        "type": "OutcomeObserved",
        "event_id": "o-1",
        "entity_id": "exp-1",
        "at": 1_700_000_000.5,
        "v": 1,
        "decision_id": "d-1",
    }
    raw.update(extra)
    return msgspec.json.encode(raw)


@pytest.fixture
def upcasters() -> Iterator[Callable[[str, int, Upcaster], None]]:
    """Register upcasters for one test and remove them afterwards, whatever happens."""
    registered: list[tuple[str, int]] = []

    def add(type_name: str, from_version: int, fn: Upcaster) -> None:
        register_upcaster(type_name, from_version)(fn)
        registered.append((type_name, from_version))

    yield add
    for key in registered:
        unregister_upcaster(*key)


class TestRoundTrip:
    @pytest.mark.parametrize("name", sorted(EVENT_TYPES))
    def test_every_type_has_a_strategy(self, name: str) -> None:
        """Every event type of the log is covered by the shared strategies (so by these tests)."""
        assert EVENT_TYPES[name] in EVENTS_BY_TYPE

    @pytest.mark.parametrize("cls", list(EVENTS_BY_TYPE), ids=lambda c: c.__name__)
    @DETERMINISTIC
    @given(data=st.data())
    def test_decode_of_encode_is_the_same_event(
        self, cls: type[Event], data: st.DataObject
    ) -> None:
        """An event read back from its stored JSON equals the event that was written."""
        event = data.draw(EVENTS_BY_TYPE[cls])
        decoded = decode(encode(event))
        assert type(decoded) is cls
        assert decoded == event

    @pytest.mark.parametrize("name", sorted(EVENT_TYPES))
    def test_stored_json_names_type_and_version(self, name: str) -> None:
        """The stored JSON carries the type name and schema version, readable by any language."""
        cls = EVENT_TYPES[name]
        raw = msgspec.json.decode(encode(SAMPLE_EVENTS[cls]))
        assert raw["type"] == name
        assert raw["v"] == cls.VERSION

    def test_integer_event_time_decodes_as_float(self) -> None:
        """An event time written as an integer comes back as a float of the same value."""
        event = ExperimentArchived(event_id="a-1", entity_id="exp-1", at=1_700_000_000)
        decoded = decode(encode(event))
        assert isinstance(decoded.at, float)
        assert decoded.at == 1_700_000_000.0


class TestVersions:
    @pytest.mark.parametrize("name", sorted(EVENT_TYPES))
    def test_default_v_is_the_current_version(self, name: str) -> None:
        """A newly built event is stamped with its type's current VERSION, so it is not upcast."""
        cls = EVENT_TYPES[name]
        (v_field,) = [f for f in msgspec.structs.fields(cls) if f.name == "v"]
        assert v_field.default == cls.VERSION

    @pytest.mark.parametrize("name", sorted(EVENT_TYPES))
    def test_newer_stored_version_is_refused(self, name: str) -> None:
        """An event written by newer code is refused rather than read with the wrong meaning."""
        cls = EVENT_TYPES[name]
        raw = {"type": name, "event_id": "e", "entity_id": "x", "at": 1.0, "v": cls.VERSION + 1}
        with pytest.raises(EventDecodeError, match="newer than this code"):
            decode(msgspec.json.encode(raw))

    def test_version_older_than_any_upcaster_is_refused(self) -> None:
        """A stored version with no upcaster path to the current one (here v0) is refused."""
        raw = {"type": "ExperimentArchived", "event_id": "e", "entity_id": "x", "at": 1.0, "v": 0}
        with pytest.raises(EventDecodeError, match="no upcaster registered"):
            decode(msgspec.json.encode(raw))

    def test_missing_version_is_read_as_v1(self) -> None:
        """An event stored without ``v`` is a v1 event (the first writers did not stamp it)."""
        data = b'{"type":"ExperimentArchived","event_id":"e","entity_id":"x","at":1.0}'
        assert decode(data) == ExperimentArchived(event_id="e", entity_id="x", at=1.0, v=1)


class TestUpcasting:
    def test_upcaster_turns_v1_into_current(
        self, monkeypatch: pytest.MonkeyPatch, upcasters: Callable[[str, int, Upcaster], None]
    ) -> None:
        """A v1 event is rewritten by its upcaster and handed out as the current version."""
        monkeypatch.setattr(OutcomeObserved, "VERSION", 2)
        seen: list[dict[str, Any]] = []

        def score_to_reward(raw: dict[str, Any]) -> dict[str, Any]:
            seen.append(dict(raw))
            raw["reward"] = raw.pop("score")
            return raw

        upcasters("OutcomeObserved", 1, score_to_reward)
        event = decode(_outcome_v1(score=0.75))
        assert isinstance(event, OutcomeObserved)
        assert (event.v, event.reward, event.decision_id) == (2, 0.75, "d-1")
        assert [r["v"] for r in seen] == [1]

    def test_upcaster_may_fill_a_new_field(
        self, monkeypatch: pytest.MonkeyPatch, upcasters: Callable[[str, int, Upcaster], None]
    ) -> None:
        """An upcaster can give v1 events a value for a field v2 writers always set."""
        monkeypatch.setattr(DecisionMade, "VERSION", 2)

        def fill_context(raw: dict[str, Any]) -> dict[str, Any]:
            raw["context"] = {"migrated_from": raw["v"]}
            return raw

        upcasters("DecisionMade", 1, fill_context)
        stored = DecisionMade(
            event_id="d-1", entity_id="exp-1", at=1.0, decision_id="d-1", arm="a", propensity=0.5
        )
        event = decode(encode(stored))
        assert event == msgspec.structs.replace(stored, v=2, context={"migrated_from": 1})

    def test_upcasters_run_one_step_at_a_time_in_order(
        self, monkeypatch: pytest.MonkeyPatch, upcasters: Callable[[str, int, Upcaster], None]
    ) -> None:
        """A v1 event goes through the v1->v2 then the v2->v3 upcaster, each seeing its input v."""
        monkeypatch.setattr(OutcomeObserved, "VERSION", 3)
        steps: list[tuple[str, int]] = []

        def step(name: str) -> Upcaster:
            def run(raw: dict[str, Any]) -> dict[str, Any]:
                steps.append((name, raw["v"]))
                raw["feedback"] = (raw.get("feedback") or 0.0) * 10 + raw["v"]
                return raw

            return run

        upcasters("OutcomeObserved", 1, step("1->2"))
        upcasters("OutcomeObserved", 2, step("2->3"))
        event = decode(_outcome_v1())
        assert steps == [("1->2", 1), ("2->3", 2)]
        assert isinstance(event, OutcomeObserved)
        assert (event.v, event.feedback) == (3, 12.0)

    def test_current_version_skips_upcasters(
        self, monkeypatch: pytest.MonkeyPatch, upcasters: Callable[[str, int, Upcaster], None]
    ) -> None:
        """An event already at the current version is decoded without calling any upcaster."""
        monkeypatch.setattr(OutcomeObserved, "VERSION", 2)

        def fail(raw: dict[str, Any]) -> dict[str, Any]:
            raise AssertionError("upcaster called for a current event")

        upcasters("OutcomeObserved", 1, fail)
        event = decode(_outcome_v1(v=2, reward=1.0))
        assert isinstance(event, OutcomeObserved)
        assert (event.v, event.reward) == (2, 1.0)

    def test_missing_upcaster_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without an upcaster for an old stored version, decoding fails instead of guessing."""
        monkeypatch.setattr(OutcomeObserved, "VERSION", 2)
        with pytest.raises(EventDecodeError, match="no upcaster registered for OutcomeObserved v1"):
            decode(_outcome_v1())

    def test_upcaster_output_is_validated(
        self, monkeypatch: pytest.MonkeyPatch, upcasters: Callable[[str, int, Upcaster], None]
    ) -> None:
        """An upcaster that produces a wrong shape gives EventDecodeError naming the field."""
        monkeypatch.setattr(OutcomeObserved, "VERSION", 2)

        def broken(raw: dict[str, Any]) -> dict[str, Any]:
            raw["reward"] = "high"
            return raw

        upcasters("OutcomeObserved", 1, broken)
        with pytest.raises(EventDecodeError, match=r"\$\.reward"):
            decode(_outcome_v1())

    def test_second_registration_for_the_same_step_is_refused(
        self, upcasters: Callable[[str, int, Upcaster], None]
    ) -> None:
        """Two upcasters for the same type and version cannot both be registered."""
        upcasters("OutcomeObserved", 7, lambda raw: raw)
        with pytest.raises(ValueError, match="registered already"):
            register_upcaster("OutcomeObserved", 7)(lambda raw: raw)

    def test_unregister_removes_the_step(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """After unregistering, the step is gone (and unregistering twice is harmless)."""
        monkeypatch.setattr(OutcomeObserved, "VERSION", 2)
        register_upcaster("OutcomeObserved", 1)(lambda raw: raw)
        unregister_upcaster("OutcomeObserved", 1)
        unregister_upcaster("OutcomeObserved", 1)
        with pytest.raises(EventDecodeError, match="no upcaster"):
            decode(_outcome_v1())


class TestRefusals:
    @pytest.mark.parametrize(
        ("data", "match"),
        [
            (
                b'{"type":"Nope","event_id":"e","entity_id":"x","at":1.0}',
                "unknown event type 'Nope'",
            ),
            (b'{"event_id":"e","entity_id":"x","at":1.0}', "unknown event type None"),
            (b'{"type":5,"event_id":"e","entity_id":"x","at":1.0}', "unknown event type 5"),
            (b"{not json", "malformed"),
            (b"", "truncated"),
            (b'{"type":"ExperimentArchived"', "truncated"),
            (b"[]", "Expected `object`, got `array`"),
            (b"null", "Expected `object`, got `null`"),
            (b"\xff\xfe", "malformed"),
            (
                b'{"type":"ExperimentArchived","entity_id":"x","at":1.0}',
                "missing required field `event_id`",
            ),
            (
                b'{"type":"DecisionMade","event_id":"e","entity_id":"x","at":1.0,'
                b'"decision_id":"d","arm":"a","propensity":"high"}',
                r"\$\.propensity",
            ),
            (
                b'{"type":"ExperimentArchived","event_id":"e","entity_id":"x","at":1.0,"v":true}',
                r"\$\.v",
            ),
        ],
        ids=[
            "unknown-type",
            "no-type",
            "non-string-type",
            "not-json",
            "empty",
            "truncated",
            "array",
            "null",
            "not-utf8",
            "missing-field",
            "wrong-field-type",
            "bool-version",
        ],
    )
    def test_bad_bytes_raise_event_decode_error(self, data: bytes, match: str) -> None:
        """Anything that is not a valid known event raises EventDecodeError with the reason."""
        with pytest.raises(EventDecodeError, match=match):
            decode(data)

    def test_event_decode_error_is_a_value_error(self) -> None:
        """Callers that catch ValueError also catch undecodable events."""
        with pytest.raises(ValueError, match="unknown event type"):
            decode(b'{"type":"Nope"}')


class TestStableEncoding:
    def test_golden_bytes(self) -> None:
        """The stored JSON of an event is exactly this: a rename or reorder would change the log."""
        event = ExperimentArchived(event_id="a-1", entity_id="exp-1", at=1.5, reason="done")
        assert encode(event) == (
            b'{"type":"ExperimentArchived","event_id":"a-1","entity_id":"exp-1",'
            b'"at":1.5,"v":1,"reason":"done"}'
        )

    @DETERMINISTIC
    @given(event=st.one_of(*EVENTS_BY_TYPE.values()))
    def test_same_event_same_bytes(self, event: Event) -> None:
        """Encoding an event twice, or re-encoding what was read back, gives identical bytes."""
        data = encode(event)
        assert encode(event) == data
        normalized = encode(decode(data))
        assert encode(decode(normalized)) == normalized
        if isinstance(event.at, float):
            assert normalized == data

    @DETERMINISTIC
    @given(
        context=st.dictionaries(
            st.text(max_size=6),
            st.dictionaries(st.text(max_size=6), st.integers(), max_size=4),
            min_size=2,
            max_size=5,
        )
    )
    def test_context_key_order_does_not_change_bytes(
        self, context: dict[str, dict[str, int]]
    ) -> None:
        """Two decisions whose contexts differ only in key insertion order encode identically."""
        reversed_context = {k: dict(reversed(v.items())) for k, v in reversed(context.items())}

        def decision(ctx: dict[str, Any]) -> DecisionMade:
            return DecisionMade(
                event_id="d-1",
                entity_id="exp-1",
                at=1.0,
                decision_id="d-1",
                arm="a",
                propensity=0.5,
                context=ctx,
            )

        assert encode(decision(context)) == encode(decision(reversed_context))

    def test_context_keys_are_sorted(self) -> None:
        """Context keys are written sorted at every depth (what makes the bytes deterministic)."""
        event = DecisionMade(
            event_id="d-1",
            entity_id="exp-1",
            at=1.0,
            decision_id="d-1",
            arm="a",
            propensity=0.5,
            context={"b": 1, "a": {"z": 1, "y": 2}},
        )
        assert b'"context":{"a":{"y":2,"z":1},"b":1},' in encode(event)
