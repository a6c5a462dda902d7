"""Print a vaccination certificate slip on the exit printer: layout, ESC/POS bytes, one job."""

from __future__ import annotations

import logging
from typing import Any

from vaxflow.hardware.errors import DeviceTimeout, DeviceUnavailable, HardwareError
from vaxflow.hardware.escpos_render import render_escpos
from vaxflow.hardware.layout import CertificateView, certificate_layout
from vaxflow.hardware.urls import open_device

logger = logging.getLogger(__name__)

#: Longest one certificate print may take, in seconds.
PRINT_TIMEOUT = 10.0


def certificate_bytes(certificate: dict[str, Any]) -> bytes:
    """The ESC/POS bytes of a certificate as the exit endpoint returns it (masked person)."""
    window = certificate.get("next_dose")
    next_dose = None
    if window is not None:
        next_dose = f"{window['earliest']} – {window['latest'] or '…'}"
    view = CertificateView(
        site_name=certificate["site_name"],
        person_name_masked=certificate["name"],
        id_masked=certificate["id_number"],
        product=certificate["product"],
        manufacturer=certificate["manufacturer"],
        lot=certificate["lot"],
        dose_number=certificate["dose_number"],
        doses_in_series=certificate["doses_in_series"],
        date=certificate["date"],
        next_dose_window=next_dose,
        qr_payload=certificate.get("qr"),  # signed: anyone can verify it (issue 15)
    )
    return render_escpos(certificate_layout(view))


async def print_outcome(url: str, certificate: dict[str, Any]) -> str | None:
    """Print one slip; None when it printed, else a short reason (paper_out, cover_open,
    offline, timeout, error). What the site server is given to print with (its shells wire
    it in: the server itself imports no device code)."""
    try:
        await print_certificate(url, certificate)
    except OSError as err:  # HardwareError is an OSError
        logger.error("certificate of %s did not print: %s", certificate.get("ticket"), err)
        return fault_reason(err)
    return None


def fault_reason(err: OSError) -> str:
    """A short reason code for a print failure."""
    reason = getattr(err, "reason", "")
    if isinstance(reason, str) and reason:
        return reason
    if isinstance(err, DeviceTimeout):
        return "timeout"
    if isinstance(err, DeviceUnavailable | ConnectionError):
        return "offline"
    return "error"


async def print_certificate(url: str, certificate: dict[str, Any]) -> None:
    """Open the printer named by `url`, print one slip, close it; HardwareError on failure."""
    printer = open_device("printer", url)
    try:
        await printer.print_bytes(certificate_bytes(certificate), timeout=PRINT_TIMEOUT)
        logger.info("certificate of %s printed on %s", certificate.get("ticket"), url)
    except HardwareError:
        raise
    finally:
        await printer.close()
