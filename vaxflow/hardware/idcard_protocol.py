"""The serial protocol of second-generation resident ID-card readers, as pure functions.

Frames in both directions are ``AA AA AA 96 69`` + LEN (2 bytes, big-endian, counting
everything after it including the checksum) + body + CHK, where CHK is the XOR of the LEN
bytes and the body. A request body is CMD PARA data; a response body is SW1 SW2 SW3 data,
with the status in SW3. No I/O here: the driver, the simulator and the test emulator all
build and read their bytes with these functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from enum import IntEnum
from functools import reduce

from vaxflow.hardware.errors import DeviceProtocolError
from vaxflow.hardware.interfaces import IdCard
from vaxflow.hardware.nations import nation_code, nation_name

logger = logging.getLogger(__name__)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
#: Preamble + LEN: the bytes needed before the frame's size is known.
HEADER_SIZE = len(PREAMBLE) + 2
#: Largest LEN we accept. The field allows 65535, but no reader answer comes near this
#: (text + photo + fingerprints is about 2.3 kB), and a small cap lets a stream decoder
#: give up quickly on a false preamble found inside garbage.
MAX_LENGTH = 4096

TEXT_SIZE = 256
PHOTO_SIZE = 1024
LONG_TERM = "长期"


class Command(IntEnum):
    """CMD and PARA as one 16-bit number, e.g. 0x2001 is CMD 0x20, PARA 0x01."""

    RESET = 0x10FF
    READ_SAM_ID = 0x12FF
    FIND_CARD = 0x2001
    SELECT_CARD = 0x2002
    READ_BASIC_INFO = 0x3001


class Sw3(IntEnum):
    """The status byte codes the driver acts on (the full list is in STATUS_TABLE)."""

    OK = 0x90
    NO_CONTENT = 0x91
    FIND_OK = 0x9F
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    UNKNOWN_COMMAND = 0x21
    READ_FAILED = 0x41
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81


@dataclass(frozen=True)
class Status:
    """One SW3 code with a reason code for logs and health, and plain words for staff."""

    code: int
    reason: str
    message: str


_STATUSES = (
    Status(0x90, "ok", "operation succeeded"),
    Status(0x91, "no_content", "the card has no data for this item"),
    Status(0x9F, "card_found", "a card was found"),
    Status(0x10, "checksum_error", "the reader received a command with a bad checksum"),
    Status(0x11, "length_error", "the reader received a command with a bad length"),
    Status(0x21, "unknown_command", "the reader does not know this command"),
    Status(0x23, "not_authorised", "the operation is not authorised"),
    Status(0x24, "unrecognised_error", "the reader reported an unrecognised error"),
    Status(0x31, "card_auth_failed", "the card failed to authenticate the security module"),
    Status(0x32, "sam_auth_failed", "the security module failed to authenticate the card"),
    Status(0x33, "verify_failed", "the card data failed verification"),
    Status(0x40, "unknown_card", "this is not a resident ID card"),
    Status(0x41, "read_failed", "reading the card failed; hold the card still on the reader"),
    Status(0x47, "random_failed", "the card did not give a random number"),
    Status(0x60, "sam_self_test_failed", "the reader's security module failed its self-test"),
    Status(0x66, "sam_not_authorised", "the reader's security module is not authorised"),
    Status(0x80, "no_card", "no card on the reader"),
    Status(0x81, "select_failed", "the card could not be selected; place it again"),
)

#: SW3 -> what it means. Codes not listed decode to an "unknown status" entry.
STATUS_TABLE: dict[int, Status] = {s.code: s for s in _STATUSES}


def status_of(code: int) -> Status:
    """What a status byte means; unknown codes keep their number in the reason."""
    return STATUS_TABLE.get(code) or Status(
        code, f"status_{code:02x}", f"the reader answered with unknown status 0x{code:02X}"
    )


class IdCardStatusError(DeviceProtocolError):
    """The reader answered a well-formed frame with a failure status."""

    def __init__(self, command: int, status: Status) -> None:
        super().__init__(f"{_command_name(command)}: {status.message} (0x{status.code:02X})")
        self.command = command
        self.status = status


def _command_name(command: int) -> str:
    try:
        return Command(command).name.lower()
    except ValueError:
        return f"command 0x{command:04X}"


@dataclass(frozen=True)
class Request:
    """A host -> reader command."""

    command: int
    data: bytes = b""


@dataclass(frozen=True)
class Response:
    """A reader -> host answer."""

    sw3: int
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    @property
    def status(self) -> Status:
        return status_of(self.sw3)


# --- frames ---------------------------------------------------------------------------


def checksum(data: bytes) -> int:
    """XOR of all bytes (the frame's CHK is this over LEN and body)."""
    return reduce(lambda acc, b: acc ^ b, data, 0)


def encode_frame(body: bytes) -> bytes:
    """Wrap a body in preamble, length and checksum."""
    length = len(body) + 1
    if length > MAX_LENGTH:
        raise ValueError(f"frame body of {len(body)} bytes exceeds {MAX_LENGTH - 1}")
    head = length.to_bytes(2, "big")
    return PREAMBLE + head + body + bytes([checksum(head + body)])


def decode_frame(buf: bytes) -> tuple[bytes, int] | None:
    """The body of the frame at the start of `buf` and the bytes it used; None: need more bytes.

    Raises DeviceProtocolError when `buf` does not start with a valid frame.
    """
    if not buf.startswith(PREAMBLE[: len(buf)]):
        raise DeviceProtocolError(f"frame does not start with the preamble: {buf[:8].hex(' ')}")
    if len(buf) < HEADER_SIZE:
        return None
    length = int.from_bytes(buf[len(PREAMBLE) : HEADER_SIZE], "big")
    if not 1 <= length <= MAX_LENGTH:
        raise DeviceProtocolError(f"frame length {length} is out of range 1..{MAX_LENGTH}")
    end = HEADER_SIZE + length
    if len(buf) < end:
        return None
    frame = buf[:end]
    expected = checksum(frame[len(PREAMBLE) : -1])
    if frame[-1] != expected:
        raise DeviceProtocolError(f"frame checksum 0x{frame[-1]:02X}, expected 0x{expected:02X}")
    return frame[HEADER_SIZE:-1], end


class FrameDecoder:
    """Bytes in arbitrary chunks -> frame bodies, skipping garbage and resynchronising.

    Bytes before a preamble are dropped (counted in `garbage`). A frame that fails its
    checksum or length check is counted in `bad_frames`, and the search restarts one byte
    after its preamble, so a real frame hidden behind a false preamble is still found.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.garbage = 0
        self.bad_frames = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add bytes; return the bodies of the frames they complete, in order."""
        self._buf += chunk
        bodies: list[bytes] = []
        while True:
            start = self._buf.find(PREAMBLE)
            if start < 0:
                self._drop_garbage()
                return bodies
            if start:
                self.garbage += start
                del self._buf[:start]
            try:
                decoded = decode_frame(bytes(self._buf))
            except DeviceProtocolError as err:
                logger.debug("skipping a bad frame: %s", err)
                self.bad_frames += 1
                self.garbage += 1
                del self._buf[:1]
                continue
            if decoded is None:
                return bodies
            body, used = decoded
            bodies.append(body)
            del self._buf[:used]

    def resync(self) -> list[bytes]:
        """Give up on a partial frame (the line went quiet) and search the bytes after it."""
        if self._buf.startswith(PREAMBLE):
            self.bad_frames += 1
            self.garbage += 1
            del self._buf[:1]
        return self.feed(b"")

    @property
    def pending(self) -> int:
        """Bytes held back: a partial frame, or a tail that may begin a preamble."""
        return len(self._buf)

    def clear(self) -> None:
        """Forget held-back bytes (before a new command, stale input means nothing)."""
        self._buf.clear()

    def _drop_garbage(self) -> None:
        # Keep only a tail that could be the start of a preamble split across chunks.
        keep = 0
        for n in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1):
            if self._buf.endswith(PREAMBLE[:n]):
                keep = n
                break
        dropped = len(self._buf) - keep
        if dropped:
            self.garbage += dropped
            del self._buf[:dropped]


