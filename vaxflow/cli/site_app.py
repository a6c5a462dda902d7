"""The site server as the commands run it: the app given this machine's printer and voice.

The server imports no device code (see docs/architecture.md); `vaxflow server` and
`vaxflow demo` give it the exit printer's print function and espeak-ng's announcer here.
"""

from __future__ import annotations

from aiohttp import web

from vaxflow.clock import Clock
from vaxflow.config import Settings
from vaxflow.hardware.announcer import Announcer
from vaxflow.hardware.certificate_print import print_outcome
from vaxflow.queue.server.app import create_app


def site_app(settings: Settings, *, db: str | None, clock: Clock) -> web.Application:
    """`create_app` with the hardware the server needs: certificate printing and speech."""
    return create_app(
        settings, db=db, clock=clock, certificate_printer=print_outcome, announce=Announcer().wav
    )
