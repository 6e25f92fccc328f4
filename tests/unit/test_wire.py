"""Request decoding and error replies on the wire: one error shape that names the bad field."""

from __future__ import annotations

import msgspec
import pytest

from gateway.admin import ArchiveExperiment, CreateExperiment
from gateway.wire import (
    MSGPACK,
    RequestError,
    decode_request,
    encode_reply,
    is_msgpack,
)


class Item(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    weight: float = 1.0


class Nested(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Item]


def _refusal(data: bytes, type_: type[object], *, msgpack: bool = False) -> RequestError:
    with pytest.raises(RequestError) as info:
        decode_request(data, type_, msgpack=msgpack)
    return info.value


class TestDecodeRequest:
    def test_valid_json(self) -> None:
        """A valid JSON body decodes to the request type with defaults filled."""
        request = decode_request(b'{"experiment_id":"e1","arms":["a","b"]}', CreateExperiment)
        assert request == CreateExperiment(experiment_id="e1", arms=["a", "b"])

    def test_valid_msgpack(self) -> None:
        """With msgpack=True a msgpack body decodes to the same request as its JSON twin."""
        body = {"experiment_id": "e1", "arms": ["a", "b"], "seed": 3}
        from_msgpack = decode_request(msgspec.msgpack.encode(body), CreateExperiment, msgpack=True)
        assert from_msgpack == decode_request(msgspec.json.encode(body), CreateExperiment)
        assert from_msgpack.seed == 3

    @pytest.mark.parametrize(
        ("body", "field", "message"),
        [
            (b'{"experiment_id":"e1","arms":["a",2]}', "arms[1]", "Expected `str`, got `int`"),
            (b'{"experiment_id":5,"arms":["a"]}', "experiment_id", "Expected `str`, got `int`"),
            (b'{"experiment_id":"e1","arms":"a"}', "arms", "Expected `array`, got `str`"),
            (b'{"experiment_id":"e1","arms":["a"],"seed":"x"}', "seed", "Expected `int`"),
            (b'{"arms":["a"]}', "experiment_id", "missing required field `experiment_id`"),
            (b'{"experiment_id":"e1"}', "arms", "missing required field `arms`"),
            (b'{"experiment_id":"e1","arms":["a"],"bogus":1}', "bogus", "unknown field `bogus`"),
            (b"[]", None, "Expected `object`, got `array`"),
            (b"null", None, "Expected `object`, got `null`"),
        ],
        ids=[
            "wrong-type-in-list",
            "wrong-type",
            "list-expected",
            "int-expected",
            "missing-id",
            "missing-arms",
            "unknown-field",
            "array-body",
            "null-body",
        ],
    )
    def test_invalid_json_names_the_field(
        self, body: bytes, field: str | None, message: str
    ) -> None:
        """A body of the wrong shape gives invalid_request naming the field without the `$.`."""
        error = _refusal(body, CreateExperiment)
        assert (error.code, error.field) == ("invalid_request", field)
        assert message in error.message
        assert " - at `" not in error.message

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (b'{"items":[{"name":"a"},{"name":2}]}', "items[1].name"),
            (b'{"items":[{"name":"a"},{}]}', "items[1].name"),
            (b'{"items":[{"name":"a","extra":1}]}', "items[0].extra"),
            (b'{"items":[{"name":"a","weight":"x"}]}', "items[0].weight"),
        ],
        ids=["wrong-type", "missing", "unknown", "wrong-type-defaulted"],
    )
    def test_nested_errors_give_the_full_path(self, body: bytes, field: str) -> None:
        """Errors inside nested objects name the whole path, including the missing/unknown key."""
        error = _refusal(body, Nested)
        assert (error.code, error.field) == ("invalid_request", field)

    @pytest.mark.parametrize("body", [b"{not json", b'{"experiment_id":', b"   ", b"\xff"], ids=str)
    def test_malformed_json(self, body: bytes) -> None:
        """Bytes that are not JSON give code malformed, no field, and say JSON."""
        error = _refusal(body, CreateExperiment)
        assert (error.code, error.field) == ("malformed", None)
        assert error.message.startswith("request body is not valid JSON")

    @pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
    def test_empty_body(self, msgpack: bool) -> None:
        """An empty body is refused as invalid_request before any decoding."""
        error = _refusal(b"", CreateExperiment, msgpack=msgpack)
        assert (error.code, error.field) == ("invalid_request", None)
        assert "empty request body" in error.message

    def test_msgpack_validation_names_the_field(self) -> None:
        """A msgpack body of the wrong shape names the field exactly as a JSON one would."""
        body = msgspec.msgpack.encode({"experiment_id": "e1", "arms": ["a", 2]})
        error = _refusal(body, CreateExperiment, msgpack=True)
        assert (error.code, error.field) == ("invalid_request", "arms[1]")

    def test_malformed_msgpack(self) -> None:
        """Bytes that are not msgpack give code malformed and say msgpack."""
        error = _refusal(b"\xc1", CreateExperiment, msgpack=True)
        assert (error.code, error.field) == ("malformed", None)
        assert error.message.startswith("request body is not valid msgpack")

    def test_json_sent_as_msgpack_is_refused(self) -> None:
        """A JSON body declared as msgpack is refused, not half-decoded."""
        error = _refusal(b'{"experiment_id":"e1","arms":["a"]}', CreateExperiment, msgpack=True)
        assert error.code in ("invalid_request", "malformed")

    def test_archive_request_unknown_field(self) -> None:
        """Archive requests also refuse unknown fields, naming them."""
        error = _refusal(b'{"experiment_id":"e1","why":"x"}', ArchiveExperiment)
        assert (error.code, error.field) == ("invalid_request", "why")


