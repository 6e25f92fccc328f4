"""The stand-in that answers an experiment's decisions with its fallback arm while its actor
cannot: starting, restarting after a crash, or recovering a long tail.

The actor announces that it serves (``llmopt.internal.serving.<experiment>``, every 0.2 s, and
"0" when it stops). When an experiment that has a fallback arm has not been announced for
``SILENCE_S``, the stand-in joins the actor's queue group on ``llmopt.decide.<experiment>``
and answers every request with the fallback arm, ``"fallback": true, "reason": "unavailable"``;
it leaves as soon as the actor announces itself again. Fallback decisions are logged like any
other (propensity 1.0), so their outcomes join and the audit trail is complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from actors.decider import DecideRequest, fallback_decision
from actors.decision_service import DECIDE_PREFIX, SERVING_PREFIX
from actors.directory import ActorDirectory
from events.log import EventLog
from events.schema import DecisionMade, ExperimentCreated
from gateway.metrics import FALLBACK_DECISIONS
from gateway.wire import RequestError, decode_request, encode_reply, is_msgpack

log = logging.getLogger("llmopt.fallback")

SILENCE_S: Final = 0.6
HANDED_BACK: Final = "Llmopt-Handed-Back"
"""Header on a request the stand-in passed back to the actor's queue group."""
CHECK_EVERY_S: Final = 0.1


class FallbackStandIn:
    def __init__(self, nc: Client, event_log: EventLog, directory: ActorDirectory) -> None:
        self.nc = nc
        self.event_log = event_log
        self.directory = directory
        self._last_heard: dict[str, float] = {}
        self._standing_in: dict[str, Subscription] = {}
        self._heartbeats: Subscription | None = None
        self._watch: asyncio.Task[None] | None = None

    @property
    def standing_in(self) -> set[str]:
        """Experiments whose decisions the stand-in answers right now."""
        return set(self._standing_in)

    async def start(self) -> None:
        self._heartbeats = await self.nc.subscribe(f"{SERVING_PREFIX}.*", cb=self._heard)
        self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self._heartbeats is not None:
            await self._heartbeats.unsubscribe()
        for sub in self._standing_in.values():
            await sub.unsubscribe()
        self._standing_in.clear()

    async def _heard(self, msg: Msg) -> None:
        experiment = msg.subject.rsplit(".", 1)[1]
        if msg.data == b"0":
            self._last_heard.pop(experiment, None)
        else:
            self._last_heard[experiment] = time.monotonic()
        await self._reconcile(experiment)

    async def _watch_loop(self) -> None:
        while True:
            for experiment in {
                entity for kind, entity in self.directory.entities.live() if kind == "experiment"
            } | set(self._standing_in):
                await self._reconcile(experiment)
            await asyncio.sleep(CHECK_EVERY_S)

    def _fallback_arm(self, experiment: str) -> str | None:
        if not self.directory.entities.is_live("experiment", experiment):
            return None
        created = self.directory.definitions.get(f"experiment/{experiment}")
        return created.fallback_arm if isinstance(created, ExperimentCreated) else None

    def _silent(self, experiment: str) -> bool:
        heard = self._last_heard.get(experiment)
        return heard is None or time.monotonic() - heard > SILENCE_S

    async def _reconcile(self, experiment: str) -> None:
        silent = self._silent(experiment)
        arm = self._fallback_arm(experiment)
        if silent and arm is not None and experiment not in self._standing_in:
            self._standing_in[experiment] = await self.nc.subscribe(
                f"{DECIDE_PREFIX}.{experiment}",
                f"llmopt-decide-{experiment}",
                cb=self._answer,
            )
            log.warning(
                "standing in with the fallback arm", extra={"experiment": experiment, "arm": arm}
            )
        elif (not silent or arm is None) and experiment in self._standing_in:
            await _step_down(self._standing_in.pop(experiment))
            log.info("actor serves again", extra={"experiment": experiment})

    async def _answer(self, msg: Msg) -> None:
        packed = is_msgpack(msg.headers)
        experiment = msg.subject.rsplit(".", 1)[1]
        if not self._silent(experiment) and not (msg.headers or {}).get(HANDED_BACK):
            # The actor serves again and this request reached the stand-in in the moment
            # before it left the queue group: hand it back once (a second time it is answered
            # here, so a request cannot bounce) rather than serve the fallback.
            await self.nc.publish(
                msg.subject,
                msg.data,
                reply=msg.reply,
                headers={**(msg.headers or {}), HANDED_BACK: "1"},
            )
            return
        arm = self._fallback_arm(experiment)
        try:
            request = decode_request(msg.data, DecideRequest, msgpack=packed)
            if arm is None:
                raise RequestError("unavailable", f"experiment {experiment!r} has no fallback")
            decision = fallback_decision(
                experiment, arm, request_id=request.request_id, reason="unavailable"
            )
            appended = await self.event_log.append(
                DecisionMade(
                    event_id=decision.decision_id,
                    entity_id=experiment,
                    at=time.time(),
                    decision_id=decision.decision_id,
                    arm=arm,
                    propensity=1.0,
                    context=request.context,
                )
            )
            if appended.duplicate:
                # The actor already made this request's decision (same request_id): its arm,
                # not the fallback, is what the log holds, so do not contradict it.
                raise RequestError(
                    "unavailable", "this request was decided before; retry it shortly"
                )
            FALLBACK_DECISIONS.labels(experiment).inc()
            reply: object = decision
        except RequestError as exc:
            reply = exc.reply()
        except Exception:
            log.exception("fallback decision failed", extra={"experiment": experiment})
            reply = RequestError("unavailable", "no decision could be made; retry").reply()
        if msg.reply:
            await msg.respond(encode_reply(reply, msgpack=packed))


async def _step_down(sub: Any) -> None:
    """Leave the queue group: drain, so requests the server already handed to the stand-in
    are answered (an unsubscribe would drop them and their callers would time out); if the
    drain cannot complete (a connection in trouble), unsubscribe."""
    try:
        await sub.drain()
    except Exception:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
