"""The ID-card frame codec, status table and text block: tables plus hypothesis."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import date
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.cn import ric

from tests.hardware.idcard_emulator import make_card, ric_check_digit
from vaxflow.hardware.errors import DeviceProtocolError
from vaxflow.hardware.idcard_protocol import (
    MAX_LENGTH,
    PREAMBLE,
    STATUS_TABLE,
    TEXT_FIELDS,
    TEXT_SIZE,
    Command,
    FrameDecoder,
    IdCardStatusError,
    Request,
    Response,
    checksum,
    decode_frame,
    encode_basic_info,
    encode_frame,
    encode_request,
    encode_response,
    encode_text_block,
    format_sam_id,
    parse_basic_info,
    parse_card,
    parse_request,
    parse_response,
    parse_text_block,
    status_of,
)
from vaxflow.hardware.interfaces import IdCard
from vaxflow.hardware.nations import NATIONS, nation_code, nation_name
from vaxflow.hardware.sim_idcard import DEMO_CARDS

# --- exact bytes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "wire"),
    [
        (Command.FIND_CARD, "aa aa aa 96 69 00 03 20 01 22"),
        (Command.SELECT_CARD, "aa aa aa 96 69 00 03 20 02 21"),
        (Command.READ_BASIC_INFO, "aa aa aa 96 69 00 03 30 01 32"),
        (Command.READ_SAM_ID, "aa aa aa 96 69 00 03 12 ff ee"),
        (Command.RESET, "aa aa aa 96 69 00 03 10 ff ec"),
    ],
)
def test_request_bytes(command: Command, wire: str) -> None:
    assert encode_request(Request(command)) == bytes.fromhex(wire)


@pytest.mark.parametrize(
    ("wire", "response"),
    [
        ("aa aa aa 96 69 00 08 00 00 9f 00 00 00 00 97", Response(0x9F, b"\x00\x00\x00\x00")),
        ("aa aa aa 96 69 00 04 00 00 80 84", Response(0x80)),
        ("aa aa aa 96 69 00 0c 00 00 90 00 00 00 00 00 00 00 00 9c", Response(0x90, bytes(8))),
        ("aa aa aa 96 69 00 04 00 00 41 45", Response(0x41)),
    ],
)
def test_response_bytes(wire: str, response: Response) -> None:
    frame = bytes.fromhex(wire)
    assert encode_response(response) == frame
    decoded = decode_frame(frame)
    assert decoded is not None
    body, used = decoded
    assert used == len(frame)
    assert parse_response(body) == response


@pytest.mark.parametrize(
    ("wire", "problem"),
    [
        ("00 aa aa 96 69 00 03 20 01 22", "preamble"),
        ("aa aa aa 96 69 00 03 20 01 23", "checksum"),
        ("aa aa aa 96 69 00 00 20", "length"),
        ("aa aa aa 96 69 ff ff 20", "length"),
    ],
)
def test_bad_frames(wire: str, problem: str) -> None:
    with pytest.raises(DeviceProtocolError, match=problem):
        decode_frame(bytes.fromhex(wire))


@pytest.mark.parametrize(
    "wire",
    ["", "aa", "aa aa aa 96", "aa aa aa 96 69", "aa aa aa 96 69 00", "aa aa aa 96 69 00 03 20 01"],
)
def test_partial_frames_need_more(wire: str) -> None:
    assert decode_frame(bytes.fromhex(wire)) is None


def test_trailing_bytes_are_left_for_the_next_frame() -> None:
    frame = encode_request(Request(Command.FIND_CARD))
    assert decode_frame(frame + b"\xaa\x00") == (b"\x20\x01", len(frame))


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"", "no status"), (b"\x00\x00", "no status")],
)
def test_short_response_body(body: bytes, problem: str) -> None:
    with pytest.raises(DeviceProtocolError, match=problem):
        parse_response(body)


def test_short_request_body() -> None:
    with pytest.raises(DeviceProtocolError, match="no command"):
        parse_request(b"\x20")


def test_oversized_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="exceeds"):
        encode_frame(bytes(MAX_LENGTH))


# --- status table -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (0x90, "ok"),
        (0x9F, "card_found"),
        (0x80, "no_card"),
        (0x81, "select_failed"),
        (0x41, "read_failed"),
        (0x10, "checksum_error"),
        (0x11, "length_error"),
        (0x21, "unknown_command"),
        (0x24, "unrecognised_error"),
        (0x60, "sam_self_test_failed"),
        (0x77, "status_77"),
    ],
)
def test_status_table(code: int, reason: str) -> None:
    status = status_of(code)
    assert (status.code, status.reason) == (code, reason)
    assert status.message


def test_status_error_names_command_and_code() -> None:
    err = IdCardStatusError(Command.SELECT_CARD, STATUS_TABLE[0x81])
    assert isinstance(err, DeviceProtocolError)
    assert "select_card" in str(err) and "0x81" in str(err)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (
            b"".join(
                n.to_bytes(size, "little")
                for n, size in [(5, 2), (1, 2), (20101010, 4), (12345678, 4), (1234567890, 4)]
            ),
            "05.01-20101010-0012345678-1234567890",
        ),
        (b"\x01\x02", "0102"),
    ],
)
def test_sam_id(data: bytes, text: str) -> None:
    assert format_sam_id(data) == text


# --- text block -------------------------------------------------------------------------


def test_text_block_layout_is_256_bytes() -> None:
    assert sum(size for _, size in TEXT_FIELDS) == TEXT_SIZE


def _block(**fields: str) -> bytes:
    """A text block from raw field strings (what a card holds), space-padded."""
    out = b""
    for name, size in TEXT_FIELDS:
        raw = fields.get(name, "").encode("utf-16-le")
        out += raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)
    return out


_GOOD = {
    "name": "张小明",
    "sex": "1",
    "nation": "01",
    "birth_date": "19900101",
    "address": "广西壮族自治区南宁市青秀区民族大道100号",
    "id_number": "450103199001011238",
    "issuer": "南宁市公安局青秀分局",
    "valid_from": "20150601",
    "valid_until": "20350601",
}


@pytest.mark.parametrize(
    ("changes", "attr", "expected"),
    [
        ({}, "name", "张小明"),
        ({}, "sex", "male"),
        ({"sex": "2"}, "sex", "female"),
        ({"sex": "0"}, "sex", "unknown"),
        ({"sex": "9"}, "sex", "unknown"),
        ({}, "nation", "汉"),
        ({"nation": "03"}, "nation", "回"),
        ({"nation": "56"}, "nation", "基诺"),
        ({"nation": "77"}, "nation", "77"),  # unknown code kept, not lost
        ({}, "birth_date", date(1990, 1, 1)),
        ({}, "id_number", "450103199001011238"),
        ({}, "issuer", "南宁市公安局青秀分局"),
        ({}, "valid_from", date(2015, 6, 1)),
        ({}, "valid_until", date(2035, 6, 1)),
        ({"valid_until": "长期"}, "valid_until", None),
        ({"name": "阿依古丽·买买提"}, "name", "阿依古丽·买买提"),
    ],
)
def test_parse_card_fields(changes: dict[str, str], attr: str, expected: object) -> None:
    card = parse_card(_block(**{**_GOOD, **changes}), b"wlt")
    assert getattr(card, attr) == expected
    assert card.photo == b"wlt"


def test_nul_padding_is_stripped_too() -> None:
    block = bytearray(_block(**_GOOD))
    block[6:30] = bytes(24)  # name "张小明" then NULs instead of spaces
    assert parse_card(bytes(block)).name == "张小明"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"birth_date": "1990011"}, "birth date"),
        ({"birth_date": "19900230"}, "calendar"),
        ({"valid_from": "        "}, "validity start"),
        ({"valid_until": "永久"}, "validity end"),
        ({"valid_until": "２０３５０６０１"}, "validity end"),  # full-width digits
    ],
)
def test_parse_card_refuses_bad_dates(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(DeviceProtocolError, match=problem):
        parse_card(_block(**{**_GOOD, **changes}))


def test_text_block_must_be_256_bytes() -> None:
    with pytest.raises(DeviceProtocolError, match="256"):
        parse_text_block(bytes(255))


@pytest.mark.parametrize("name", list(DEMO_CARDS))
def test_demo_cards_round_trip_and_have_valid_id_numbers(name: str) -> None:
    card = DEMO_CARDS[name]
    assert parse_basic_info(encode_basic_info(card)) == card
    assert ric.is_valid(card.id_number)


@pytest.mark.parametrize("sex", ["male", "female"])
# python-stdnum also checks the area code existed on the birth date (天河区: from 1985).
@pytest.mark.parametrize("born", [date(1985, 5, 17), date(2000, 2, 29), date(2012, 7, 20)])
def test_emulator_cards_have_valid_id_numbers(sex: str, born: date) -> None:
    number = make_card(sex=sex, birth_date=born).id_number
    assert ric.is_valid(number)
    assert ric_check_digit(number[:17]) == ric.calc_check_digit(number)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"\x01\x00", "no length header"),
        (b"\x00\x10\x04\x00" + bytes(16), "expected 256"),
        (b"\x01\x00\x04\x00" + bytes(256), "promises"),
    ],
)
def test_basic_info_header(data: bytes, problem: str) -> None:
    with pytest.raises(DeviceProtocolError, match=problem):
        parse_basic_info(data)


def test_basic_info_photo_is_opaque() -> None:
    card = dataclasses.replace(DEMO_CARDS["zhang"], photo=PREAMBLE * 200)
    assert parse_basic_info(encode_basic_info(card)).photo == PREAMBLE * 200


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "张" * 16), ("address", "路" * 36), ("nation", "火星")],
)
def test_encoding_refuses_what_a_card_cannot_hold(field: str, value: str) -> None:
    changes: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field):
        encode_text_block(dataclasses.replace(DEMO_CARDS["zhang"], **changes))


def test_nation_table_is_complete() -> None:
    assert [code for code in NATIONS if code <= "56"] == [f"{n:02d}" for n in range(1, 57)]
    assert all(nation_code(nation_name(code)) == code for code in NATIONS)
    assert nation_code("77") == "77"


# --- hypothesis -------------------------------------------------------------------------

_bodies = st.binary(min_size=0, max_size=300)


@given(st.binary(max_size=600))
def test_decode_arbitrary_bytes_only_raises_protocol_errors(data: bytes) -> None:
    try:
        result = decode_frame(data)
    except DeviceProtocolError:
        return
    if result is not None:
        body, used = result
        assert data[:used] == encode_frame(body)


@given(st.binary(max_size=600))
def test_decode_preamble_plus_arbitrary_bytes(tail: bytes) -> None:
    with contextlib.suppress(DeviceProtocolError):
        decode_frame(PREAMBLE + tail)


@given(_bodies, st.binary(max_size=20))
def test_encode_decode_round_trip(body: bytes, after: bytes) -> None:
    frame = encode_frame(body)
    assert checksum(frame[len(PREAMBLE) :]) == 0  # XOR over LEN..CHK cancels out
    assert decode_frame(frame + after) == (body, len(frame))


@given(st.integers(0, 0xFFFF), st.binary(max_size=50))
def test_request_round_trip(command: int, data: bytes) -> None:
    decoded = decode_frame(encode_request(Request(command, data)))
    assert decoded is not None
    assert parse_request(decoded[0]) == Request(command, data)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=50))
def test_response_round_trip(sw1: int, sw2: int, sw3: int, data: bytes) -> None:
    response = Response(sw3, data, sw1, sw2)
    decoded = decode_frame(encode_response(response))
    assert decoded is not None
    assert parse_response(decoded[0]) == response


@given(st.binary(max_size=1400))
def test_basic_info_arbitrary_bytes_only_raise_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(DeviceProtocolError):
        parse_basic_info(data)


@given(st.binary(min_size=TEXT_SIZE, max_size=TEXT_SIZE))
def test_text_block_arbitrary_bytes_only_raise_protocol_errors(block: bytes) -> None:
    with contextlib.suppress(DeviceProtocolError):
        parse_card(block)


_garbage = st.binary(max_size=40).filter(lambda g: PREAMBLE not in g)


@given(
    st.lists(st.tuples(_garbage, _bodies), min_size=1, max_size=5),
    _garbage,
    st.lists(st.integers(min_value=1, max_value=64), max_size=40),
)
def test_stream_resynchronises_across_garbage_and_splits(
    parts: list[tuple[bytes, bytes]], trailer: bytes, cuts: list[int]
) -> None:
    stream = b"".join(g + encode_frame(b) for g, b in parts) + trailer
    chunks: list[bytes] = []
    pos = 0
    for size in cuts:
        chunks.append(stream[pos : pos + size])
        pos += size
    chunks.append(stream[pos:])
    decoder = FrameDecoder()
    got: list[bytes] = []
    for chunk in chunks:
        got.extend(decoder.feed(chunk))
    # Garbage that happens to end in a valid frame-looking tail cannot be told apart; the
    # filter on PREAMBLE guarantees no false frame starts, so we get exactly our frames.
    assert got == [b for _, b in parts]
    assert decoder.pending < len(PREAMBLE) + len(trailer)


@given(_bodies, st.integers(min_value=0, max_value=MAX_LENGTH - 1))
def test_stream_recovers_from_a_false_preamble_with_a_long_length(
    body: bytes, claimed: int
) -> None:
    """A false frame start that never completes is given up on when the line goes quiet."""
    real = encode_frame(body)
    false_start = PREAMBLE + (claimed + 1).to_bytes(2, "big")
    assume(len(false_start) + len(real) < len(PREAMBLE) + 2 + claimed + 1)
    decoder = FrameDecoder()
    assert decoder.feed(false_start + real) == []
    assert decoder.resync() == [body]
    assert decoder.bad_frames == 1


def test_stream_skips_a_frame_with_a_bad_checksum() -> None:
    good = encode_response(Response(0x90, b"ok"))
    bad = bytearray(encode_response(Response(0x90, b"no")))
    bad[-1] ^= 0x55
    decoder = FrameDecoder()
    assert decoder.feed(b"\x00\x13" + bytes(bad) + good) == [b"\x00\x00\x90ok"]
    assert decoder.bad_frames == 1
    assert decoder.garbage == 2 + len(bad)


@given(
    st.builds(
        make_card,
        name=st.text(
            st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5), min_size=1, max_size=15
        ),
        sex=st.sampled_from(["male", "female", "unknown"]),
        nation=st.sampled_from(sorted(NATIONS.values())),
        birth_date=st.dates(date(1900, 1, 1), date(2099, 12, 31)),
        valid_until=st.none() | st.dates(date(2000, 1, 1), date(2099, 12, 31)),
        photo=st.binary(max_size=1024),
    )
)
def test_card_round_trip(card: IdCard) -> None:
    assert parse_basic_info(encode_basic_info(card)) == card
