"""Reading what the server answers a publish with, from raw bytes (no NATS needed)."""

from __future__ import annotations

from events.pipelined_append import _refusal
from events.raw_delivery import parse_headers, status_of


def test_status_of_reads_the_status_line_only() -> None:
    """``NATS/1.0 404 No Messages`` is status 404; a header block without a status has none."""
    assert status_of(b"NATS/1.0 404 No Messages\r\n\r\n") == "404"
    assert status_of(b"NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Stream: 3\r\n\r\n") == "100"
    assert status_of(b"NATS/1.0\r\nNats-Msg-Id: 1\r\n\r\n") is None
    assert status_of(b"") is None


def test_an_acknowledgement_is_no_refusal_and_an_error_says_what_the_server_said() -> None:
    """A pub ack (duplicate or not) is None; an error ack, a 503 and garbage each name why."""
    assert _refusal(b'{"stream":"LLMOPT_LOG","seq":7}', b"") is None
    assert _refusal(b'{"stream":"LLMOPT_LOG","seq":7,"duplicate":true}', b"") is None
    error = (
        b'{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"}}'
    )
    assert _refusal(error, b"") == "expected stream does not match (err_code 10060)"
    assert _refusal(b"", b"NATS/1.0 503\r\n\r\n") == "no stream answered (503 no responders)"
    assert _refusal(b'{"error": nonsense', b"") is not None
    assert "unreadable" in str(_refusal(b'{"error": nonsense', b""))


def test_raw_headers_parse_like_nats_py_headers() -> None:
    """A header block becomes the dict nats-py would give (status line dropped); none is None."""
    raw = b"NATS/1.0\r\nContent-Type: application/msgpack\r\ntraceparent: 00-ab-cd-01\r\n\r\n"
    assert parse_headers(raw) == {
        "Content-Type": "application/msgpack",
        "traceparent": "00-ab-cd-01",
    }
    assert parse_headers(b"NATS/1.0 503\r\n\r\n") == {}
    assert parse_headers(b"") is None
