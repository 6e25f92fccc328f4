"""Admin requests over NATS: create and archive experiments, move them through their lifecycle.

A command is decided against the entity's lifecycle as read from the log, then appended with
the sequence it was decided on (``Nats-Expected-Last-Subject-Sequence``). If another writer got
there first the command is decided again on the newer history, so two concurrent ``create``
requests give one experiment and one clear "already exists" error, never two histories.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.catalogue import ArmSpec
from actors.experiment_config import ConfigError, parse_config
from actors.experiment_lifecycle import LIFECYCLE_EVENTS, LifecycleState
from actors.experiments.lifecycle import Status
from events.dead_letter import DeadLetterLog
from events.log import EventLog
from events.schema import ArmAdded, ArmRetired, Event, ExperimentArchived, ExperimentCreated
from events.subjects import InvalidEntityId, check_token, entity_subject
from gateway.admin_requests import (
    ADMIN_PREFIX,
    AlreadyApplied,
    decide_and_append,
    responder,
)
from gateway.lifecycle_requests import LIFECYCLE_ACTIONS, decide_lifecycle, lifecycle_event_id
from gateway.wire import RequestError, decode_request, is_msgpack


class CreateExperiment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    experiment_id: str
    arms: list[str]
    seed: int = 0
    fallback_arm: str | None = None
    description: str = ""
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    """Policy, features, catalogue and reward (``actors.experiment_config.ExperimentConfig``)."""
    request_id: str | None = None
    """Makes a retried request idempotent: the same id appends the same event id."""
    draft: bool = False
    """Create it as a draft, serving nothing until ``llmopt.admin.experiment.start``."""


class ArchiveExperiment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    experiment_id: str
    reason: str = ""
    request_id: str | None = None


class AddArm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    experiment_id: str
    arm: str
    spec: ArmSpec | None = None
    """Its catalogue entry: prices, context window, tier, parameters."""
    request_id: str | None = None


class RetireArm(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    experiment_id: str
    arm: str
    reason: str = ""
    request_id: str | None = None


class Accepted(msgspec.Struct, frozen=True):
    ok: bool
    experiment_id: str
    seq: int
    duplicate: bool = False


class Lifecycle(msgspec.Struct):
    """One experiment's lifecycle as the log tells it; the state admin commands decide on."""

    created: bool = False
    archived: bool = False
    arms: list[str] = msgspec.field(default_factory=list)
    """Arms that can be chosen now (created or added, not retired)."""
    last_seq: int = 0
    event_seqs: dict[str, int] = msgspec.field(default_factory=dict)
    """Event id -> sequence, so a retried request is answered with its first result."""
    stage: LifecycleState = msgspec.field(default_factory=LifecycleState)
    """Draft / running / paused / complete / archived and the champion, as the actor folds them."""


async def read_lifecycle(event_log: EventLog, experiment_id: str) -> Lifecycle:
    state = Lifecycle()
    subject = entity_subject("experiment", experiment_id, "lifecycle")
    async for chunk in event_log.read(subject):
        for recorded in chunk:
            state.last_seq = recorded.seq
            state.event_seqs[recorded.event.event_id] = recorded.seq
            event = recorded.event
            if isinstance(event, ExperimentCreated):
                state.created = True
                state.arms = list(event.arms)
                state.stage.create(event)
            elif isinstance(event, ExperimentArchived):
                state.archived = True
                state.stage.apply(event, dict.fromkeys(state.arms))
            elif isinstance(event, LIFECYCLE_EVENTS):
                state.stage.apply(event, dict.fromkeys(state.arms))
            elif isinstance(event, ArmAdded) and event.arm not in state.arms:
                state.arms.append(event.arm)
            elif isinstance(event, ArmRetired) and event.arm in state.arms:
                state.arms.remove(event.arm)
    return state


