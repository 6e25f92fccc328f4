"""Request and reply bodies on the wire: JSON by default, msgpack when the client says so.

Every error reply has the same shape, ``{"error": {"code", "message", "field"?}}``, so a
client in any language handles errors one way. Validation messages name the offending field
(msgspec reports a path such as ``$.arms[2]``; the reply carries ``arms[2]``).
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

T = TypeVar("T")

CONTENT_TYPE_HEADER = "Content-Type"
MSGPACK = "application/msgpack"
_PATH = re.compile(r" - at `\$\.?(?P<field>[^`]*)`$")
_NAMED = re.compile(r"(?:missing required|unknown) field `(?P<field>[^`]+)`")


class ErrorBody(msgspec.Struct, omit_defaults=True):
    code: str
    message: str
    field: str | None = None


class ErrorReply(msgspec.Struct):
    error: ErrorBody


class RequestError(Exception):
    """A request that cannot be served; becomes an error reply, never a crash."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field

    def reply(self) -> ErrorReply:
        return ErrorReply(ErrorBody(self.code, self.message, self.field))


def is_msgpack(headers: dict[str, str] | None) -> bool:
    return bool(headers) and (headers or {}).get(CONTENT_TYPE_HEADER) == MSGPACK


def decode_request(data: bytes, type_: type[T], *, msgpack: bool = False) -> T:
    """Decode and validate a request body, raising :class:`RequestError` with the field."""
    if not data:
        raise RequestError("invalid_request", "empty request body; expected a JSON object")
    try:
        if msgpack:
            return msgspec.msgpack.decode(data, type=type_)
        return msgspec.json.decode(data, type=type_)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH.search(message)
        field = match.group("field") if match and match.group("field") else None
        text = _PATH.sub("", message) if match else message
        named = _NAMED.search(text)
        if named:
            field = f"{field}.{named.group('field')}" if field else named.group("field")
        raise RequestError("invalid_request", text, field) from exc
    except msgspec.DecodeError as exc:
        kind = "msgpack" if msgpack else "JSON"
        raise RequestError("malformed", f"request body is not valid {kind}: {exc}") from exc


def encode_reply(reply: Any, *, msgpack: bool = False) -> bytes:
    return msgspec.msgpack.encode(reply) if msgpack else msgspec.json.encode(reply)
