"""A request that reaches the fallback stand-in after the actor is serving again is handed
back to the actor's queue group once, not answered with the fallback arm."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from nats.aio.msg import Msg

from actors.decision_service import DECIDE_PREFIX
from events.log import EventLog
from events.schema import ExperimentCreated
from gateway.fallback import HANDED_BACK, FallbackStandIn


class _Directory:
    """The two things the stand-in asks the directory: is it live, and its definition."""

    def __init__(self, experiment: str) -> None:
        created = ExperimentCreated(
            event_id="c", entity_id=experiment, at=1.0, arms=("a", "b"), fallback_arm="a"
        )
        self.definitions = {f"experiment/{experiment}": created}
        self.entities = self

    def is_live(self, kind: str, entity_id: str) -> bool:
        return True


async def test_a_late_request_is_handed_back_once(
    nc: Any, event_log: EventLog, entity_id: str
) -> None:
    """With the actor heard from, the stand-in republishes the request (marked) for the
    actor's queue group, whose answer reaches the caller; a request already handed back is
    answered with the fallback arm instead of bouncing again."""
    stand_in = FallbackStandIn(nc, event_log, _Directory(entity_id))  # type: ignore[arg-type]
    stand_in._last_heard[entity_id] = time.monotonic()  # the actor's heartbeat just arrived
    subject = f"{DECIDE_PREFIX}.{entity_id}"
    seen: list[Msg] = []

    async def actor(msg: Msg) -> None:
        seen.append(msg)
        await msg.respond(b'{"arm": "b", "fallback": false}')

    actor_sub = await nc.subscribe(subject, f"llmopt-decide-{entity_id}", cb=actor)
    try:
        inbox = nc.new_inbox()
        replies: asyncio.Queue[Msg] = asyncio.Queue()

        async def caller(msg: Msg) -> None:
            await replies.put(msg)

        reply_sub = await nc.subscribe(inbox, cb=caller)
        body = json.dumps({"context": {}, "request_id": "late-1"}).encode()
        late = Msg(_client=nc, subject=subject, reply=inbox, data=body, headers=None)
        await stand_in._answer(late)
        answer = await asyncio.wait_for(replies.get(), 5.0)
        assert json.loads(answer.data) == {"arm": "b", "fallback": False}
        assert seen[0].headers is not None and seen[0].headers[HANDED_BACK] == "1"

        bounced = Msg(
            _client=nc, subject=subject, reply=inbox, data=body, headers={HANDED_BACK: "1"}
        )
        await stand_in._answer(bounced)
        second = json.loads((await asyncio.wait_for(replies.get(), 5.0)).data)
        assert (second["arm"], second["fallback"]) == ("a", True)
        assert len(seen) == 1
        await reply_sub.unsubscribe()
    finally:
        await actor_sub.unsubscribe()
