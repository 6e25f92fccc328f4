"""Recording a refused request: a dead letter, a metric and a log line, the same for every
service, so an operator finds every refusal in one place."""

from __future__ import annotations

import logging

from nats.aio.msg import Msg

from events.dead_letter import DeadLetterLog
from gateway.metrics import DEAD_LETTERS
from gateway.wire import RequestError

log = logging.getLogger("llmopt.refusals")


async def record_refusal(dead_letters: DeadLetterLog, msg: Msg, exc: RequestError) -> None:
    """Keep what arrived and why it was refused; a failure to record never fails the reply."""
    try:
        await dead_letters.record(
            msg.subject, msg.data, code=exc.code, message=exc.message, field=exc.field
        )
        DEAD_LETTERS.labels(msg.subject).inc()
    except Exception:
        log.exception("dead-letter record failed", extra={"subject": msg.subject})
    log.info(
        "request refused",
        extra={"subject": msg.subject, "code": exc.code, "field": exc.field, "reason": exc.message},
    )
