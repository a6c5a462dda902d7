"""SimPrinter's files and faults, and the print queue that keeps failed jobs for a reprint."""

from __future__ import annotations

from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from vaxflow.hardware.errors import DeviceTimeout, DeviceUnavailable, PrinterNotReady
from vaxflow.hardware.escpos_render import PrinterProfile, render_escpos
from vaxflow.hardware.interfaces import DeviceState
from vaxflow.hardware.layout import ticket_layout
from vaxflow.hardware.print_queue import JobState, PrintQueue
from vaxflow.hardware.sim_printer import SimFault, SimPrinter, parse_faults
from vaxflow.hardware.urls import open_device

from .test_layout import TICKET_EN, TICKET_ZH

TICKET = render_escpos(ticket_layout(TICKET_ZH))


@pytest.mark.parametrize("qr", ["native", "raster"])
async def test_sim_writes_bin_and_png_whose_qr_decodes(tmp_path: Path, qr: str) -> None:
    printer = open_device("printer", f"sim://?dir={tmp_path}&qr={qr}")
    assert isinstance(printer, SimPrinter)
    data = render_escpos(ticket_layout(TICKET_EN), PrinterProfile(qr=qr))  # type: ignore[arg-type]
    await printer.open()
    await printer.print_bytes(data, timeout=5)
    await printer.close()
    assert (tmp_path / "job-0001.bin").read_bytes() == data
    with Image.open(tmp_path / "job-0001.png") as image:
        assert [r.text for r in zxingcpp.read_barcodes(image)] == [TICKET_EN.qr_payload]
    assert printer.jobs == [data]


async def test_sim_without_dir_keeps_jobs_in_memory() -> None:
    printer = SimPrinter("sim://")
    await printer.print_bytes(TICKET, timeout=5)
    assert printer.jobs == [TICKET] and printer.directory is None


@pytest.mark.parametrize(
    ("fault", "error", "state", "reason"),
    [
        (SimFault.PAPER_OUT, PrinterNotReady, DeviceState.FAULT, "paper_out"),
        (SimFault.COVER_OPEN, PrinterNotReady, DeviceState.FAULT, "cover_open"),
        (SimFault.OFFLINE, DeviceUnavailable, DeviceState.OFFLINE, "unplugged"),
        (SimFault.TIMEOUT, DeviceTimeout, DeviceState.UNKNOWN, "no_status_reply"),
    ],
)
async def test_sim_faults(
    fault: SimFault, error: type[Exception], state: DeviceState, reason: str
) -> None:
    printer = SimPrinter("sim://")
    printer.set_fault(fault)
    with pytest.raises(error):
        await printer.print_bytes(TICKET, timeout=0.05)
    health = await printer.health()
    assert (health.state, health.reason) == (state, reason)
    assert printer.jobs == []
    printer.set_fault(fault, active=False)
    await printer.print_bytes(TICKET, timeout=5)
    assert (await printer.health()).state is DeviceState.OK


async def test_sim_paper_near_end_from_url_prints_with_warning() -> None:
    printer = SimPrinter("sim://?fault=paper_near_end")
    await printer.print_bytes(TICKET, timeout=5)
    health = await printer.health()
    assert (health.state, health.reason) == (DeviceState.WARNING, "paper_near_end")


@pytest.mark.parametrize(
    ("text", "faults"),
    [
        ("", frozenset()),
        ("paper_out", frozenset({SimFault.PAPER_OUT})),
        ("cover_open, timeout", frozenset({SimFault.COVER_OPEN, SimFault.TIMEOUT})),
    ],
)
def test_parse_faults(text: str, faults: frozenset[SimFault]) -> None:
    assert parse_faults(text) == faults


def test_unknown_fault_fails_with_the_list() -> None:
    with pytest.raises(ValueError, match=r"unknown printer fault 'jam'.*paper_out"):
        SimPrinter("sim://?fault=jam")


async def test_failed_print_is_kept_and_reprinted() -> None:
    printer = SimPrinter("sim://?fault=paper_out")
    queue = PrintQueue(printer, timeout=1)
    job = await queue.submit(TICKET, label="E007")
    assert (job.state, job.reason, job.attempts) == (JobState.FAILED, "paper_out", 1)
    assert queue.failed() == [job]
    printer.clear_faults()
    [again] = await queue.retry_failed()
    assert (again.id, again.state, again.reason, again.attempts) == (
        job.id,
        JobState.PRINTED,
        "",
        2,
    )
    assert queue.failed() == [] and printer.jobs == [TICKET]
    lost = await queue.reprint(job.id)  # the person lost the ticket: same bytes again
    assert lost.attempts == 3 and printer.jobs == [TICKET, TICKET]


@pytest.mark.parametrize(
    ("fault", "reason"),
    [(SimFault.TIMEOUT, "timeout"), (SimFault.OFFLINE, "unavailable")],
)
async def test_queue_failure_reasons(fault: SimFault, reason: str) -> None:
    printer = SimPrinter("sim://")
    printer.set_fault(fault)
    job = await PrintQueue(printer, timeout=0.05).submit(TICKET)
    assert (job.state, job.reason) == (JobState.FAILED, reason)


async def test_queue_keeps_a_bounded_number_of_printed_jobs() -> None:
    queue = PrintQueue(SimPrinter("sim://"), keep_printed=2)
    jobs = [await queue.submit(bytes([n])) for n in range(4)]
    with pytest.raises(KeyError):
        queue.get(jobs[0].id)
    assert queue.get(jobs[3].id).state is JobState.PRINTED
    with pytest.raises(KeyError, match="no print job"):
        await queue.reprint("job-999999")
