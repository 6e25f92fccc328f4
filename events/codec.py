"""Bytes <-> events, with upcasting of older schema versions on read.

The log stores JSON so that any language (and a human with the ``nats`` CLI) can read the audit
trail. Decoding takes the fast typed path when the stored version is current; otherwise the raw
object goes through the registered upcasters, one version step at a time, and is then validated
as the current type. Handlers never see an old shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from events.schema import EVENT_TYPES, AnyEvent, Event

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_encoder = msgspec.json.Encoder(order="deterministic")
_decoder = msgspec.json.Decoder(AnyEvent)
_raw_decoder = msgspec.json.Decoder(dict[str, Any])
_upcasters: dict[tuple[str, int], Upcaster] = {}


class EventDecodeError(ValueError):
    """Stored bytes that are not a known event; carries msgspec's message with the field path."""


def register_upcaster(type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn`` to turn ``type_name`` version ``from_version`` into ``from_version + 1``.

    The upcaster receives and returns the plain JSON object; it must set ``"v"`` itself only if
    it wants to; the codec stamps the new version after each step.
    """

    def register(fn: Upcaster) -> Upcaster:
        key = (type_name, from_version)
        if key in _upcasters:
            raise ValueError(f"an upcaster for {type_name} v{from_version} is registered already")
        _upcasters[key] = fn
        return fn

    return register


def unregister_upcaster(type_name: str, from_version: int) -> None:
    _upcasters.pop((type_name, from_version), None)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes) -> AnyEvent:
    """Decode one stored event, upcasting it to the current version of its type."""
    try:
        event: AnyEvent = _decoder.decode(data)
    except msgspec.ValidationError:
        return _decode_upcast(data)
    except msgspec.DecodeError as exc:
        raise EventDecodeError(str(exc)) from exc
    if event.v == event.VERSION:
        return event
    return _decode_upcast(data)


def _decode_upcast(data: bytes) -> AnyEvent:
    try:
        raw = _raw_decoder.decode(data)
    except msgspec.DecodeError as exc:
        raise EventDecodeError(str(exc)) from exc
    type_name = raw.get("type")
    if not isinstance(type_name, str) or type_name not in EVENT_TYPES:
        raise EventDecodeError(f"unknown event type {type_name!r}")
    cls = EVENT_TYPES[type_name]
    version = raw.get("v", 1)
    if not isinstance(version, int) or version > cls.VERSION:
        raise EventDecodeError(
            f"{type_name} v{version} is newer than this code (v{cls.VERSION}); upgrade the reader"
        )
    while version < cls.VERSION:
        step = _upcasters.get((type_name, version))
        if step is None:
            raise EventDecodeError(f"no upcaster registered for {type_name} v{version}")
        raw = step(dict(raw))
        version += 1
        raw["v"] = version
    try:
        event: AnyEvent = msgspec.convert(raw, AnyEvent)
        return event
    except msgspec.ValidationError as exc:
        raise EventDecodeError(f"{type_name} v{version}: {exc}") from exc
