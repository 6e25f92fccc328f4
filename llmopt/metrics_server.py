"""The HTTP endpoint of ``llmopt serve --metrics-port``: ``/metrics``, ``/healthz``, ``/readyz``.

``/metrics`` is prometheus-client's exposition of the process registry. ``/healthz`` answers
200 while the process serves HTTP at all (liveness). ``/readyz`` answers 200 only while every
registered readiness check passes, else 503 with the failing checks named, so a load
balancer sends no traffic to a process that has not connected or caught up yet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app

Check = Callable[[], bool]
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds would flood stderr; the JSON logs say what matters."""


class MetricsServer:
    """Serves the registry and the probes from a background thread."""

    def __init__(
        self, port: int, *, addr: str = "127.0.0.1", registry: CollectorRegistry = REGISTRY
    ) -> None:
        self.addr = addr
        self.requested_port = port
        self.checks: dict[str, Check] = {}
        self._metrics = make_wsgi_app(registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def add_check(self, name: str, check: Check) -> None:
        """``/readyz`` fails while ``check()`` is false (or raises)."""
        self.checks[name] = check

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the metrics server is not running")
        return int(self._server.server_port)

    def start(self) -> int:
        """Bind (port 0 picks a free one) and serve; returns the port."""
        self._server = make_server(
            self.addr,
            self.requested_port,
            self._app,
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def failing(self) -> list[str]:
        failed = []
        for name, check in self.checks.items():
            try:
                ok = check()
            except Exception:
                ok = False
            if not ok:
                failed.append(name)
        return failed

    def _app(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return _json(start_response, "200 OK", {"status": "ok"})
        if path == "/readyz":
            failed = self.failing()
            if failed:
                return _json(
                    start_response,
                    "503 Service Unavailable",
                    {"status": "not ready", "failing": failed},
                )
            return _json(start_response, "200 OK", {"status": "ready"})
        result: Iterable[bytes] = self._metrics(environ, start_response)
        return result


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
