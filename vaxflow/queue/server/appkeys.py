"""Typed application keys of the site server, declared in one place."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web

from vaxflow.clock import Clock
from vaxflow.config import Settings
from vaxflow.queue.core.certificate_qr import CertificateKeys
from vaxflow.queue.core.staff_auth import StaffAuth
from vaxflow.queue.ops.estimates import WaitEstimates
from vaxflow.queue.server.auth import Principal, TokenTable
from vaxflow.queue.server.feed import EventHub
from vaxflow.queue.server.ratelimit import RateLimiter
from vaxflow.queue.server.route import Route
from vaxflow.queue.server.scrypt_gate import ScryptGate
from vaxflow.queue.server.site_metrics import SiteMetrics
from vaxflow.queue.store.writer import Store
from vaxflow.queue.uplink.registry_history import RegistryHistory
from vaxflow.queue.uplink.worker import Worker

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
STORE = web.AppKey("store", Store)
HUB = web.AppKey("hub", EventHub)
ESTIMATES = web.AppKey("estimates", WaitEstimates)
TOKENS = web.AppKey("tokens", TokenTable)
PRINCIPAL = web.RequestKey("principal", Principal)
HTTP = web.AppKey("http", aiohttp.ClientSession)
KIOSK_LIMITER = web.AppKey("kiosk_limiter", RateLimiter)
STAFF = web.AppKey("staff", StaffAuth)
#: The region shipper (`region_shipper.RegionShipper`) when `[region] url` is set (issue 16).
REGION_SHIPPER: web.AppKey[Any] = web.AppKey("region_shipper")
#: The region's dose-history client (`region_shipper.RegionHistory`), with the shipper.
REGION_HISTORY: web.AppKey[Any] = web.AppKey("region_history")
SCRYPT_GATE = web.AppKey("scrypt_gate", ScryptGate)
#: The app's own Prometheus registry and figures (`GET /metrics`, issue 20).
METRICS = web.AppKey("metrics", SiteMetrics)
#: The routes the app serves (the OpenAPI document describes these).
ROUTE_TABLE: web.AppKey[tuple[Route, ...]] = web.AppKey("route_table")

#: Prints a certificate on the printer at a URL: None when printed, else a short reason.
#: Given by the shell that runs the server (vaxflow.hardware.certificate_print.print_outcome):
#: the server imports no device code.
CertificatePrinter = Callable[[str, dict[str, Any]], Awaitable[str | None]]
CERTIFICATE_PRINTER: web.AppKey[CertificatePrinter | None] = web.AppKey("certificate_printer")

#: Renders a call announcement's texts (Chinese, English) to one WAV; None when it cannot.
#: Given by the shell that runs the server (vaxflow.hardware.announcer.Announcer().wav).
Announce = Callable[[tuple[str, ...]], Awaitable[bytes | None]]
ANNOUNCE: web.AppKey[Announce | None] = web.AppKey("announce")

#: The outbox's running workers, one per configured target (empty when none runs).
UPLINK_WORKERS: web.AppKey[tuple[Worker, ...]] = web.AppKey("uplink_workers")

#: The site's certificate signing key and the keys /verify trusts (issue 15).
CERTIFICATE_KEYS = web.AppKey("certificate_keys", CertificateKeys)
#: Asks the registry for earlier doses at check-in, skipping it a while after it failed.
REGISTRY_HISTORY = web.AppKey("registry_history", RegistryHistory)