def encode_request(request: Request) -> bytes:
    """A command frame as the host sends it."""
    if not 0 <= request.command <= 0xFFFF:
        raise ValueError(f"command {request.command:#x} does not fit CMD+PARA")
    return encode_frame(request.command.to_bytes(2, "big") + request.data)


def parse_request(body: bytes) -> Request:
    """A request body (CMD PARA data) as the reader sees it."""
    if len(body) < 2:
        raise DeviceProtocolError(f"request body of {len(body)} bytes has no command")
    return Request(int.from_bytes(body[:2], "big"), body[2:])


def encode_response(response: Response) -> bytes:
    """An answer frame as the reader sends it."""
    return encode_frame(bytes([response.sw1, response.sw2, response.sw3]) + response.data)


def parse_response(body: bytes) -> Response:
    """A response body (SW1 SW2 SW3 data)."""
    if len(body) < 3:
        raise DeviceProtocolError(f"response body of {len(body)} bytes has no status")
    return Response(sw1=body[0], sw2=body[1], sw3=body[2], data=body[3:])


# --- card data ------------------------------------------------------------------------

#: The text block: field name and size in bytes (UCS-2LE, space-padded), in card order.
TEXT_FIELDS: tuple[tuple[str, int], ...] = (
    ("name", 30),
    ("sex", 2),
    ("nation", 4),
    ("birth_date", 16),
    ("address", 70),
    ("id_number", 36),
    ("issuer", 30),
    ("valid_from", 16),
    ("valid_until", 16),
    ("reserved", 36),
)

