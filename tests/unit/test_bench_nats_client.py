"""The benchmark's raw NATS client: its parser on bytes as reads deliver them, and the client's
answers to frames, on a recording transport (no socket, no server)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts.bench_nats_client import (
    MAX_CONTROL_LINE,
    NatsClient,
    NatsConnectionLost,
    NatsProtocolError,
    NatsServerError,
    NatsTimeout,
    NoResponders,
    ServerProtocolParser,
    header_status,
)
from tests.strategies import DETERMINISTIC

Frame = tuple[Any, ...]


class Recorder:
    """A FrameSink that keeps every frame it is handed, in order."""

    def __init__(self) -> None:
        self.frames: list[Frame] = []

    def on_msg(
        self, sid: int, subject: bytes, reply: bytes, headers: bytes | None, payload: bytes
    ) -> None:
        self.frames.append(("msg", sid, subject, reply, headers, payload))

    def on_ping(self) -> None:
        self.frames.append(("ping",))

    def on_pong(self) -> None:
        self.frames.append(("pong",))

    def on_info(self, info: dict[str, Any]) -> None:
        self.frames.append(("info", info))

    def on_err(self, message: str) -> None:
        self.frames.append(("err", message))


def hmsg(subject: bytes, sid: int, headers: bytes, payload: bytes, reply: bytes = b"") -> bytes:
    reply_part = b" " + reply if reply else b""
    return (
        b"HMSG %b %d%b %d %d\r\n"
        % (subject, sid, reply_part, len(headers), len(headers) + len(payload))
        + headers
        + payload
        + b"\r\n"
    )


NO_RESPONDERS = b"NATS/1.0 503\r\n\r\n"
HEADERS = b"NATS/1.0\r\nNats-Msg-Id: 7\r\n\r\n"
BODY = b'{"decision_id":"x:1","arm":"gpt-4o","propensity":1.0,"note":"a\r\nb"}'
"""A payload holding CRLF itself: only the byte count may say where it ends."""

CASES: list[tuple[str, bytes, Frame]] = [
    (
        "MSG",
        b"MSG _BENCH.ab.17 3 %d\r\n%b\r\n" % (len(BODY), BODY),
        ("msg", 3, b"_BENCH.ab.17", b"", None, BODY),
    ),
    (
        "MSG with reply",
        b"MSG llmopt.decide.x 12 _INBOX.q.4 5\r\nhello\r\n",
        ("msg", 12, b"llmopt.decide.x", b"_INBOX.q.4", None, b"hello"),
    ),
    ("MSG empty", b"MSG a.b 1 0\r\n\r\n", ("msg", 1, b"a.b", b"", None, b"")),
    (
        "HMSG no responders",
        hmsg(b"_INBOX.q.9", 2, NO_RESPONDERS, b""),
        ("msg", 2, b"_INBOX.q.9", b"", NO_RESPONDERS, b""),
    ),
    (
        "HMSG with reply and payload",
        hmsg(b"s.t", 5, HEADERS, BODY, reply=b"r.1"),
        ("msg", 5, b"s.t", b"r.1", HEADERS, BODY),
    ),
]
OTHERS: list[tuple[bytes, Frame]] = [
    (b"PING\r\n", ("ping",)),
    (b"PONG\r\n", ("pong",)),
    (b"+OK\r\n", ()),
    (b"-ERR 'Authorization Violation'\r\n", ("err", "Authorization Violation")),
    (
        b'INFO {"server_id":"N1","max_payload":8388608}\r\n',
        ("info", {"server_id": "N1", "max_payload": 8388608}),
    ),
]
STREAM = b"".join([frame for _, frame, _ in CASES] + [frame for frame, _ in OTHERS])
EXPECTED = [parsed for _, _, parsed in CASES] + [parsed for _, parsed in OTHERS if parsed]


def parse(*reads: bytes) -> tuple[list[Frame], ServerProtocolParser]:
    sink = Recorder()
    parser = ServerProtocolParser(sink)
    for read in reads:
        parser.feed(read)
    return sink.frames, parser


class TestParser:
    @pytest.mark.parametrize(
        ("frame", "expected"), [(f, e) for _, f, e in CASES], ids=[c[0] for c in CASES]
    )
    def test_a_frame_split_at_any_byte_parses_the_same(self, frame: bytes, expected: Frame) -> None:
        """A MSG or HMSG cut into two reads at any byte gives the one frame, once, and nothing stays buffered."""
        for cut in range(len(frame) + 1):
            frames, parser = parse(frame[:cut], frame[cut:])
            assert frames == [expected], cut
            assert parser.buffered == 0

    @pytest.mark.parametrize(
        ("frame", "expected"), [(f, e) for _, f, e in CASES], ids=[c[0] for c in CASES]
    )
    def test_nothing_is_handed_on_before_the_last_byte(self, frame: bytes, expected: Frame) -> None:
        """Fed one byte per read, a frame reaches the sink exactly when its final byte arrives."""
        sink = Recorder()
        parser = ServerProtocolParser(sink)
        for i in range(len(frame)):
            parser.feed(frame[i : i + 1])
            assert sink.frames == ([expected] if i == len(frame) - 1 else []), i

    def test_many_frames_in_one_read_come_out_in_order(self) -> None:
        """One read holding every kind of frame yields them all, in stream order."""
        frames, parser = parse(STREAM)
        assert frames == EXPECTED
        assert parser.buffered == 0

    def test_a_read_ending_inside_a_frame_keeps_its_start(self) -> None:
        """Whole frames of a read are handed on at once; the partial last one waits for its rest."""
        first = CASES[0][1]
        second = CASES[3][1]
        frames, parser = parse(first + second[:7])
        assert frames == [CASES[0][2]]
        assert parser.buffered == 7
        parser.feed(second[7:])
        assert parser.buffered == 0

    @DETERMINISTIC
    @given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=20))
    def test_any_partition_of_a_stream_parses_like_the_whole(self, cuts: list[int]) -> None:
        """However a stream of frames is cut into reads, the frames are the same as from one read."""
        bounds = [0, *sorted(cuts), len(STREAM)]
        frames, parser = parse(*(STREAM[a:b] for a, b in itertools.pairwise(bounds)))
        assert frames == EXPECTED
        assert parser.buffered == 0

    def test_a_large_payload_in_many_reads_arrives_whole(self) -> None:
        """A 1 MB payload delivered in 4 KiB reads is one message with every byte in place."""
        payload = bytes(range(256)) * 4096
        frame = b"MSG big 9 %d\r\n%b\r\n" % (len(payload), payload)
        frames, parser = parse(*(frame[i : i + 4096] for i in range(0, len(frame), 4096)))
        assert frames == [("msg", 9, b"big", b"", None, payload)]
        assert parser.buffered == 0

    @pytest.mark.parametrize(
        ("stream", "says"),
        [
            (b"BOGUS 1 2\r\n", "unknown operation"),
            (b"MSG a.b x 5\r\nhello\r\n", "malformed control line"),
            (b"MSG a.b 1 2 3 4 5\r\nhello\r\n", "malformed control line"),
            (b"HMSG a.b 1 20 10\r\n" + b"x" * 10 + b"\r\n", "malformed control line"),
            (b"MSG a.b 1 3\r\nhello\r\n", "not followed by CRLF"),
            (b"INFO {not json\r\n", "unreadable INFO"),
            (b"INFO [1, 2]\r\n", "not a JSON object"),
            (b"M" * (MAX_CONTROL_LINE + 1), "no end of line"),
        ],
    )
    def test_bytes_that_are_not_the_protocol_raise_a_clear_error(
        self, stream: bytes, says: str
    ) -> None:
        """Garbage, a lying byte count or an endless line is a NatsProtocolError that says which."""
        with pytest.raises(NatsProtocolError, match=says):
            parse(stream)

    def test_the_status_of_a_header_block(self) -> None:
        """``NATS/1.0 503`` is 503; a header block without a status and a plain MSG have none."""
        assert header_status(NO_RESPONDERS) == 503
        assert header_status(b"NATS/1.0 408 Request Timeout\r\n\r\n") == 408
        assert header_status(HEADERS) is None
        assert header_status(None) is None


class RecordingTransport(asyncio.Transport):
    """Keeps what the client writes; closing it tells the client as a lost socket would."""

    def __init__(self, client: NatsClient) -> None:
        super().__init__()
        self.client = client
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.client.connection_lost(None)


def connected() -> tuple[NatsClient, RecordingTransport]:
    client = NatsClient("nats://test:4222", asyncio.get_running_loop())
    transport = RecordingTransport(client)
    client.connection_made(transport)
    return client, transport


class TestClient:
    async def test_a_server_ping_is_answered_with_pong_in_the_same_read(self) -> None:
        """A PING from the server is answered with PONG before data_received returns."""
        client, transport = connected()
        client.data_received(b"PING\r\n")
        assert transport.writes == [b"PONG\r\n"]

    async def test_flush_returns_when_the_pong_arrives(self) -> None:
        """flush() writes PING and completes on the server's PONG."""
        client, transport = connected()
        flushed = asyncio.ensure_future(client.flush(within_s=5.0))
        await asyncio.sleep(0)
        assert transport.writes == [b"PING\r\n"]
        client.data_received(b"PONG\r\n")
        await asyncio.wait_for(flushed, 5.0)

    async def test_flush_without_a_pong_times_out(self) -> None:
        """A server that never answers PING makes flush() raise NatsTimeout, not hang."""
        client, _ = connected()
        with pytest.raises(NatsTimeout, match="no PONG"):
            await client.flush(within_s=0.01)

    async def test_publishes_of_one_read_leave_in_one_write(self) -> None:
        """Replies handled in one read share its timestamp, and the requests they publish go out in one write."""
        client, transport = connected()
        seen: list[float] = []

        def handler(subject: bytes, payload: bytes, headers: bytes | None) -> None:
            seen.append(client.read_at)
            client.publish(b"next", payload, reply=subject)

        client.subscribe(b"_BENCH.*", handler)
        client.send_buffered()
        transport.writes.clear()
        client.data_received(b"".join(b"MSG _BENCH.%d 1 2\r\nr%d\r\n" % (i, i) for i in range(3)))
        assert transport.writes == [
            b"".join(b"PUB next _BENCH.%d 2\r\nr%d\r\n" % (i, i) for i in range(3))
        ]
        assert len(set(seen)) == 1 and seen[0] > 0

    async def test_publishes_outside_a_read_are_written_at_the_end_of_the_loop_iteration(
        self,
    ) -> None:
        """Two publishes from a task are buffered and written together once the task yields."""
        client, transport = connected()
        client.publish(b"a", b"1")
        client.publish(b"b", b"22", reply=b"r")
        assert transport.writes == []
        await asyncio.sleep(0)
        assert transport.writes == [b"PUB a 1\r\n1\r\nPUB b r 2\r\n22\r\n"]

    def test_a_coalesced_burst_leaves_in_one_write_as_the_block_ends(self) -> None:
        """Publishes inside coalescing() are written together when the block ends, without the loop running."""
        loop = asyncio.new_event_loop()
        try:
            client = NatsClient("nats://test:4222", loop)
            transport = RecordingTransport(client)
            client.connection_made(transport)
            with client.coalescing():
                client.publish(b"a", b"1", reply=b"r.1")
                client.publish(b"a", b"2", reply=b"r.2")
                assert transport.writes == []
            assert transport.writes == [b"PUB a r.1 1\r\n1\r\nPUB a r.2 1\r\n2\r\n"]
        finally:
            loop.close()

    async def test_a_message_after_unsubscribe_is_dropped(self) -> None:
        """A message already in flight for an unsubscribed sid reaches no handler."""
        client, transport = connected()
        got: list[bytes] = []
        sid = client.subscribe(b"x", lambda s, p, h: got.append(p))
        client.unsubscribe(sid)
        client.data_received(b"MSG x %d 1\r\na\r\n" % sid)
        assert got == []
        await asyncio.sleep(0)
        assert transport.writes == [b"SUB x %d\r\nUNSUB %d\r\n" % (sid, sid)]

    async def test_err_fails_the_client_and_every_wait(self) -> None:
        """-ERR is recorded, ends a pending flush with NatsServerError and makes publish raise it."""
        client, transport = connected()
        flushed = asyncio.ensure_future(client.flush(within_s=5.0))
        await asyncio.sleep(0)
        client.data_received(b"-ERR 'Permissions Violation for Publish to x'\r\n")
        with pytest.raises(NatsServerError, match="Permissions Violation"):
            await flushed
        assert client.server_errors == ["Permissions Violation for Publish to x"]
        assert transport.closed
        with pytest.raises(NatsServerError):
            client.publish(b"x", b"1")

    async def test_a_lost_connection_ends_waits_at_once(self) -> None:
        """When the socket closes, a request in flight and a long wait_until raise NatsConnectionLost promptly."""
        client, _ = connected()
        reply = asyncio.ensure_future(client.request(b"llmopt.decide.x", b"{}", within_s=60.0))
        event = asyncio.Event()
        waiting = asyncio.ensure_future(client.wait_until(event, 60.0))
        await asyncio.sleep(0)
        client.connection_lost(ConnectionResetError("reset by peer"))
        with pytest.raises(NatsConnectionLost, match="reset by peer"):
            await asyncio.wait_for(reply, 1.0)
        with pytest.raises(NatsConnectionLost):
            await asyncio.wait_for(waiting, 1.0)

    async def test_a_request_gets_its_reply_or_no_responders(self) -> None:
        """A request's reply on its inbox is returned; the server's 503 status raises NoResponders."""
        client, transport = connected()
        answered = asyncio.ensure_future(client.request(b"svc", b"q", within_s=5.0))
        refused = asyncio.ensure_future(client.request(b"svc", b"q", within_s=5.0))
        await asyncio.sleep(0)  # both tasks run up to their wait
        client.send_buffered()
        written = b"".join(transport.writes)
        inbox = written.split(b"SUB ", 1)[1].split(b"*", 1)[0]
        assert b"PUB svc %b0 1\r\nq\r\n" % inbox in written
        client.data_received(
            b"MSG %b0 1 3\r\nyes\r\n" % inbox + hmsg(inbox + b"1", 1, NO_RESPONDERS, b"")
        )
        assert await answered == b"yes"
        with pytest.raises(NoResponders):
            await refused

    async def test_info_sets_the_largest_payload_publish_accepts(self) -> None:
        """After INFO says max_payload is 4 bytes, a 5-byte publish raises instead of being sent."""
        client, _ = connected()
        client.data_received(b'INFO {"max_payload":4}\r\n')
        client.publish(b"s", b"1234")
        with pytest.raises(Exception, match="exceeds the server's max_payload"):
            client.publish(b"s", b"12345")
