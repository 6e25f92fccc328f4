"""Admin commands decided against an experiment's lifecycle, without the log or NATS."""

from __future__ import annotations

import pytest

from actors.experiment_lifecycle import LifecycleState
from actors.experiments.lifecycle import Status
from events.schema import ExperimentArchived, ExperimentCreated
from gateway.admin import (
    AlreadyApplied,
    ArchiveExperiment,
    CreateExperiment,
    Lifecycle,
    decide_archive,
    decide_create,
    validate_create,
)
from gateway.wire import RequestError

NOW = 1_700_000_000.25


def create_request(**fields: object) -> CreateExperiment:
    values: dict[str, object] = {"experiment_id": "exp-1", "arms": ["a", "b"]}
    values.update(fields)
    return CreateExperiment(**values)  # type: ignore[arg-type]


CREATED = Lifecycle(created=True, last_seq=3, event_seqs={"create:exp-1:first": 3})
COMPLETE = Lifecycle(
    created=True,
    last_seq=4,
    event_seqs={"create:exp-1:first": 3, "stop:exp-1:s": 4},
    stage=LifecycleState(status=Status.COMPLETE),
)
ARCHIVED = Lifecycle(
    created=True,
    archived=True,
    last_seq=8,
    event_seqs={"create:exp-1:first": 3, "archive:exp-1:bye": 8},
)


class TestDecideCreate:
    def test_fresh_lifecycle_gives_experiment_created(self) -> None:
        """Creating a new experiment yields ExperimentCreated carrying the request's fields."""
        request = create_request(
            arms=["fast", "slow"], seed=42, fallback_arm="slow", description="d", request_id="r1"
        )
        event = decide_create(Lifecycle(), request, NOW)
        assert event == ExperimentCreated(
            event_id="create:exp-1:r1",
            entity_id="exp-1",
            at=NOW,
            arms=("fast", "slow"),
            seed=42,
            fallback_arm="slow",
            description="d",
        )

    @pytest.mark.parametrize("state", [CREATED, ARCHIVED], ids=["created", "archived"])
    def test_existing_experiment_is_already_exists(self, state: Lifecycle) -> None:
        """A new create request for an existing (even archived) experiment is already_exists."""
        with pytest.raises(RequestError) as info:
            decide_create(state, create_request(request_id="new"), NOW)
        assert (info.value.code, info.value.field) == ("already_exists", "experiment_id")
        assert "exp-1" in info.value.message

    @pytest.mark.parametrize("state", [CREATED, ARCHIVED], ids=["created", "archived"])
    def test_retried_request_is_answered_with_its_first_seq(self, state: Lifecycle) -> None:
        """A retry with the same request_id is AlreadyApplied with the seq of the first append."""
        with pytest.raises(AlreadyApplied) as info:
            decide_create(state, create_request(request_id="first"), NOW)
        assert info.value.seq == 3

    def test_request_ids_are_scoped_to_the_experiment(self) -> None:
        """The same request_id for another experiment is a new request, not a retry."""
        state = Lifecycle(event_seqs={"create:exp-1:r1": 3})
        event = decide_create(state, create_request(experiment_id="exp-2", request_id="r1"), NOW)
        assert event.event_id == "create:exp-2:r1"

    def test_without_request_id_each_attempt_is_new(self) -> None:
        """Without a request_id two decisions get different event ids (no accidental dedupe)."""
        first = decide_create(Lifecycle(), create_request(), NOW)
        second = decide_create(Lifecycle(), create_request(), NOW)
        assert first.event_id.startswith("create:exp-1:")
        assert first.event_id != second.event_id


