"""Connecting to NATS: one place that turns :class:`Settings` into a live nats-py client.

Every component (gateway, Ray actors, CLI) connects through :func:`connect`, so credentials,
TLS and the reconnect policy cannot drift between them. The policy is "reconnect forever":
the event log is the source of truth and a component that gave up after a NATS restart would
silently stop consuming it; callers that need bounded waits put timeouts on their requests.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable

import nats.aio.client
import nats.errors

from gateway.nats_server import EmbeddedNatsServer
from llmopt.settings import Settings

__all__ = ["NatsConnectError", "build_tls_context", "connect", "start_or_connect"]

logger = logging.getLogger("llmopt.nats")

RECONNECT_TIME_WAIT_S = 0.25
"""Short, because the usual cause of a disconnect is a restart of a local server that is
back within a second; waiting the nats-py default of 2 s would stall every actor for it."""


class NatsConnectError(ConnectionError):
    """The first connection to NATS could not be established (unreachable or refused)."""


def redact_url(url: str) -> str:
    """``url`` without user/password/token, so that it can be logged."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def build_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """An SSL context from ``nats_tls_ca`` / ``nats_tls_cert`` / ``nats_tls_key``, if any is set.

    The CA alone verifies a server with a private CA; cert + key add mutual TLS. Without a
    CA the system trust store is used, so a publicly signed server needs only the flag that
    turns TLS on (any of the three).
    """
    ca, cert, key = settings.nats_tls_ca, settings.nats_tls_cert, settings.nats_tls_key
    if ca is None and cert is None and key is None:
        return None
    if key is not None and cert is None:
        raise ValueError("nats_tls_key is set without nats_tls_cert")
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=None if ca is None else str(ca)
    )
    if cert is not None:
        context.load_cert_chain(certfile=str(cert), keyfile=None if key is None else str(key))
    return context


def _is_auth_error(error: Exception) -> bool:
    """Whether ``error`` is the server refusing our credentials (retrying will not help)."""
    if isinstance(error, nats.errors.AuthorizationError):
        return True
    text = str(error).lower()
    return "authorization violation" in text or "authentication" in text


class _ConnectionLog:
    """The nats-py callbacks: log connection state changes and catch a refused first connect.

    nats-py with ``max_reconnect_attempts=-1`` retries the *first* connection forever too,
    including after the server rejected the credentials; these callbacks let :func:`connect`
    end that early instead of hanging.
    """

    def __init__(
        self,
        client: nats.aio.client.Client,
        url: str,
        on_reconnect: Callable[[], Awaitable[None]] | None,
    ) -> None:
        self.client = client
        self.url = redact_url(url)
        self.on_reconnect = on_reconnect
        self.connected = False
        self.last_error: Exception | None = None
        self.auth_failed = asyncio.Event()

    async def on_error(self, error: Exception) -> None:
        self.last_error = error
        if not self.connected:
            logger.debug("connecting to NATS at %s failed: %r", self.url, error)
            if _is_auth_error(error):
                self.auth_failed.set()
            return
        logger.warning("NATS error on %s: %r", self.url, error)

    async def on_disconnected(self) -> None:
        # nats-py also reports a disconnect when we close the client ourselves.
        if self.connected and not self.client.is_closed:
            logger.warning("disconnected from NATS at %s; reconnecting", self.url)

    async def on_reconnected(self) -> None:
        logger.info("reconnected to NATS at %s", self.url)
        if self.on_reconnect is not None:
            await self.on_reconnect()

    async def on_closed(self) -> None:
        if self.connected:
            logger.info("NATS connection to %s closed", self.url)


async def connect(
    settings: Settings,
    *,
    url: str | None = None,
    name: str = "llmopt",
    connect_timeout: float = 10.0,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
) -> nats.aio.client.Client:
    """Connect to ``url`` (default ``settings.nats_url``) with the settings' credentials.

    The first connection is retried for up to ``connect_timeout`` seconds (the server may
    still be starting), but rejected credentials fail at once with :class:`PermissionError`.
    Once connected, the client reconnects forever, every ``RECONNECT_TIME_WAIT_S``, and
    awaits ``on_reconnect`` after each reconnection. Requests that were in flight when the
    connection dropped are lost with the socket (core NATS is at-most-once) and time out;
    publishers retry them with the same ``Nats-Msg-Id`` so JetStream drops the duplicates.
    """
    target = url or settings.nats_url
    if not target:
        raise ValueError(
            "no NATS URL: pass url=... or set nats_url (LLMOPT_NATS_URL), "
            "or use start_or_connect() to start the embedded server"
        )
    creds = settings.nats_creds
    if creds is not None and not creds.is_file():
        raise FileNotFoundError(f"NATS credentials file not found: {creds}")

    client = nats.aio.client.Client()
    log = _ConnectionLog(client, target, on_reconnect)
    attempt = asyncio.create_task(
        client.connect(
            servers=[target],
            name=name,
            user=settings.nats_user,
            password=settings.nats_password,
            token=settings.nats_token,
            user_credentials=None if creds is None else str(creds),
            tls=build_tls_context(settings),
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            # nats-py annotates these two as int but uses them as float seconds throughout.
            reconnect_time_wait=RECONNECT_TIME_WAIT_S,  # type: ignore[arg-type]
            connect_timeout=min(2.0, connect_timeout),  # type: ignore[arg-type]
            error_cb=log.on_error,
            disconnected_cb=log.on_disconnected,
            reconnected_cb=log.on_reconnected,
            closed_cb=log.on_closed,
        )
    )
    refused = asyncio.create_task(log.auth_failed.wait())
    try:
        await asyncio.wait(
            {attempt, refused}, timeout=connect_timeout, return_when=asyncio.FIRST_COMPLETED
        )
    except BaseException:
        attempt.cancel()  # our caller was cancelled: do not leave a retry loop behind
        raise
    finally:
        refused.cancel()
    if attempt.done() and not attempt.cancelled() and attempt.exception() is None:
        log.connected = True
        logger.info("connected to NATS at %s as %r", log.url, name)
        return client

    attempt.cancel()
    await asyncio.gather(attempt, return_exceptions=True)
    await client.close()
    if attempt.done() and not attempt.cancelled() and attempt.exception() is not None:
        raise NatsConnectError(
            f"could not connect to NATS at {log.url}: {attempt.exception()!r}"
        ) from attempt.exception()
    if log.auth_failed.is_set():
        raise PermissionError(
            f"NATS at {log.url} rejected the credentials: {log.last_error!r}"
        ) from log.last_error
    raise NatsConnectError(
        f"could not connect to NATS at {log.url} within {connect_timeout}s "
        f"(last error: {log.last_error!r})"
    ) from log.last_error


def start_or_connect(settings: Settings) -> tuple[str, EmbeddedNatsServer | None]:
    """The NATS URL to use, starting the embedded server if no ``nats_url`` is configured.

    Returns ``(url, server)``; ``server`` is ``None`` for an external NATS and otherwise the
    running embedded server, which the caller owns and must :meth:`~EmbeddedNatsServer.stop`
    (after draining its clients, so that in-flight acks are not lost to the shutdown).
    Blocking: call it before the event loop starts or via ``asyncio.to_thread``.
    """
    if settings.nats_url:
        return settings.nats_url, None
    server = EmbeddedNatsServer(
        settings.nats_data_dir,
        port=settings.nats_port,
        sync_interval=settings.nats_sync_interval,
        max_payload=settings.nats_max_payload,
        gomaxprocs=settings.nats_gomaxprocs,
    )
    server.start()
    return server.url, server
