"""A minimal NATS client for the decision benchmark's load generator: the raw client protocol
over one TCP connection, so that the generator's own CPU stays small next to the service it
measures on the same two cores.

Why not nats-py there: per message nats-py builds a ``Msg`` object, decodes its subject to
``str``, queues it to a per-subscription task that awaits the callback coroutine, and hands
every publish to a flusher task through another queue. In the decision benchmark at 5,000
requests/s that cost the generator ~37% of a core (~74 us per request) on a machine whose
other core and a half the actor and nats-server were using, so part of the latency reported
was the generator's own queueing, which a production client on another machine would not add.
Here a read is parsed in place (:class:`ServerProtocolParser`) and each message goes to a
synchronous ``handler(subject, payload, headers)`` with no task or object per message; a read
is timestamped once (:attr:`NatsClient.read_at`, ``time.perf_counter()`` on arrival, not when a
callback got scheduled); publishes made within one loop iteration leave in one
``transport.write``.

What that buys, measured on this 2-core VM against a responder that answers at once (so only
the generator differs): requests paced at 5,000/s cost 70-72 us each instead of 99-104 us
(35% of a core instead of 50%); 64 requests in flight cost 3.3 us each instead of 9.1 us
(112,000/s instead of 78,000/s). At a fixed rate what remains is mostly the price of waking
up: two event-loop wake-ups per request (the send's timer, the reply's read) that pacing cannot
share -- an asyncio loop doing nothing but waking 5,000 times a second uses ~22% of a core on
this VM -- and one send(2) per request, which on loopback also runs nats-server's TCP receive
path.

What it speaks (https://docs.nats.io/reference/reference-protocols/nats-protocol): ``INFO``,
``CONNECT`` (verbose and pedantic off, headers and no_responders on, so a request nobody
subscribes to is answered at once by the server's ``HMSG ... NATS/1.0 503``), ``PING``/``PONG``
both ways, ``SUB``/``UNSUB``, ``PUB``, and ``MSG``/``HMSG`` from the server. No TLS, no
reconnect, no JetStream: a benchmark run that loses its connection or gets ``-ERR`` fails with
the reason instead of carrying on. Every wait has a timeout.

This module imports nothing from the project, so tests import it as ``scripts.bench_nats_client``
and the benchmark (which runs with ``scripts/`` on ``sys.path``) as ``bench_nats_client``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

CRLF = b"\r\n"
MAX_CONTROL_LINE = 64 * 1024
"""Longest control line accepted (an ``INFO`` listing a cluster's URLs is the longest one)."""
CLIENT_NAME = "llmopt-bench"

T = TypeVar("T")
Handler = Callable[[bytes, bytes, bytes | None], None]
"""A subscription's handler: ``(subject, payload, headers)``; ``headers`` is the raw header
block of an ``HMSG`` (``b"NATS/1.0 503\\r\\n\\r\\n"``...) and None for a ``MSG``."""


class NatsClientError(Exception):
    """Anything that ends a benchmark client's run; the message says what happened."""


class NatsProtocolError(NatsClientError):
    """The server sent bytes that are not the NATS protocol (or a frame this client cannot read)."""


class NatsServerError(NatsClientError):
    """The server answered ``-ERR``."""


class NatsConnectionLost(NatsClientError):
    """The TCP connection closed while the run still needed it."""


class NatsTimeout(NatsClientError, TimeoutError):
    """An awaited answer (INFO, PONG, a request's reply) did not come in time."""


class NoResponders(NatsClientError):
    """A request's subject had no subscriber (the server's 503 status reply)."""


class FrameSink(Protocol):
    """What :class:`ServerProtocolParser` hands each parsed frame to."""

    def on_msg(
        self, sid: int, subject: bytes, reply: bytes, headers: bytes | None, payload: bytes
    ) -> None: ...

    def on_ping(self) -> None: ...

    def on_pong(self) -> None: ...

    def on_info(self, info: dict[str, Any]) -> None: ...

    def on_err(self, message: str) -> None: ...


def header_status(headers: bytes | None) -> int | None:
    """The status code of a header block's first line (``NATS/1.0 503`` -> 503), if it has one."""
    if headers is None or not headers.startswith(b"NATS/1.0 "):
        return None
    code = headers[9:12]
    return int(code) if code.isdigit() else None


class ServerProtocolParser:
    """Turns the byte stream a NATS server sends into frames, with no I/O of its own.

    ``feed`` takes whatever one read returned: several frames, part of one, or the rest of one
    and the start of the next. Frames are parsed straight out of the read's ``bytes`` (the
    subject and payload are slices of it); bytes of an unfinished frame are kept, and once a
    ``MSG``/``HMSG`` control line has said how long the frame is, further reads are only
    collected until that many bytes are there and joined once -- a large payload arriving in
    many reads is not re-copied on each.
    """

    __slots__ = ("_chunks", "_have", "_need", "_sink")

    def __init__(self, sink: FrameSink) -> None:
        self._sink = sink
        self._chunks: list[bytes] = []
        """Bytes of the unfinished frame at the stream's head, in arrival order."""
        self._have = 0
        self._need = 0
        """Length of that whole frame once its control line is known; 0 while it is not."""

    @property
    def buffered(self) -> int:
        """Bytes held of a frame not yet complete (0 between frames)."""
        return self._have

    def feed(self, data: bytes) -> None:
        """Parse ``data`` (one read) and hand every complete frame to the sink, in order."""
        if self._chunks:
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return
            data = b"".join(self._chunks)
            self._chunks.clear()
        self._need = 0
        self._have = 0
        rest = self._parse(data)
        if rest < len(data):
            tail = data[rest:] if rest else data
            self._chunks.append(tail)
            self._have = len(tail)

    def _parse(self, buf: bytes) -> int:
        """Parse whole frames from ``buf``; returns where the first incomplete one starts."""
        sink = self._sink
        size = len(buf)
        pos = 0
        while pos < size:
            end = buf.find(CRLF, pos)
            if end < 0:
                if size - pos > MAX_CONTROL_LINE:
                    raise NatsProtocolError(
                        f"no end of line within {MAX_CONTROL_LINE:,} bytes from the server: "
                        f"{buf[pos : pos + 40]!r}..."
                    )
                return pos
            if buf.startswith(b"MSG ", pos):
                args = buf[pos + 4 : end].split()
                if len(args) == 3:
                    subject, sid, length = args
                    reply = b""
                elif len(args) == 4:
                    subject, sid, reply, length = args
                else:
                    raise self._malformed(buf, pos, end)
                if not (sid.isdigit() and length.isdigit()):
                    raise self._malformed(buf, pos, end)
                start = end + 2
                stop = start + int(length)
                if stop + 2 > size:
                    self._need = stop + 2 - pos
                    return pos
                if not buf.startswith(CRLF, stop):
                    raise self._unterminated(buf, pos, end)
                pos = stop + 2
                sink.on_msg(int(sid), subject, reply, None, buf[start:stop])
            elif buf.startswith(b"HMSG ", pos):
                args = buf[pos + 5 : end].split()
                if len(args) == 4:
                    subject, sid, header_length, length = args
                    reply = b""
                elif len(args) == 5:
                    subject, sid, reply, header_length, length = args
                else:
                    raise self._malformed(buf, pos, end)
                if not (sid.isdigit() and header_length.isdigit() and length.isdigit()):
                    raise self._malformed(buf, pos, end)
                if int(header_length) > int(length):
                    raise self._malformed(buf, pos, end)
                start = end + 2
                split = start + int(header_length)
                stop = start + int(length)
                if stop + 2 > size:
                    self._need = stop + 2 - pos
                    return pos
                if not buf.startswith(CRLF, stop):
                    raise self._unterminated(buf, pos, end)
                pos = stop + 2
                sink.on_msg(int(sid), subject, reply, buf[start:split], buf[split:stop])
            else:
                line = buf[pos:end]
                pos = end + 2
                if line == b"PING":
                    sink.on_ping()
                elif line == b"PONG":
                    sink.on_pong()
                elif line == b"+OK":
                    pass
                elif line.startswith(b"-ERR"):
                    sink.on_err(line[4:].strip().strip(b"'").decode("utf-8", "replace"))
                elif line.startswith(b"INFO "):
                    try:
                        info = json.loads(line[5:])
                    except ValueError as exc:
                        raise NatsProtocolError(f"unreadable INFO from the server: {exc}") from exc
                    if not isinstance(info, dict):
                        raise NatsProtocolError(f"INFO is not a JSON object: {line[:80]!r}")
                    sink.on_info(info)
                else:
                    raise NatsProtocolError(f"unknown operation from the server: {line[:80]!r}")
        return pos

    @staticmethod
    def _malformed(buf: bytes, pos: int, end: int) -> NatsProtocolError:
        return NatsProtocolError(f"malformed control line from the server: {buf[pos:end]!r}")

    @staticmethod
    def _unterminated(buf: bytes, pos: int, end: int) -> NatsProtocolError:
        return NatsProtocolError(
            f"payload not followed by CRLF where its control line said: {buf[pos:end]!r}"
        )


class NatsClient(asyncio.Protocol):
    """One connection to nats-server, speaking the protocol itself (see the module docstring).

    Handlers run synchronously inside ``data_received``; what they publish is written once at
    the end of that read. Publishes from anywhere else are buffered until the end of the loop
    iteration (``call_soon``) or until :meth:`send_buffered`. A lost connection or a ``-ERR``
    is kept in :attr:`failure`: every later call raises it and every pending wait ends with it.
    """

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self.read_at = 0.0
        """``time.perf_counter()`` when the read being handled arrived (one per read)."""
        self.failure: NatsClientError | None = None
        self.server_errors: list[str] = []
        self.max_payload = 1024 * 1024
        self.info: dict[str, Any] = {}
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = ServerProtocolParser(self)
        self._out: list[bytes] = []
        self._write_scheduled = False
        self._handlers: dict[int, Handler] = {}
        self._sids = itertools.count(1)
        self._info_received: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pongs: collections.deque[asyncio.Future[None]] = collections.deque()
        self._lost: asyncio.Future[None] = loop.create_future()
        self._closing = False
        self._inbox = b"_INBOX." + uuid.uuid4().hex.encode() + b"."
        self._inbox_sid = 0
        self._responses: dict[bytes, asyncio.Future[bytes]] = {}
        self._tokens = itertools.count()

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self.read_at = time.perf_counter()
        self._write_scheduled = True  # handlers' publishes are written below, not next iteration
        try:
            self._parser.feed(data)
        except NatsClientError as exc:
            self._fail(exc)
        except Exception as exc:  # a handler's bug: end the run with it, not a silent stall
            self._fail(NatsClientError(f"a message handler failed: {exc!r}"))
        self._write_out()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._closing:
            reason = f": {exc}" if exc else " (closed by the server)"
            self._fail(
                NatsConnectionLost(f"the connection to nats-server at {self.url} was lost{reason}")
            )
        if not self._lost.done():
            self._lost.set_result(None)

    # -- FrameSink ----------------------------------------------------------------------------

    def on_msg(
        self, sid: int, subject: bytes, reply: bytes, headers: bytes | None, payload: bytes
    ) -> None:
        handler = self._handlers.get(sid)
        if handler is not None:  # None: a message already in flight when we unsubscribed
            handler(subject, payload, headers)

    def on_ping(self) -> None:
        self._out.append(b"PONG\r\n")

    def on_pong(self) -> None:
        if self._pongs:
            waiter = self._pongs.popleft()
            if not waiter.done():
                waiter.set_result(None)

    def on_info(self, info: dict[str, Any]) -> None:
        self.info = info
        self.max_payload = int(info.get("max_payload", self.max_payload))
        if not self._info_received.done():
            self._info_received.set_result(info)

    def on_err(self, message: str) -> None:
        self.server_errors.append(message)
        self._fail(NatsServerError(f"nats-server at {self.url} answered -ERR '{message}'"))

    # -- the client's API ---------------------------------------------------------------------

    def subscribe(self, subject: bytes, handler: Handler) -> int:
        """Subscribe ``handler`` to ``subject`` (wildcards allowed); returns the sid."""
        self._check()
        sid = next(self._sids)
        self._handlers[sid] = handler
        self._buffer(b"SUB %b %d\r\n" % (subject, sid))
        return sid

    def unsubscribe(self, sid: int) -> None:
        self._handlers.pop(sid, None)
        if self.failure is None and not self._closing:
            self._buffer(b"UNSUB %d\r\n" % sid)

    def publish(self, subject: bytes, payload: bytes, reply: bytes = b"") -> None:
        """Buffer a ``PUB``; it leaves with the others of this loop iteration in one write."""
        if self.failure is not None:
            raise self.failure
        if len(payload) > self.max_payload:
            raise NatsClientError(
                f"a {len(payload):,}-byte payload exceeds the server's max_payload "
                f"({self.max_payload:,} bytes)"
            )
        out = self._out
        if reply:
            out.append(b"PUB %b %b %d\r\n" % (subject, reply, len(payload)))
        else:
            out.append(b"PUB %b %d\r\n" % (subject, len(payload)))
        out.append(payload)
        out.append(CRLF)
        if not self._write_scheduled:
            self._write_scheduled = True
            self._loop.call_soon(self._write_out)

    def send_buffered(self) -> None:
        """Write what is buffered now, instead of at the end of the loop iteration."""
        self._check()
        self._write_out()

    @contextlib.contextmanager
    def coalescing(self) -> Iterator[None]:
        """Publishes inside the block leave in one write as it ends. Unlike publishing and
        then :meth:`send_buffered`, nothing is scheduled for the next loop iteration, which
        would cost the paced sender an extra pass of the loop (a select(2) call) per send."""
        self._write_scheduled = True
        try:
            yield
        finally:
            self._write_out()

    async def flush(self, within_s: float = 5.0) -> None:
        """Round trip a ``PING``: everything written before it has been processed by the server."""
        self._check()
        waiter: asyncio.Future[None] = self._loop.create_future()
        self._pongs.append(waiter)
        self._buffer(b"PING\r\n")
        self._write_out()
        await self._wait(waiter, within_s, "PONG")

    async def request(self, subject: bytes, payload: bytes, within_s: float) -> bytes:
        """Publish with a reply subject of this client's inbox and return the reply's payload.

        Raises :class:`NoResponders` when the server says nobody subscribes to ``subject``.
        """
        if not self._inbox_sid:
            self._inbox_sid = self.subscribe(self._inbox + b"*", self._on_response)
        token = b"%d" % next(self._tokens)
        waiter: asyncio.Future[bytes] = self._loop.create_future()
        self._responses[token] = waiter
        try:
            self.publish(subject, payload, self._inbox + token)
            return await self._wait(waiter, within_s, f"reply to {subject.decode()}")
        finally:
            self._responses.pop(token, None)

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep`` that ends early, raising why, when the connection fails."""
        self._check()
        await asyncio.wait({self._lost}, timeout=seconds)
        self._check()

    async def wait_until(self, event: asyncio.Event, within_s: float) -> bool:
        """Wait for ``event`` up to ``within_s`` s; False if it timed out, raises if the
        connection failed meanwhile."""
        if not event.is_set():
            waiter: asyncio.Future[Any] = asyncio.ensure_future(event.wait())
            either: set[asyncio.Future[Any]] = {waiter, self._lost}
            try:
                await asyncio.wait(either, timeout=within_s, return_when="FIRST_COMPLETED")
            finally:
                waiter.cancel()
        self._check()
        return event.is_set()

    async def close(self, within_s: float = 5.0) -> None:
        """Write what is buffered and close; a failure seen before stays in :attr:`failure`."""
        self._closing = True
        if self._transport is not None:
            if self._out:
                self._write_out()
            self._transport.close()
            await asyncio.wait({self._lost}, timeout=within_s)

    # -- internals ----------------------------------------------------------------------------

    def _on_response(self, subject: bytes, payload: bytes, headers: bytes | None) -> None:
        waiter = self._responses.pop(subject[len(self._inbox) :], None)
        if waiter is None or waiter.done():
            return  # a reply after its request timed out
        if header_status(headers) == 503:
            waiter.set_exception(NoResponders(f"no responders on the subject of {subject!r}"))
        else:
            waiter.set_result(payload)

    def _buffer(self, command: bytes) -> None:
        self._out.append(command)
        if not self._write_scheduled:
            self._write_scheduled = True
            self._loop.call_soon(self._write_out)

    def _write_out(self) -> None:
        self._write_scheduled = False
        if not self._out or self._transport is None or self._transport.is_closing():
            return
        data = b"".join(self._out)
        self._out.clear()
        self._transport.write(data)

    def _check(self) -> None:
        if self.failure is not None:
            raise self.failure
        if self._closing:
            raise NatsClientError(f"the client of {self.url} is closed")

    async def _wait(self, waiter: asyncio.Future[T], within_s: float, what: str) -> T:
        try:
            return await asyncio.wait_for(waiter, within_s)
        except TimeoutError:
            self._check()
            raise NatsTimeout(
                f"no {what} from nats-server at {self.url} within {within_s:g} s"
            ) from None

    def _fail(self, failure: NatsClientError) -> None:
        """Keep the first failure, end every wait with it and drop the connection."""
        if self.failure is None:
            self.failure = failure
        waiters: list[asyncio.Future[Any]] = [self._info_received, *self._pongs]
        waiters.extend(self._responses.values())
        self._pongs.clear()
        for waiter in waiters:
            if not waiter.done():
                waiter.set_exception(self.failure)
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


async def connect(
    url: str,
    name: str = CLIENT_NAME,
    within_s: float = 5.0,
    client_class: type[NatsClient] = NatsClient,
) -> NatsClient:
    """Open a connection to ``url`` (``nats://host:port``, optional ``user:pass@`` or
    ``token@``), send ``CONNECT`` and wait for the server's ``PONG`` to the first ``PING``.
    ``client_class`` is a :class:`NatsClient` subclass to connect with (a responder's).

    The ``PING`` round trip is what tells that the server took the ``CONNECT``: with verbose
    off it only answers a refused one, with ``-ERR``.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("nats", ""):
        raise NatsClientError(f"unsupported scheme in {url!r}: only nats:// (no TLS)")
    loop = asyncio.get_running_loop()
    client = client_class(url, loop)
    try:
        await asyncio.wait_for(
            loop.create_connection(
                lambda: client, parts.hostname or "127.0.0.1", parts.port or 4222
            ),
            within_s,
        )
    except (OSError, TimeoutError) as exc:
        raise NatsClientError(f"cannot connect to nats-server at {url}: {exc!r}") from exc
    try:
        info = await client._wait(client._info_received, within_s, "INFO")
        if info.get("tls_required"):
            raise NatsClientError(f"nats-server at {url} requires TLS, which this client lacks")
        options: dict[str, Any] = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "protocol": 1,
            "lang": "python-raw",
            "version": "0",
            "name": name,
        }
        if parts.username and parts.password is not None:
            options["user"] = urllib.parse.unquote(parts.username)
            options["pass"] = urllib.parse.unquote(parts.password)
        elif parts.username:
            options["auth_token"] = urllib.parse.unquote(parts.username)
        client._buffer(b"CONNECT " + json.dumps(options).encode() + CRLF)
        await client.flush(within_s)
    except BaseException:
        await client.close()
        raise
    return client
