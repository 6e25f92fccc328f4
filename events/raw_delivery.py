"""Raw delivery: a subscription whose messages go straight from nats-py's protocol parser to a
synchronous handler, as bytes.

Why: for every message nats-py parses the header block into a dict (character by character,
~8 us for a log message carrying ``Nats-Msg-Id``), builds a ``Msg``, puts it on the
subscription's ``asyncio.Queue`` and has the subscription's task take it off and await the
callback. On the hot paths (the actor's fold of its log, the log's acknowledgements of
decisions) that was about half of the time per message, more than the fold itself. A raw
handler is called from the parser with ``(subject, reply, data, headers)`` as the server sent
them; it must not block and must not raise (an exception is logged and the message dropped, so
one bad message cannot stop the connection's read loop).

The subscription is an ordinary nats-py subscription (so it is re-subscribed after a reconnect
and unsubscribed as usual); only its messages take the short way. nats-py has no public hook
for this: the connection's ``_process_msg`` (called by the parser for every ``MSG``/``HMSG``)
is wrapped once per connection. The wrapper is checked by the raw-delivery tests, which fail
if a nats-py release changes that call.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from nats.aio.client import Client
from nats.aio.subscription import Subscription

from events.raw_publish import publish_now

log = logging.getLogger("llmopt.nats")

RawHandler = Callable[[bytes, bytes, bytes, bytes], None]
"""Called with (subject, reply, payload, raw header block or b"") for every message."""

_HANDLERS: Final = "_llmopt_raw_handlers"


def _handlers(nc: Client) -> dict[int, RawHandler]:
    """The connection's raw handlers by subscription id; wraps ``_process_msg`` the first
    time."""
    handlers: dict[int, RawHandler] | None = getattr(nc, _HANDLERS, None)
    if handlers is not None:
        return handlers
    table: dict[int, RawHandler] = {}
    original: Callable[..., Awaitable[None]] = nc._process_msg  # takes headers=None too

    async def process_msg(
        sid: int, subject: bytes, reply: bytes, data: bytes, headers: bytes | None
    ) -> None:
        handler = table.get(sid)
        if handler is None:
            await original(sid, subject, reply, data, headers)
            return
        try:
            handler(subject, reply, data, headers or b"")
        except Exception:
            log.exception("raw message handler failed; message dropped", extra={"sid": sid})

    setattr(nc, _HANDLERS, table)
    nc._process_msg = process_msg  # type: ignore[method-assign]
    return table


async def subscribe_raw(
    nc: Client, subject: str, handler: RawHandler, *, queue: str = ""
) -> Subscription:
    """Subscribe ``handler`` to ``subject`` (in queue group ``queue``, if given); unsubscribe
    with :func:`unsubscribe_raw`."""

    async def unused(_msg: Any) -> None:  # nats-py wants a callback; raw messages skip it
        return None

    sub = await nc.subscribe(subject, queue=queue, cb=unused)
    _handlers(nc)[sub._id] = handler
    return sub


async def unsubscribe_raw(nc: Client, sub: Subscription) -> None:
    _handlers(nc).pop(sub._id, None)
    await sub.unsubscribe()


def status_of(headers: bytes) -> str | None:
    """The status code of a header block that carries one (``NATS/1.0 404 No Messages``)."""
    if headers[8:9] != b" ":
        return None
    code = headers[9:12]
    return code.decode("ascii") if code.isdigit() else None


def parse_headers(raw: bytes) -> dict[str, str] | None:
    """The header block as a dict (what nats-py gives ``Msg.headers``): the status line is
    dropped, ``Name: value`` lines kept; None for an empty block."""
    if not raw:
        return None
    headers: dict[str, str] = {}
    for line in raw.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep and name.strip():
            headers[name.strip().decode("ascii", "replace")] = value.strip().decode(
                "utf-8", "replace"
            )
    return headers


class RawMsg:
    """A request taken raw, with what a responder needs of nats-py's ``Msg``: its body, its
    headers (parsed only when asked for) and :meth:`respond`."""

    __slots__ = ("_headers", "_raw_headers", "data", "nc", "reply")

    def __init__(self, nc: Client, reply: bytes, data: bytes, headers: bytes) -> None:
        self.nc = nc
        self.reply = reply.decode()
        self.data = data
        self._raw_headers = headers
        self._headers: dict[str, str] | None = None

    @property
    def headers(self) -> dict[str, str] | None:
        if self._headers is None and self._raw_headers:
            self._headers = parse_headers(self._raw_headers)
        return self._headers

    def respond_now(self, data: bytes) -> bool:
        """Buffer the reply without awaiting; False when the caller must :meth:`respond`."""
        return publish_now(self.nc, self.reply, data)

    async def respond(self, data: bytes) -> None:
        if not self.respond_now(data):
            await self.nc.publish(self.reply, data)
