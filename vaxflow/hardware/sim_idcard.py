"""A simulated ID-card reader for the demo, the app and flow tests, with injectable faults.

``sim://`` is an empty reader; ``sim://?card=zhang,li`` places the named demo cards one
after another (each is lifted once it has been reported); ``&fault=unplugged|timeout|garbled``
starts with a fault. Cards travel through the real frame encoder and decoder, so a garbled
answer fails exactly as it would from hardware. Like the serial driver it reports a card
once; it must be removed (`remove()`) and presented again to be reported again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from datetime import date
from enum import StrEnum
from urllib.parse import parse_qs, urlsplit

from vaxflow.hardware.errors import DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from vaxflow.hardware.idcard_protocol import (
    FrameDecoder,
    Response,
    Sw3,
    encode_basic_info,
    encode_response,
    parse_basic_info,
    parse_response,
)
from vaxflow.hardware.interfaces import DeviceHealth, DeviceState, IdCard

logger = logging.getLogger(__name__)

_PHOTO = bytes(range(256)) * 4  # stands in for the 1024-byte wlt photo

#: Demo people; ID numbers carry valid GB 11643 check digits but belong to no one.
DEMO_CARDS: dict[str, IdCard] = {
    "zhang": IdCard(
        name="张小明",
        sex="male",
        nation="汉",
        birth_date=date(1990, 1, 1),
        address="广西壮族自治区南宁市青秀区民族大道100号",
        id_number="450103199001011238",
        issuer="南宁市公安局青秀分局",
        valid_from=date(2015, 6, 1),
        valid_until=date(2035, 6, 1),
        photo=_PHOTO,
    ),
    "li": IdCard(
        name="李华",
        sex="female",
        nation="回",
        birth_date=date(1958, 3, 15),
        address="北京市东城区东华门街道1号",
        id_number="11010119580315002X",
        issuer="北京市公安局东城分局",
        valid_from=date(2010, 9, 9),
        valid_until=None,
        photo=_PHOTO,
    ),
    "minor": IdCard(
        name="王小雨",
        sex="female",
        nation="壮",
        birth_date=date(2012, 7, 20),
        address="广西壮族自治区南宁市西乡塘区大学东路1号",
        id_number="450107201207200021",
        issuer="南宁市公安局西乡塘分局",
        valid_from=date(2022, 8, 1),
        valid_until=date(2027, 8, 1),
        photo=_PHOTO,
    ),
}


class SimFault(StrEnum):
    """Faults a test or the demo can switch on."""

    NONE = "none"
    UNPLUGGED = "unplugged"
    TIMEOUT = "timeout"
    GARBLED = "garbled"


class SimIdCardReader:
    """An in-memory reader: `present(card)` puts a card on it, `remove()` lifts it."""

    def __init__(self, url: str = "sim://", *, command_timeout: float = 1.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "sim":
            raise ValueError(f"{url!r} is not a sim:// URL")
        query = parse_qs(parts.query)
        self.url = url
        self.command_timeout = command_timeout
        self.fault = SimFault(query.get("fault", ["none"])[0])
        names = [n for value in query.get("card", []) for n in value.split(",") if n]
        unknown = [n for n in names if n not in DEMO_CARDS]
        if unknown:
            choices = ", ".join(DEMO_CARDS)
            raise ValueError(f"unknown demo card {unknown[0]!r}; use one of: {choices}")
        self._queue: deque[IdCard] = deque(DEMO_CARDS[n] for n in names)
        self._card: IdCard | None = None
        self._reported = False
        self._changed = asyncio.Event()
        self._opened = False
        self.reads = 0

    def present(self, card: IdCard) -> None:
        """Place a card on the reader (replacing any card there)."""
        self._card = card
        self._reported = False
        self._changed.set()

    def remove(self) -> None:
        """Lift the card; the next one queued by the URL, if any, is placed next."""
        self._card = None
        self._reported = False
        self._changed.set()

    async def open(self) -> None:
        self._check_plugged()
        self._opened = True

    async def read_card(self, timeout: float) -> IdCard | None:  # noqa: ASYNC109 (protocol)
        """The next newly placed card, or None when none appeared within `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._check_plugged()
            if self.fault is SimFault.TIMEOUT:
                await asyncio.sleep(min(timeout, self.command_timeout))
                raise DeviceTimeout(f"{self.url}: no answer (simulated)")
            if self._card is None and self._reported is False and self._queue:
                self._card = self._queue.popleft()
            if self._card is not None and not self._reported:
                card = self._through_the_wire(self._card)
                self._reported = True
                self.reads += 1
                if self._queue:  # a URL-queued card is lifted as soon as it has been read
                    self._card = None
                    self._reported = False
                return card
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await self._changed.wait()
            except TimeoutError:
                return None

    async def health(self) -> DeviceHealth:
        if self.fault is SimFault.UNPLUGGED:
            state, reason = DeviceState.OFFLINE, "unplugged"
        elif self.fault is SimFault.TIMEOUT:
            state, reason = DeviceState.UNKNOWN, "no_answer"
        elif self.fault is SimFault.GARBLED:
            state, reason = DeviceState.FAULT, "protocol_error"
        else:
            state, reason = DeviceState.OK, ""
        return DeviceHealth(
            kind="idcard", url=self.url, state=state, reason=reason, detail="simulated"
        )

    async def close(self) -> None:
        self._opened = False

    def inject(self, fault: SimFault | str) -> None:
        """Switch a fault on (or off with "none"); wakes a waiting read."""
        self.fault = SimFault(fault)
        self._changed.set()

    def _check_plugged(self) -> None:
        if self.fault is SimFault.UNPLUGGED:
            raise DeviceUnavailable(f"{self.url}: reader unplugged (simulated)")

    def _through_the_wire(self, card: IdCard) -> IdCard:
        """Encode the answer frame as a reader would, optionally garble it, and decode it."""
        frame = encode_response(Response(Sw3.OK, encode_basic_info(card)))
        if self.fault is SimFault.GARBLED:
            frame = frame[:-1] + bytes([frame[-1] ^ 0xFF])
        decoder = FrameDecoder()
        bodies = decoder.feed(frame)
        if not bodies:
            raise DeviceProtocolError(f"{self.url}: garbled answer (simulated)")
        return parse_basic_info(parse_response(bodies[0]).data)
