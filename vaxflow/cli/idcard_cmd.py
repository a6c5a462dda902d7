"""`vaxflow idcard read --device URL`: read one ID card, for setting up and checking a reader."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from vaxflow.hardware.errors import DeviceProtocolError, DeviceTimeout, DeviceUnavailable
from vaxflow.hardware.interfaces import IdCard, IdCardReader
from vaxflow.hardware.urls import UnknownDeviceScheme, open_device
from vaxflow.queue.core.privacy import mask_id_number, mask_name


def register(sub: Any) -> None:
    idcard = sub.add_parser("idcard", help="ID-card reader")
    idcard_sub = idcard.add_subparsers(dest="idcard_command", required=True, metavar="ACTION")
    read = idcard_sub.add_parser("read", help="wait for one card and print what it holds")
    read.add_argument(
        "--device",
        required=True,
        metavar="URL",
        help="reader URL: serial:///dev/ttyUSB0?baudrate=115200, or sim://?card=zhang",
    )
    read.add_argument("--json", action="store_true", help="print the card as JSON")
    read.add_argument(
        "--show-id", action="store_true", help="print the full name and ID number (staff only)"
    )
    read.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds to wait for a card"
    )
    read.set_defaults(func=_read)


async def _read_one(url: str, wait: float) -> IdCard | None:
    reader: IdCardReader = open_device("idcard", url)
    try:
        await reader.open()
        return await reader.read_card(wait)
    finally:
        await reader.close()


def _read(args: argparse.Namespace) -> int:
    try:
        card = asyncio.run(_read_one(args.device, args.timeout))
    except (UnknownDeviceScheme, ValueError) as err:
        return _fail(f"bad device URL: {err}", code=2)
    except DeviceUnavailable as err:
        return _fail(f"ID-card reader not available (unplugged or wrong port?): {err}")
    except DeviceTimeout as err:
        return _fail(f"ID-card reader did not answer: {err}")
    except DeviceProtocolError as err:
        return _fail(f"ID-card reader answered with something unreadable: {err}")
    if card is None:
        return _fail(f"no card placed on the reader within {args.timeout:g} s")
    fields = _fields(card, show_id=args.show_id)
    if args.json:
        print(json.dumps(fields, ensure_ascii=False, indent=2))
    else:
        valid_until = fields["valid_until"] or "long-term"
        print(f"name:       {fields['name']}")
        print(f"sex:        {fields['sex']}")
        print(f"nation:     {fields['nation']}")
        print(f"born:       {fields['birth_date']}")
        print(f"address:    {fields['address']}")
        print(f"ID number:  {fields['id_number']}")
        print(f"issuer:     {fields['issuer']}")
        print(f"valid:      {fields['valid_from']} to {valid_until}")
        print(f"photo:      {fields['photo_bytes']} bytes (wlt, not decoded)")
    return 0


def _fields(card: IdCard, *, show_id: bool) -> dict[str, Any]:
    """The card as plain values; name and ID number masked unless the operator asked."""
    return {
        "name": card.name if show_id else mask_name(card.name),
        "sex": card.sex,
        "nation": card.nation,
        "birth_date": card.birth_date.isoformat(),
        "address": card.address,
        "id_number": card.id_number if show_id else mask_id_number(card.id_number),
        "issuer": card.issuer,
        "valid_from": card.valid_from.isoformat(),
        "valid_until": card.valid_until.isoformat() if card.valid_until else None,
        "photo_bytes": len(card.photo),
    }


def _fail(message: str, *, code: int = 1) -> int:
    print(f"vaxflow idcard read: {message}", file=sys.stderr)
    return code