def decide_create(state: Lifecycle, request: CreateExperiment, now: float) -> Event:
    event_id = f"create:{request.experiment_id}:{request.request_id or uuid.uuid4().hex}"
    if event_id in state.event_seqs:
        raise AlreadyApplied(state.event_seqs[event_id])
    if state.created:
        raise RequestError(
            "already_exists", f"experiment {request.experiment_id!r} exists", "experiment_id"
        )
    return ExperimentCreated(
        event_id=event_id,
        entity_id=request.experiment_id,
        at=now,
        arms=tuple(request.arms),
        seed=request.seed,
        fallback_arm=request.fallback_arm,
        description=request.description,
        config=request.config,
        draft=request.draft,
    )


def decide_archive(state: Lifecycle, request: ArchiveExperiment, now: float) -> Event:
    event_id = f"archive:{request.experiment_id}:{request.request_id or uuid.uuid4().hex}"
    if event_id in state.event_seqs:
        raise AlreadyApplied(state.event_seqs[event_id])
    if not state.created:
        raise RequestError(
            "not_found", f"experiment {request.experiment_id!r} does not exist", "experiment_id"
        )
    if state.archived:
        raise RequestError(
            "invalid_transition",
            f"experiment {request.experiment_id!r} is archived already",
            "experiment_id",
        )
    status = state.stage.status
    if status in (Status.RUNNING, Status.PAUSED):
        raise RequestError(
            "invalid_transition",
            f"cannot archive an experiment that is {status.value}: archive is allowed only "
            "from draft or complete; stop it first (llmopt.admin.experiment.stop)",
            "experiment_id",
        )
    return ExperimentArchived(
        event_id=event_id,
        entity_id=request.experiment_id,
        at=now,
        reason=request.reason,
    )


def _running(state: Lifecycle, experiment_id: str) -> None:
    if not state.created:
        raise RequestError(
            "not_found", f"experiment {experiment_id!r} does not exist", "experiment_id"
        )
    if state.archived:
        raise RequestError(
            "invalid_transition", f"experiment {experiment_id!r} is archived", "experiment_id"
        )


def decide_add_arm(state: Lifecycle, request: AddArm, now: float) -> Event:
    event_id = f"add-arm:{request.experiment_id}:{request.request_id or uuid.uuid4().hex}"
    if event_id in state.event_seqs:
        raise AlreadyApplied(state.event_seqs[event_id])
    _running(state, request.experiment_id)
    if not request.arm or len(request.arm) > 128:
        raise RequestError("invalid_request", "arm names are 1-128 characters", "arm")
    if request.arm in state.arms:
        raise RequestError("already_exists", f"arm {request.arm!r} exists", "arm")
    return ArmAdded(
        event_id=event_id,
        entity_id=request.experiment_id,
        at=now,
        arm=request.arm,
        spec=msgspec.to_builtins(request.spec) if request.spec is not None else None,
    )


def decide_retire_arm(state: Lifecycle, request: RetireArm, now: float) -> Event:
    event_id = f"retire-arm:{request.experiment_id}:{request.request_id or uuid.uuid4().hex}"
    if event_id in state.event_seqs:
        raise AlreadyApplied(state.event_seqs[event_id])
    _running(state, request.experiment_id)
    if request.arm not in state.arms:
        raise RequestError("not_found", f"no active arm {request.arm!r}", "arm")
    if len(state.arms) == 1:
        raise RequestError("invalid_transition", "cannot retire the last arm", "arm")
    return ArmRetired(
        event_id=event_id,
        entity_id=request.experiment_id,
        at=now,
        arm=request.arm,
        reason=request.reason,
    )


def validate_create(request: CreateExperiment) -> None:
    _check_id(request.experiment_id)
    if not request.arms:
        raise RequestError("invalid_request", "an experiment needs at least one arm", "arms")
    for i, arm in enumerate(request.arms):
        if not arm or len(arm) > 128:
            raise RequestError("invalid_request", "arm names are 1-128 characters", f"arms[{i}]")
    if len(set(request.arms)) != len(request.arms):
        raise RequestError("invalid_request", "arm names must be unique", "arms")
    if request.fallback_arm is not None and request.fallback_arm not in request.arms:
        raise RequestError(
            "invalid_request", "fallback_arm must be one of the arms", "fallback_arm"
        )
    try:
        parse_config(request.config, request.arms)
    except ConfigError as exc:
        raise RequestError("invalid_request", exc.message, exc.field) from exc


