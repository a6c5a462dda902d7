"""`vaxflow ticket --number A023 --out ticket.bin [--png ticket.png]`: write a sample ticket.

For setting up a printer (does Chinese print? does the QR scan?) and for docs; the real
tickets are printed by the kiosk with the same layout and renderers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from vaxflow.clock import SystemClock
from vaxflow.hardware.errors import HardwareError
from vaxflow.hardware.escpos_render import PrinterProfile, render_escpos
from vaxflow.hardware.interfaces import TicketPrinter
from vaxflow.hardware.layout import TicketView, ticket_layout
from vaxflow.hardware.png_render import png_bytes
from vaxflow.hardware.urls import UnknownDeviceScheme, open_device
from vaxflow.queue.core import ticket_code


def register(sub: Any) -> None:
    ticket = sub.add_parser(
        "ticket",
        help="render a sample queue ticket to ESC/POS bytes (and a PNG, or a printer)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ticket.add_argument("--number", required=True, help="ticket number, e.g. A023")
    ticket.add_argument("--lane", default="Booked", help="lane name printed under the number")
    ticket.add_argument("--site", default="Demo Stadium Vaccination Site", help="site name")
    ticket.add_argument("--site-id", default="demo-stadium", help="site id in the QR payload")
    ticket.add_argument("--go-to", default="Hall A", help="where to go, e.g. 'Hall B, station 5'")
    ticket.add_argument("--wait", type=int, default=None, metavar="MIN", help="estimated wait")
    ticket.add_argument("--qr", default=None, help="QR payload (default: the vaxflow ticket code)")
    ticket.add_argument("--out", type=Path, default=None, help="write the ESC/POS bytes here")
    ticket.add_argument("--png", type=Path, default=None, help="write a PNG preview here")
    ticket.add_argument(
        "--profile",
        default="",
        metavar="QUERY",
        help="printer profile as in a device URL query, e.g. 'chinese=raster&qr=native&width=384'",
    )
    ticket.add_argument(
        "--print", dest="printer", default=None, metavar="URL", help="also send it to this printer"
    )
    ticket.add_argument("--timeout", type=float, default=10.0, metavar="S", help="print deadline")
    ticket.set_defaults(func=_ticket)


def _ticket(args: argparse.Namespace) -> int:
    if args.out is None and args.png is None and args.printer is None:
        return _fail("give --out, --png or --print", code=2)
    try:
        profile = PrinterProfile.from_url(f"x://?{args.profile}")
    except ValueError as err:
        return _fail(f"bad --profile: {err}", code=2)
    now = SystemClock().now().astimezone()
    view = TicketView(
        site_name=args.site,
        number=args.number,
        lane_name=args.lane,
        go_to=args.go_to,
        estimated_wait_minutes=args.wait,
        issued_at=now.strftime("%Y-%m-%d %H:%M"),
        qr_payload=args.qr or ticket_code.encode(args.site_id, now.date(), args.number),
    )
    layout = ticket_layout(view)
    data = render_escpos(layout, profile)
    try:
        if args.out is not None:
            args.out.write_bytes(data)
            print(f"{args.out}: {len(data)} bytes of ESC/POS")
        if args.png is not None:
            args.png.write_bytes(png_bytes(layout, profile.width))
            print(f"{args.png}: PNG preview")
    except OSError as err:
        return _fail(f"cannot write: {err}")
    if args.printer is not None:
        try:
            asyncio.run(_send(args.printer, data, args.timeout))
        except (UnknownDeviceScheme, ValueError) as err:
            return _fail(f"bad printer URL: {err}", code=2)
        except HardwareError as err:
            return _fail(f"not printed: {err}")
        print(f"{args.printer}: printed")
    return 0


async def _send(url: str, data: bytes, seconds: float) -> None:
    printer: TicketPrinter = open_device("printer", url)
    try:
        await printer.print_bytes(data, timeout=seconds)
    finally:
        await printer.close()


def _fail(message: str, code: int = 1) -> int:
    print(f"vaxflow ticket: {message}", file=sys.stderr)
    return code
