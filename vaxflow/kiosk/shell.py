"""The kiosk's asyncio shell: devices and the site server in, flow effects out. No Kivy here.

The shell owns the flow's state. Events come from the device loops, the server calls it
runs, timers and the screens (`touch`); every effect the flow returns runs as a task with a
deadline. The Kivy app (app.py) only renders `state` and forwards touches; the tour, the
GUI tests and the benchmark drive the same shell.

Device health tells the marshal the truth: every device (scanner, ID-card reader, printer,
voice) is reported when it opens at start, and again whenever its state changes (reading,
garbling, unplugged, back), so a restarted kiosk clears an alert its last run left standing.
Printed tickets carry the site's time (the site file's zone, confirmed by the server's
/api/time), never the kiosk computer's own zone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vaxflow.hardware.errors import DeviceProtocolError, DeviceTimeout, HardwareError
from vaxflow.hardware.escpos_render import PrinterProfile, render_escpos
from vaxflow.hardware.interfaces import DeviceHealth, IdCard, IdCardReader, Scanner, TicketPrinter
from vaxflow.hardware.layout import TicketView, ticket_layout
from vaxflow.hardware.print_queue import JobState, PrintQueue
from vaxflow.hardware.printer_status import health_json
from vaxflow.hardware.scan_text import InvalidScan
from vaxflow.hardware.speech import ESPEAK, Speaker
from vaxflow.kiosk import flow as f
from vaxflow.queue.client.site import ServerRefused, ServerUnreachable, SiteClient

log = logging.getLogger(__name__)

TicketViewMaker = Callable[[f.Ticket, str, datetime], TicketView]
#: The words to say for a state (screens/kiosk/texts.py `spoken_words`, from the catalogues).
SpokenWords = Callable[[f.State], str]


@dataclass
class Devices:
    """The three devices and their URLs (for health reports)."""

    scanner: Scanner
    idcard: IdCardReader
    printer: TicketPrinter
    urls: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ShellOptions:
    """Deadlines in seconds, and who this kiosk is."""

    device_id: str = "kiosk-1"
    device_timeout: float = 5.0
    read_poll: float = 0.5  # one scanner / reader read waits at most this long
    reconnect_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
    health_every: float = 30.0
    speech_command: tuple[str, ...] = ESPEAK  # {voice} and {text} filled in per prompt
    speech_env: Mapping[str, str] | None = None  # where to look for a sound device (os.environ)
    speech_seconds: float = 30.0  # longest one prompt may play
    abandon_attempts: int = 60  # replays of an unanswered check-in before giving up
    bad_reads_fault: int = 3  # garbled reads in a row after which the device's health is reported


class KioskShell:
    """Runs the flow against real or simulated devices and a site server."""

    def __init__(
        self,
        client: SiteClient,
        devices: Devices,
        ticket_view: TicketViewMaker,
        *,
        flow: f.Flow | None = None,
        options: ShellOptions | None = None,
        profile: PrinterProfile | None = None,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        today: Callable[[], date] | None = None,
        site_zone: str | None = None,
        spoken_words: SpokenWords | None = None,
    ) -> None:
        self.client = client
        self.devices = devices
        self.ticket_view = ticket_view
        self.flow = flow or f.Flow(_new_request_id)
        self.options = options or ShellOptions()
        self.profile = profile or PrinterProfile()
        self.now = now
        self.today = today or (lambda: now().date())
        self.site_zone = site_zone  # IANA zone of the site; the server's /api/time confirms it
        self.spoken_words = spoken_words
        self.speaker = Speaker(
            self.options.speech_command,
            env=self.options.speech_env,
            report=self._voice_report,
            seconds=self.options.speech_seconds,
        )
        self.print_queue = PrintQueue(devices.printer, timeout=self.options.device_timeout)
        step = self.flow.start()
        self.state: f.State = step.state
        self.listeners: list[Callable[[f.State], None]] = []
        #: (ticket number, loop time its bytes went to the printer, loop time it was printed)
        self.printed: list[tuple[str, float, float]] = []
        self._timeout: float | None = step.timeout
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._waiters: list[tuple[Callable[[f.State], bool], asyncio.Future[f.State]]] = []
        self._health: dict[str, str] = {}  # device kind -> the state the marshal was last told
        self._reporting: set[str] = set()  # kinds whose health is being asked right now
        self._stopping = False

    # --- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the device loops and the health reports; devices open (and reopen) in them."""
        self._spawn(self._scanner_loop())
        self._spawn(self._card_loop())
        self._spawn(self._printer_watch())
        self._spawn(self._learn_site_zone())
        self._notify()

    async def stop(self) -> None:
        """Cancel every task and wait for it; close the devices and the client."""
        self._stopping = True
        if self._timer is not None:
            self._timer.cancel()
        with contextlib.suppress(OSError):
            await self.speaker.hush()
        pending = set(self._tasks)
        while pending:  # a cancel that lands as an awaited call completes can be lost: repeat
            for task in pending:
                task.cancel()
            _done, pending = await asyncio.wait(pending, timeout=0.5)
        for device in (self.devices.scanner, self.devices.idcard, self.devices.printer):
            with contextlib.suppress(HardwareError, OSError, TimeoutError):
                async with asyncio.timeout(self.options.device_timeout):
                    await device.close()
        await self.client.close()

    # --- input ---------------------------------------------------------------------------

    def touch(self, action: f.Action, value: str = "") -> None:
        self.dispatch(f.Touched(action, value, self.today()))

    def activity(self) -> None:
        """A touch anywhere: the person is still there, so restart the inactivity timer."""
        self._arm(self._timeout)

    def dispatch(self, event: f.Event) -> None:
        """Feed one event to the flow and run what it asks for."""
        step = self.flow.handle(self.state, event)
        if step.state is self.state:
            return
        self.state = step.state
        if step.rearm:
            self._timeout = step.timeout
            self._arm(step.timeout)
        for effect in step.effects:
            self._run(effect)
        self._notify()

    async def wait_for(self, predicate: Callable[[f.State], bool], within: float = 10.0) -> f.State:
        """The first state (now or later) that satisfies `predicate` (tests, tour, benchmark)."""
        if predicate(self.state):
            return self.state
        future: asyncio.Future[f.State] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        async with asyncio.timeout(within):
            return await future

    async def wait_screen(self, screen: f.Screen, within: float = 10.0) -> f.State:
        return await self.wait_for(lambda s: s.screen is screen, within)

    # --- internals -----------------------------------------------------------------------

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener(self.state)
        still = []
        for predicate, future in self._waiters:
            if future.done():
                continue
            if predicate(self.state):
                future.set_result(self.state)
            else:
                still.append((predicate, future))
        self._waiters = still

    def _arm(self, seconds: float | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if seconds is not None and not self._stopping:
            seq = self.state.idle_seq
            self._timer = asyncio.get_running_loop().call_later(seconds, self.dispatch, f.Idle(seq))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("kiosk task failed", exc_info=task.exception())

    def _run(self, effect: f.Effect) -> None:
        match effect:
            case f.ServerCall(call):
                self._spawn(self._server_call(call))
            case f.RetryLater(seconds, seq):
                asyncio.get_running_loop().call_later(seconds, self.dispatch, f.RetryDue(seq))
            case f.PrintTicket(ticket, language, _reprint):
                self._spawn(self._print(ticket, language))
            case f.ReportPrint(visit_id, ok, reason):
                body = {"ok": ok, "reason": reason}
                self._spawn(self._post_until_done(f"/api/visits/{visit_id}/print-status", body))
            case f.AlertStaff(kind, reason):
                self._spawn(self._alert(kind, reason))
            case f.Abandon(call):
                self._spawn(self._abandon(call))
            case f.Speak(_screen, language):
                words = self.spoken_words(self.state) if self.spoken_words else ""
                if words:
                    self._spawn(self.speaker.say(words, language))
            case f.Hush():
                self._spawn(self.speaker.hush())

    async def _send(self, call: f.Call) -> Any:
        path = "/api/checkins/precheck" if call.kind == "precheck" else "/api/checkins"
        return await self.client.post(path, dict(call.body), request_id=call.request_id)

    async def _server_call(self, call: f.Call) -> None:
        try:
            data = await self._send(call)
        except ServerUnreachable as err:
            log.warning("server unreachable (%s): %s", call.kind, err)
            self.dispatch(f.Unreachable(call.id, str(err)))
        except ServerRefused as err:
            if err.status >= 500:
                self.dispatch(f.Unreachable(call.id, str(err)))
            else:
                self.dispatch(f.Refused(call.id, err.reason, err.messages, err.hints))
        except Exception as err:  # a bug must not leave the person on a spinner: retry
            log.exception("server call %s failed unexpectedly", call.kind)
            self.dispatch(f.Unreachable(call.id, repr(err)))
        else:
            self.dispatch(f.Answered(call.id, data))

    async def _print(self, ticket: f.Ticket, language: str) -> None:
        loop = asyncio.get_running_loop()
        data = render_escpos(ticket_layout(self.ticket_view(ticket, language, self.site_now())))
        handed = loop.time()
        job = await self.print_queue.submit(data, label=ticket.number)
        if job.state is JobState.PRINTED:
            self.printed.append((ticket.number, handed, loop.time()))
            self.dispatch(f.Printed())
        else:
            self.dispatch(f.PrintFailed(job.reason or "unavailable"))

    async def _post_until_done(self, path: str, body: dict[str, Any], tries: int = 30) -> Any:
        """A report the server must get: retried with one idempotency key until answered."""
        request_id = _new_request_id()
        delays = self.options.reconnect_delays
        for attempt in range(tries):
            try:
                return await self.client.post(path, body, request_id=request_id)
            except ServerUnreachable:
                await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
            except ServerRefused as err:
                log.warning("%s refused: %s", path, err)
                return None
        log.error("%s: gave up after %d tries", path, tries)
        return None

    async def _alert(self, kind: str, reason: str) -> None:
        device = {"printer": self.devices.printer, "idcard": self.devices.idcard}.get(
            kind, self.devices.scanner
        )
        health = await self._device_health(kind, device)
        if health is None or health.state == "ok":
            # The device says it is fine but the job failed: still tell staff why.
            body = {
                "device_id": f"{self.options.device_id}-{kind}",
                "kind": kind,
                "url": self.devices.urls.get(kind, ""),
                "state": "fault",
                "reason": reason[:60],
                "detail": "",
            }
        else:
            body = dict(health_json(health, f"{self.options.device_id}-{kind}"))
        self._health[kind] = body["state"]
        await self._post_until_done("/api/devices/health", body)

    async def _device_health(self, kind: str, device: Any) -> DeviceHealth | None:
        try:
            async with asyncio.timeout(self.options.device_timeout):
                health: DeviceHealth = await device.health()
        except (TimeoutError, HardwareError) as err:
            log.warning("%s health: %s", kind, err)
            return None
        return health

    async def _abandon(self, call: f.Call) -> None:
        """Finish a check-in whose answer never came, and cancel the ticket nobody saw."""
        delays = self.options.reconnect_delays
        for attempt in range(self.options.abandon_attempts):
            try:
                data = await self._send(call)
            except ServerUnreachable:
                await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
                continue
            except ServerRefused:
                return  # refused: no ticket was issued
            visit_id = int(data["visit_id"])
            log.info("cancelling ticket %s: the person left before seeing it", data.get("ticket"))
            await self._post_until_done(
                f"/api/visits/{visit_id}/cancel", {"reason": "left the kiosk before the ticket"}
            )
            return

    def site_now(self) -> datetime:
        """Now in the site's zone (the kiosk computer's own zone may be anything, e.g. UTC)."""
        now = self.now()
        if self.site_zone:
            try:
                return now.astimezone(ZoneInfo(self.site_zone))
            except (ZoneInfoNotFoundError, ValueError):
                log.error("unknown site time zone %r: tickets show the kiosk's", self.site_zone)
        return now.astimezone()

    async def _learn_site_zone(self) -> None:
        """The site's zone from the server (the one source of truth), retried until known."""
        delays = self.options.reconnect_delays
        for attempt in range(30):
            try:
                answer = await self.client.time()
            except (ServerUnreachable, ServerRefused) as err:  # AnswerBroken is ServerUnreachable
                log.info("site time zone not known yet: %s", err)
                await asyncio.sleep(delays[min(attempt, len(delays) - 1)])
                continue
            zone = answer.timezone
            if zone and zone != self.site_zone:
                log.info("site time zone %s (was %s)", zone, self.site_zone)
                self.site_zone = zone
            return

    async def _voice_report(self, state: str, reason: str, detail: str) -> None:
        """The speaker's health, to the marshal like any device (never holds the speaker)."""
        body = {
            "device_id": f"{self.options.device_id}-voice",
            "kind": "voice",
            "url": self.options.speech_command[0],
            "state": state,
            "reason": reason[:60],
            "detail": detail[:300],
        }
        self._health["voice"] = state
        self._spawn(self._post_until_done("/api/devices/health", body, tries=3))

    # --- device loops: each reopens its device by itself --------------------------------------

    async def _keep_open(self, kind: str, device: Any, attempt: int) -> None:
        delays = self.options.reconnect_delays
        if attempt:
            await asyncio.sleep(delays[min(attempt - 1, len(delays) - 1)])
        with contextlib.suppress(HardwareError, OSError, TimeoutError):
            async with asyncio.timeout(self.options.device_timeout):
                await device.close()
        async with asyncio.timeout(self.options.device_timeout):
            await device.open()

    async def _device_loop(
        self, kind: str, device: Any, read: Callable[[], Awaitable[None]]
    ) -> None:
        failures = 0
        bad_reads = 0  # in a row: one is a card moved too soon, several a device at fault
        opened = False
        while True:
            try:
                if not opened:
                    await self._keep_open(kind, device, failures)
                    opened = True
                    if failures:
                        log.info("%s is back", kind)
                    self._spawn(self._report(kind, device))  # at start too: clears old alerts
                    failures = 0
                await read()
                if bad_reads >= self.options.bad_reads_fault:
                    log.info("%s reads cleanly again", kind)
                if self._health.get(kind, "ok") != "ok" and kind not in self._reporting:
                    # reads are clean but the marshal was last told otherwise: tell again
                    self._spawn(self._report(kind, device))
                bad_reads = 0
            except (DeviceProtocolError, DeviceTimeout, InvalidScan) as err:
                log.warning("%s: %s", kind, err)
                if kind == "idcard":
                    self.dispatch(f.CardUnreadable(type(err).__name__))
                bad_reads += 1
                if bad_reads == self.options.bad_reads_fault:
                    self._spawn(self._report(kind, device))
                await asyncio.sleep(self.options.read_poll)
            except (HardwareError, OSError, TimeoutError) as err:
                if failures == 0:
                    log.warning("%s unavailable, reconnecting: %s", kind, err)
                    self._spawn(self._report(kind, device))
                failures += 1
                opened = False

    async def _scanner_loop(self) -> None:
        scanner = self.devices.scanner

        async def read() -> None:
            scan = await scanner.read(self.options.read_poll)
            if scan is not None:
                self.dispatch(f.Scanned(scan.text, self.today()))

        await self._device_loop("scanner", scanner, read)

    async def _card_loop(self) -> None:
        reader = self.devices.idcard

        async def read() -> None:
            card = await reader.read_card(self.options.read_poll)
            if card is not None:
                self.dispatch(f.CardRead(card_of(card), self.today()))

        await self._device_loop("idcard", reader, read)

    async def _printer_watch(self) -> None:
        """Report the printer's health when it changes; reprint failed jobs when it recovers."""
        printer = self.devices.printer
        while True:
            await self._report("printer", printer)
            await asyncio.sleep(self.options.health_every)

    async def _report(self, kind: str, device: Any) -> None:
        """Tell the marshal the device's state if it is not what they were last told."""
        self._reporting.add(kind)
        try:
            health = await self._device_health(kind, device)
        finally:
            self._reporting.discard(kind)
        if health is None:
            return
        body = dict(health_json(health, f"{self.options.device_id}-{kind}"))
        if self._health.get(kind) == body["state"]:
            return
        self._health[kind] = body["state"]
        await self._post_until_done("/api/devices/health", body, tries=3)


def card_of(card: IdCard) -> f.Card:
    """The flow's view of a card read by the hardware layer."""
    return f.Card(card.id_number, card.name, card.birth_date, card.sex)


def _new_request_id() -> str:
    from vaxflow.queue.client.site import new_request_id

    return new_request_id()