class TestErrorReply:
    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (
                RequestError("invalid_request", "bad arm", "arms[1]"),
                {"error": {"code": "invalid_request", "message": "bad arm", "field": "arms[1]"}},
            ),
            (
                RequestError("malformed", "not JSON"),
                {"error": {"code": "malformed", "message": "not JSON"}},
            ),
        ],
        ids=["with-field", "without-field"],
    )
    @pytest.mark.parametrize("msgpack", [False, True], ids=["json", "msgpack"])
    def test_reply_shape(self, error: RequestError, expected: object, msgpack: bool) -> None:
        """An error reply is exactly {"error": {code, message, field?}}, with no null field."""
        data = encode_reply(error.reply(), msgpack=msgpack)
        decoded = msgspec.msgpack.decode(data) if msgpack else msgspec.json.decode(data)
        assert decoded == expected

    def test_reply_bytes(self) -> None:
        """The JSON error reply bytes are fixed, so clients in any language can rely on them."""
        reply = RequestError("not_found", "no such experiment", "experiment_id").reply()
        assert encode_reply(reply) == (
            b'{"error":{"code":"not_found","message":"no such experiment","field":"experiment_id"}}'
        )

    def test_request_error_keeps_its_parts(self) -> None:
        """A RequestError exposes code, message and field, and its str is the message."""
        error = RequestError("conflict", "kept changing", "experiment_id")
        assert (error.code, error.message, error.field, str(error)) == (
            "conflict",
            "kept changing",
            "experiment_id",
            "kept changing",
        )


class TestIsMsgpack:
    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            (None, False),
            ({}, False),
            ({"Content-Type": MSGPACK}, True),
            ({"Content-Type": "application/json"}, False),
            ({"Other": MSGPACK}, False),
        ],
        ids=["none", "empty", "msgpack", "json", "other-header"],
    )
    def test_content_type_selects_msgpack(
        self, headers: dict[str, str] | None, expected: bool
    ) -> None:
        """Only the Content-Type header application/msgpack switches a request to msgpack."""
        assert is_msgpack(headers) is expected