_SEX_FROM_CODE = {"1": "male", "2": "female"}
_SEX_TO_CODE = {"male": "1", "female": "2", "unknown": "0"}


def _parse_date(field: str, text: str) -> date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise DeviceProtocolError(f"{field} {text!r} is not a YYYYMMDD date")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as err:
        raise DeviceProtocolError(f"{field} {text!r} is not a calendar date") from err


def parse_text_block(block: bytes) -> dict[str, str]:
    """The raw text fields of a 256-byte block, padding removed (no interpretation)."""
    if len(block) != TEXT_SIZE:
        raise DeviceProtocolError(f"text block is {len(block)} bytes, expected {TEXT_SIZE}")
    fields: dict[str, str] = {}
    offset = 0
    for name, size in TEXT_FIELDS:
        raw = block[offset : offset + size]
        offset += size
        # Rare characters outside the BMP cannot be on the card; a lone surrogate becomes
        # U+FFFD rather than failing the whole card.
        fields[name] = raw.decode("utf-16-le", errors="replace").strip(" \x00")
    return fields


def parse_card(text: bytes, photo: bytes = b"") -> IdCard:
    """An IdCard from the text block and the (opaque, wlt-compressed) photo."""
    fields = parse_text_block(text)
    until = fields["valid_until"]
    return IdCard(
        name=fields["name"],
        sex=_SEX_FROM_CODE.get(fields["sex"], "unknown"),
        nation=nation_name(fields["nation"]),
        birth_date=_parse_date("birth date", fields["birth_date"]),
        address=fields["address"],
        id_number=fields["id_number"],
        issuer=fields["issuer"],
        valid_from=_parse_date("validity start", fields["valid_from"]),
        valid_until=None if until == LONG_TERM else _parse_date("validity end", until),
        photo=photo,
    )


def parse_basic_info(data: bytes) -> IdCard:
    """The data of a READ_BASIC_INFO answer: text length, photo length, text, photo."""
    if len(data) < 4:
        raise DeviceProtocolError(f"basic info of {len(data)} bytes has no length header")
    text_len = int.from_bytes(data[:2], "big")
    photo_len = int.from_bytes(data[2:4], "big")
    if text_len < TEXT_SIZE:
        raise DeviceProtocolError(f"text block of {text_len} bytes, expected {TEXT_SIZE}")
    if len(data) < 4 + text_len + photo_len:
        raise DeviceProtocolError(
            f"basic info is {len(data)} bytes, header promises {4 + text_len + photo_len}"
        )
    text = data[4 : 4 + TEXT_SIZE]
    photo = data[4 + text_len : 4 + text_len + photo_len]
    return parse_card(text, photo)


def _pad(field: str, value: str, size: int) -> bytes:
    raw = value.encode("utf-16-le")
    if len(raw) > size:
        raise ValueError(f"{field} {value!r} is longer than {size // 2} characters")
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def encode_text_block(card: IdCard) -> bytes:
    """The 256-byte text block for a card (simulator and emulator side)."""
    until = card.valid_until
    values = {
        "name": card.name,
        "sex": _SEX_TO_CODE.get(card.sex, "0"),
        "nation": nation_code(card.nation),
        "birth_date": card.birth_date.strftime("%Y%m%d"),
        "address": card.address,
        "id_number": card.id_number,
        "issuer": card.issuer,
        "valid_from": card.valid_from.strftime("%Y%m%d"),
        "valid_until": LONG_TERM if until is None else until.strftime("%Y%m%d"),
        "reserved": "",
    }
    return b"".join(_pad(name, values[name], size) for name, size in TEXT_FIELDS)


def encode_basic_info(card: IdCard) -> bytes:
    """The data of a READ_BASIC_INFO answer for a card (simulator and emulator side)."""
    text = encode_text_block(card)
    return len(text).to_bytes(2, "big") + len(card.photo).to_bytes(2, "big") + text + card.photo


def format_sam_id(data: bytes) -> str:
    """The security module's id as readers print it, e.g. 05.01-20101010-0012345678-1234567890."""
    if len(data) != 16:
        return data.hex()
    a = int.from_bytes(data[0:2], "little")
    b = int.from_bytes(data[2:4], "little")
    c = int.from_bytes(data[4:8], "little")
    d = int.from_bytes(data[8:12], "little")
    e = int.from_bytes(data[12:16], "little")
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"
