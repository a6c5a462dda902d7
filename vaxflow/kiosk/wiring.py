"""The kiosk's wiring: devices from the site file's URLs, the server client, the shell.

Kivy-free: the screens (`vaxflow.screens.kiosk.app`) give the shell their words as
callables (`ticket_view`, `spoken_words`) and run it under their Kivy app.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vaxflow.config import Settings
from vaxflow.hardware.escpos_render import PrinterProfile
from vaxflow.hardware.urls import open_device
from vaxflow.kiosk.flow import Flow, Timing
from vaxflow.kiosk.shell import Devices, KioskShell, ShellOptions, SpokenWords, TicketViewMaker
from vaxflow.queue.client.site import SiteClient, new_request_id


@dataclass(frozen=True)
class AppOptions:
    """How the kiosk runs; sizes in pixels, times in seconds."""

    server: str
    token: str
    device_id: str = "kiosk-1"
    sim_devices: bool = False
    printer_dir: Path | None = None  # where the simulated printer writes its jobs
    fullscreen: bool = True
    rotation: int = 0  # 0, 90, 180 or 270 degrees
    size: tuple[int, int] = (1080, 1920)  # window size when not fullscreen
    speak: bool = False  # the voice on from the start for everyone (always in elderly mode)
    server_timeout: float = 5.0
    elderly_factor: float = 2.0


def make_devices(settings: Settings, options: AppOptions) -> Devices:
    """Devices from the site file's URLs, or simulators (`--devices sim`)."""
    if options.sim_devices:
        printer_dir = options.printer_dir or Path("var/kiosk-printer")
        urls = {"scanner": "sim://", "idcard": "sim://", "printer": f"sim://?dir={printer_dir}"}
    else:
        urls = {
            "scanner": settings.devices.scanner,
            "idcard": settings.devices.idcard,
            "printer": settings.devices.printer,
        }
    return Devices(
        scanner=open_device("scanner", urls["scanner"]),
        idcard=open_device("idcard", urls["idcard"]),
        printer=open_device("printer", urls["printer"]),
        urls=urls,
    )


def make_shell(
    settings: Settings,
    options: AppOptions,
    client: SiteClient | None = None,
    *,
    ticket_view: TicketViewMaker,
    spoken_words: SpokenWords,
) -> KioskShell:
    """The shell with its devices, server client and timing; the words come from the screens."""
    devices = make_devices(settings, options)
    client = client or SiteClient(
        options.server,
        options.token,
        device=options.device_id,
        timeout=options.server_timeout,
        ca=settings.server.tls_ca,
    )
    timing = Timing(elderly_factor=options.elderly_factor)
    return KioskShell(
        client,
        devices,
        ticket_view,
        flow=Flow(
            new_request_id,
            timing,
            voice=options.speak,
            typed_documents=settings.kiosk.typed_documents,
        ),
        options=ShellOptions(
            device_id=options.device_id,
            device_timeout=settings.devices.timeout_seconds,
        ),
        profile=PrinterProfile.from_url(devices.urls["printer"]),
        site_zone=settings.site.timezone,
        spoken_words=spoken_words,
    )