class TestDecideArchive:
    def test_complete_experiment_gives_experiment_archived(self) -> None:
        """Archiving a complete experiment yields ExperimentArchived with the reason and time."""
        request = ArchiveExperiment(experiment_id="exp-1", reason="done", request_id="r9")
        assert decide_archive(COMPLETE, request, NOW) == ExperimentArchived(
            event_id="archive:exp-1:r9", entity_id="exp-1", at=NOW, reason="done"
        )

    @pytest.mark.parametrize(
        ("state", "code"),
        [(Lifecycle(), "not_found"), (ARCHIVED, "invalid_transition")],
        ids=["never-created", "archived"],
    )
    def test_refusals(self, state: Lifecycle, code: str) -> None:
        """Archiving before creation is not_found; archiving twice is invalid_transition."""
        with pytest.raises(RequestError) as info:
            decide_archive(state, ArchiveExperiment(experiment_id="exp-1", request_id="n"), NOW)
        assert (info.value.code, info.value.field) == (code, "experiment_id")

    def test_retried_archive_is_answered_with_its_first_seq(self) -> None:
        """A retried archive request is AlreadyApplied, not invalid_transition."""
        with pytest.raises(AlreadyApplied) as info:
            decide_archive(
                ARCHIVED, ArchiveExperiment(experiment_id="exp-1", request_id="bye"), NOW
            )
        assert info.value.seq == 8

    def test_create_and_archive_ids_do_not_collide(self) -> None:
        """A create request_id does not make an archive with the same request_id a retry."""
        request = ArchiveExperiment(experiment_id="exp-1", request_id="first")
        assert isinstance(decide_archive(COMPLETE, request, NOW), ExperimentArchived)

    @pytest.mark.parametrize("status", [Status.RUNNING, Status.PAUSED])
    def test_a_running_or_paused_experiment_must_be_stopped_first(self, status: Status) -> None:
        """Archive follows the state machine: from running or paused it is refused, saying so."""
        state = Lifecycle(created=True, last_seq=3, stage=LifecycleState(status=status))
        with pytest.raises(RequestError) as info:
            decide_archive(state, ArchiveExperiment(experiment_id="exp-1"), NOW)
        assert (info.value.code, info.value.field) == ("invalid_transition", "experiment_id")
        assert "stop it first" in info.value.message


class TestValidateCreate:
    @pytest.mark.parametrize(
        "fields",
        [
            {},
            {"arms": ["only"]},
            {"fallback_arm": "b"},
            {"experiment_id": "A_z-09", "arms": ["x" * 128]},
            {"arms": ["with space", "with.dot"]},
        ],
        ids=["two-arms", "one-arm", "fallback-among-arms", "edge-lengths", "free-form-arm-names"],
    )
    def test_accepts_valid_requests(self, fields: dict[str, object]) -> None:
        """Valid requests pass validation without raising."""
        validate_create(create_request(**fields))

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"arms": []}, "arms"),
            ({"arms": ["a", "b", "a"]}, "arms"),
            ({"arms": ["a", ""]}, "arms[1]"),
            ({"arms": ["x" * 129]}, "arms[0]"),
            ({"fallback_arm": "c"}, "fallback_arm"),
            ({"fallback_arm": ""}, "fallback_arm"),
            ({"experiment_id": "exp.1"}, "experiment_id"),
            ({"experiment_id": "exp*"}, "experiment_id"),
            ({"experiment_id": ">"}, "experiment_id"),
            ({"experiment_id": "exp 1"}, "experiment_id"),
            ({"experiment_id": ""}, "experiment_id"),
            ({"experiment_id": "e" * 129}, "experiment_id"),
        ],
        ids=[
            "no-arms",
            "duplicate-arms",
            "empty-arm",
            "long-arm",
            "fallback-not-an-arm",
            "empty-fallback",
            "id-with-dot",
            "id-with-star",
            "id-gt",
            "id-with-space",
            "empty-id",
            "long-id",
        ],
    )
    def test_refuses_with_the_field(self, fields: dict[str, object], field: str) -> None:
        """Each invalid request is invalid_request naming the field a client must fix."""
        with pytest.raises(RequestError) as info:
            validate_create(create_request(**fields))
        assert (info.value.code, info.value.field) == ("invalid_request", field)

    def test_bad_id_is_reported_before_bad_arms(self) -> None:
        """With several problems the experiment id is reported first."""
        with pytest.raises(RequestError) as info:
            validate_create(create_request(experiment_id="a.b", arms=[]))
        assert info.value.field == "experiment_id"

    def test_refuses_id_with_trailing_newline(self) -> None:
        """An experiment id ending in a newline is refused as invalid_request on experiment_id."""
        with pytest.raises(RequestError) as info:
            validate_create(create_request(experiment_id="exp-1\n"))
        assert info.value.field == "experiment_id"
