"""Publishing on the decision path without nats-py's per-call work.

Why: ``Client.publish`` is a coroutine that validates both subjects, builds the header block
through a regular expression per header, and, whenever the flusher is idle, creates a future
and awaits putting it on the flusher's queue. A lone decision publishes twice (its log message,
its reply); at 5,000 decisions/s that was ~6% of the actor's CPU in a profile. Here the
command bytes go straight onto the connection's outgoing buffer, and one callback per loop
turn writes that buffer to the socket (:func:`_write_pending`), as the flusher task would.

Only the decision path uses this, with subjects it built itself (the log's, its own inbox's)
or that the server delivered (a requester's reply subject). Whenever nats-py would do more
than append (closed, draining, reconnecting, buffer over its limit, payload over the
server's limit), :func:`publish_now` returns False and the caller awaits ``Client.publish``,
so those cases behave exactly as nats-py's. The attributes used are private; the raw-publish
tests fail if a nats-py release changes them (nats-py is pinned to 2.16.x).
"""

from __future__ import annotations

import asyncio
from typing import Final

from nats.aio.client import Client
from nats.aio.transport import TcpTransport

_CRLF: Final = b"\r\n"
_WRITE_SCHEDULED: Final = "_llmopt_write_scheduled"
WRITE_BUFFER_LIMIT: Final = 1024 * 1024
"""Bytes the socket may hold unsent before raw publishes leave the writing to nats-py's
flusher, whose ``drain`` waits for the socket (the backpressure a direct write skips)."""


def header_block(headers: dict[str, str]) -> bytes | None:
    """A ``NATS/1.0`` header block, or None when a name or value could break the framing (the
    caller then lets nats-py encode or refuse it)."""
    parts = [b"NATS/1.0\r\n"]
    for name, value in headers.items():
        if not name.isascii() or not name.isprintable() or ":" in name or " " in name:
            return None
        if "\r" in value or "\n" in value:
            return None
        parts.append(f"{name}: {value}\r\n".encode())
    parts.append(_CRLF)
    return b"".join(parts)


def publish_now(
    nc: Client, subject: str, payload: bytes, *, reply: str = "", headers: bytes = b""
) -> bool:
    """Queue one ``PUB`` (or ``HPUB`` with the ``headers`` block) and wake the flusher; False
    (nothing queued) when the caller must await ``nc.publish`` instead."""
    if (
        not nc.is_connected
        or nc.is_draining_pubs
        or len(payload) > nc._max_payload
        or nc._pending_data_size > nc._max_pending_size > 0
    ):
        return False
    if headers:
        head = f"HPUB {subject} {reply} {len(headers)} {len(headers) + len(payload)}\r\n"
        command = b"".join((head.encode(), headers, payload, _CRLF))
    else:
        command = b"".join((f"PUB {subject} {reply} {len(payload)}\r\n".encode(), payload, _CRLF))
    nc._pending.append(command)
    nc._pending_data_size += len(command)
    nc.stats["out_msgs"] += 1
    nc.stats["out_bytes"] += len(payload)
    if not getattr(nc, _WRITE_SCHEDULED, False):
        setattr(nc, _WRITE_SCHEDULED, True)
        asyncio.get_running_loop().call_soon(_write_pending, nc)
    return True


def _write_pending(nc: Client) -> None:
    """Write what is buffered, once per loop turn, from a callback: what nats-py's flusher
    does, without waking its task (a queue hand-off and task steps per write). Measured at
    5,000 decisions/s: the actor's plumbing alone (``scripts/bench_floor.py``) went from 57%
    to 52% of a core; the actor, three alternated runs each, from p50 0.97-1.67 / p99
    4.50-5.13 ms to 0.82-0.91 / 4.03-4.67 ms. The flusher stays in charge whenever this would
    do more than write: not connected, not a TCP connection (plain or TLS; a WebSocket one
    keeps nats-py's path), or a socket holding ``WRITE_BUFFER_LIMIT`` bytes it has not sent
    yet."""
    setattr(nc, _WRITE_SCHEDULED, False)
    if not nc._pending_data_size:
        return  # the flusher wrote it already
    transport = nc._transport
    writer = transport._io_writer if isinstance(transport, TcpTransport) else None
    if (
        nc.is_connected
        and writer is not None
        and writer.transport.get_write_buffer_size() < WRITE_BUFFER_LIMIT
    ):
        try:
            writer.writelines(nc._pending)
        except OSError:
            pass  # nats-py's flusher writes it again and handles the error as it always does
        else:
            nc._pending = []
            nc._pending_data_size = 0
            return
    queue = nc._flush_queue
    if queue is not None and queue.empty():
        queue.put_nowait(
            asyncio.get_running_loop().create_future()
        )  # the flusher resolves it after writing
