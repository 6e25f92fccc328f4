"""Admin requests for feature windows: ``llmopt.admin.window.create`` and ``.archive``.

Like experiments (``gateway.admin``): the command is decided against the window's lifecycle as
read from the log and appended with the sequence it was decided on, so concurrent creates give
one window and one ``already_exists`` error. The config is validated in full
(``FeatureWindowConfig``) before anything is appended, and stored with every default filled
in, so the event says exactly what the window computes.

Request::

    {"window_id": "latency", "config": {"experiment": "checkout-router",
     "windows": [{"type": "tumbling", "size": 60}]}, "request_id": "optional, for retries"}

Reply: ``{"ok": true, "window_id": ..., "seq": ..., "duplicate": false}`` or the usual error.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, Final

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from actors.windows.window_config import FeatureWindowConfig
from events.dead_letter import DeadLetterLog
from events.log import EventLog
from events.schema import Event, FeatureWindowArchived, FeatureWindowDefined
from events.subjects import InvalidEntityId, check_token, entity_subject
from gateway.admin_requests import ADMIN_PREFIX, AlreadyApplied, decide_and_append, responder
from gateway.wire import RequestError, decode_request, is_msgpack

CREATE_SUBJECT: Final = f"{ADMIN_PREFIX}.window.create"
ARCHIVE_SUBJECT: Final = f"{ADMIN_PREFIX}.window.archive"


class CreateWindow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    window_id: str
    config: FeatureWindowConfig
    description: str = ""
    request_id: str | None = None


class ArchiveWindow(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    window_id: str
    reason: str = ""
    request_id: str | None = None


class WindowAccepted(msgspec.Struct, frozen=True):
    ok: bool
    window_id: str
    seq: int
    duplicate: bool = False


class WindowLifecycle(msgspec.Struct):
    created: bool = False
    archived: bool = False
    last_seq: int = 0
    event_seqs: dict[str, int] = msgspec.field(default_factory=dict)


async def read_window_lifecycle(event_log: EventLog, window_id: str) -> WindowLifecycle:
    state = WindowLifecycle()
    async for chunk in event_log.read(entity_subject("window", window_id, "lifecycle")):
        for recorded in chunk:
            state.last_seq = recorded.seq
            state.event_seqs[recorded.event.event_id] = recorded.seq
            if isinstance(recorded.event, FeatureWindowDefined):
                state.created = True
            elif isinstance(recorded.event, FeatureWindowArchived):
                state.archived = True
    return state


def decide_create_window(state: WindowLifecycle, request: CreateWindow, now: float) -> Event:
    event_id = f"define-window:{request.window_id}:{request.request_id or uuid.uuid4().hex}"
    if event_id in state.event_seqs:
        raise AlreadyApplied(state.event_seqs[event_id])
    if state.created:
        raise RequestError("already_exists", f"window {request.window_id!r} exists", "window_id")
    return FeatureWindowDefined(
        event_id=event_id,
        entity_id=request.window_id,
        at=now,
        config=msgspec.to_builtins(request.config),
        description=request.description,
    )


def decide_archive_window(state: WindowLifecycle, request: ArchiveWindow, now: float) -> Event:
    event_id = f"archive-window:{request.window_id}:{request.request_id or uuid.uuid4().hex}"
    if event_id in state.event_seqs:
        raise AlreadyApplied(state.event_seqs[event_id])
    if not state.created:
        raise RequestError("not_found", f"no window {request.window_id!r}", "window_id")
    if state.archived:
        raise RequestError("archived", f"window {request.window_id!r} is archived", "window_id")
    return FeatureWindowArchived(
        event_id=event_id, entity_id=request.window_id, at=now, reason=request.reason
    )


def _check_id(window_id: str) -> None:
    try:
        check_token(window_id, "window_id")
    except InvalidEntityId as exc:
        raise RequestError("invalid_request", str(exc), "window_id") from exc


class WindowAdminService:
    """Serves ``llmopt.admin.window.*`` in the admin queue group."""

    def __init__(
        self, nc: Client, event_log: EventLog, dead_letters: DeadLetterLog | None = None
    ) -> None:
        self.nc = nc
        self.event_log = event_log
        self.dead_letters = dead_letters
        self._subs: list[Any] = []

    async def start(self) -> None:
        for subject, handler in ((CREATE_SUBJECT, self._create), (ARCHIVE_SUBJECT, self._archive)):
            self._subs.append(
                await self.nc.subscribe(
                    subject, queue="llmopt-admin", cb=responder(handler, self.dead_letters)
                )
            )
        await self.nc.flush()  # the server knows the subscriptions once start() returns

    async def stop(self) -> None:
        for sub in self._subs:
            await sub.unsubscribe()
        self._subs.clear()

    async def _create(self, msg: Msg) -> WindowAccepted:
        request = decode_request(msg.data, CreateWindow, msgpack=is_msgpack(msg.headers))
        _check_id(request.window_id)
        return await self._execute(
            request.window_id, lambda s: decide_create_window(s, request, time.time())
        )

    async def _archive(self, msg: Msg) -> WindowAccepted:
        request = decode_request(msg.data, ArchiveWindow, msgpack=is_msgpack(msg.headers))
        _check_id(request.window_id)
        return await self._execute(
            request.window_id, lambda s: decide_archive_window(s, request, time.time())
        )

    async def _execute(
        self, window_id: str, decide: Callable[[WindowLifecycle], Event]
    ) -> WindowAccepted:
        seq, duplicate = await decide_and_append(
            self.event_log,
            lambda: read_window_lifecycle(self.event_log, window_id),
            decide,
            entity=f"window {window_id!r}",
        )
        return WindowAccepted(True, window_id, seq, duplicate)