def _check_id(experiment_id: str) -> None:
    try:
        check_token(experiment_id, "experiment_id")
    except InvalidEntityId as exc:
        raise RequestError("invalid_request", str(exc), "experiment_id") from exc


class AdminService:
    """Serves ``llmopt.admin.experiment.*`` in the queue group ``llmopt-admin``."""

    def __init__(self, nc: Client, event_log: EventLog, dead_letters: DeadLetterLog) -> None:
        self.nc = nc
        self.event_log = event_log
        self.dead_letters = dead_letters
        self._subs: list[Any] = []

    async def start(self) -> None:
        routes: dict[str, Callable[[Msg], Awaitable[Accepted]]] = {
            "experiment.create": self._create,
            "experiment.archive": self._archive,
            "experiment.add_arm": self._add_arm,
            "experiment.retire_arm": self._retire_arm,
        }
        for action in LIFECYCLE_ACTIONS:
            routes[f"experiment.{action}"] = self._lifecycle(action)
        for name, handler in routes.items():
            subject = f"{ADMIN_PREFIX}.{name}"
            self._subs.append(
                await self.nc.subscribe(
                    subject, queue="llmopt-admin", cb=responder(handler, self.dead_letters)
                )
            )

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()

    async def _create(self, msg: Msg) -> Accepted:
        request = decode_request(msg.data, CreateExperiment, msgpack=is_msgpack(msg.headers))
        validate_create(request)
        return await self._execute(
            request.experiment_id, lambda state: decide_create(state, request, time.time())
        )

    async def _archive(self, msg: Msg) -> Accepted:
        request = decode_request(msg.data, ArchiveExperiment, msgpack=is_msgpack(msg.headers))
        _check_id(request.experiment_id)
        return await self._execute(
            request.experiment_id, lambda state: decide_archive(state, request, time.time())
        )

    async def _add_arm(self, msg: Msg) -> Accepted:
        request = decode_request(msg.data, AddArm, msgpack=is_msgpack(msg.headers))
        _check_id(request.experiment_id)
        return await self._execute(
            request.experiment_id, lambda state: decide_add_arm(state, request, time.time())
        )

    async def _retire_arm(self, msg: Msg) -> Accepted:
        request = decode_request(msg.data, RetireArm, msgpack=is_msgpack(msg.headers))
        _check_id(request.experiment_id)
        return await self._execute(
            request.experiment_id, lambda state: decide_retire_arm(state, request, time.time())
        )

    def _lifecycle(self, action: str) -> Callable[[Msg], Awaitable[Accepted]]:
        """Handles ``llmopt.admin.experiment.<action>`` (``gateway.lifecycle_requests``)."""

        async def handle(msg: Msg) -> Accepted:
            request = decode_request(
                msg.data, LIFECYCLE_ACTIONS[action], msgpack=is_msgpack(msg.headers)
            )
            _check_id(request.experiment_id)
            event_id = lifecycle_event_id(action, request)

            def decide(state: Lifecycle) -> Event:
                if event_id in state.event_seqs:
                    raise AlreadyApplied(state.event_seqs[event_id])
                return decide_lifecycle(action, state, request, event_id, time.time())

            return await self._execute(request.experiment_id, decide)

        return handle

    async def _execute(self, experiment_id: str, decide: Callable[[Lifecycle], Event]) -> Accepted:
        seq, duplicate = await decide_and_append(
            self.event_log,
            lambda: read_lifecycle(self.event_log, experiment_id),
            decide,
            entity=f"experiment {experiment_id!r}",
        )
        return Accepted(True, experiment_id, seq, duplicate)
