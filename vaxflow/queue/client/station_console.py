"""The injection station's console as a view-model: what the screen shows and the actions it
offers, over the site client. No Kivy here; the Kivy screen binds to it (vaxflow/screens/station).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vaxflow.queue.api import models as m
from vaxflow.queue.client.site import ServerRefused, ServerUnreachable, SiteClient
from vaxflow.queue.client.words import in_language, words
from vaxflow.queue.core.privacy import mask_id_number


@dataclass
class StationView:
    """Everything the console shows; the screen redraws from it after each change."""

    station_id: str
    vaccinator: str
    language: str = "zh-CN"  # what the console says, from the catalogue (vaxflow/queue/client)
    station: m.StationResponse | None = None
    called: m.VisitResponse | None = None
    person: m.VerifiedPerson | None = None
    warning: m.SeatWarning | None = None
    message: tuple[str, str] | None = None  # (kind: ok | warn | bad, text)
    revealed: bool = False
    busy: bool = False
    products: list[str] = field(default_factory=list)
    questions: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> {lang: words}
    mismatch: m.VerifyResponse | None = None  # the last scan that was not the called person
    lots: list[m.LotInUse] = field(default_factory=list)  # today's lots of `lots_product`
    lots_product: str = ""
    device_warning: str = ""  # a device of this console (the ID-card reader) in plain words

    def question_text(self, question_id: str) -> str:
        """A screening question's words in the console's language; its id when unknown."""
        return in_language(self.questions.get(question_id, {}), self.language, question_id)

    @property
    def id_shown(self) -> str:
        """The person's ID number: masked unless staff chose to reveal it for verification."""
        if self.person is None:
            return ""
        number = self.person.id_number
        return number if self.revealed else mask_id_number(number)

    @property
    def decision_needed(self) -> dict[str, Any] | None:
        """The doctor's decision the person waits for before the dose (another manufacturer to
        complete the series, both named), or None."""
        if self.person is None:
            return None
        needed = self.person.doctor_decisions.needed
        return dict(needed[0]) if needed else None

    @property
    def can_call(self) -> bool:
        s = self.station
        return bool(s and s.state == "open" and not s.visit_id)


def _clock(instant: str) -> str:
    """HH:MM of an ISO instant in this console's own time zone."""
    return datetime.fromisoformat(instant).astimezone().strftime("%H:%M")


class StationConsole:
    """Actions of one station; each refreshes the view and calls `changed`."""

    def __init__(
        self,
        client: SiteClient,
        station_id: str,
        vaccinator: str,
        changed: Callable[[], None] = lambda: None,
        *,
        language: str = "zh-CN",
    ) -> None:
        self.client = client
        self.view = StationView(station_id, vaccinator, language)
        self.changed = changed

    def t(self, key: str, **params: Any) -> str:
        """The console's words for `key` in its language."""
        return words(key, self.view.language, **params)

    async def _do(self, action: Callable[[], Awaitable[None]]) -> None:
        self.view.busy = True
        self.changed()
        try:
            await action()
        except ServerRefused as err:
            said = in_language(err.messages, self.view.language, err.message)
            self.view.message = ("bad", self.t("msg.refused", words=said, reason=err.reason))
        except ServerUnreachable:
            self.view.message = ("bad", self.t("msg.unreachable"))
        finally:
            self.view.busy = False
            self.changed()

    async def refresh(self) -> None:
        async def run() -> None:
            await self._load()

        await self._do(run)

    async def _load(self) -> None:
        if not self.view.questions:  # the words of the screening questions, once
            questions = await self.client.questions()
            self.view.questions = {q.id: dict(q.text) for q in questions}
        stations = await self.client.stations()
        mine = next((s for s in stations if s.station_id == self.view.station_id), None)
        self.view.station = mine
        self.view.products = list(mine.products) if mine else []
        if mine is None:
            self.view.message = ("bad", self.t("msg.no_station", id=self.view.station_id))
        elif not mine.visit_id:
            self.view.called = self.view.person = None
        if mine is not None and mine.state == "closed" and self.view.products:
            await self._load_lots(self.view.lots_product or self.view.products[0])

    async def _load_lots(self, product: str) -> None:
        answer = await self.client.lots(product)
        self.view.lots, self.view.lots_product = answer.lots, product

    async def choose_product(self, product: str) -> None:
        """The product picked to open with: offer the lots of it already in use today."""
        if product and product != self.view.lots_product:

            async def run() -> None:
                await self._load_lots(product)

            await self._do(run)

    def lot_label(self, lot: m.LotInUse) -> str:
        """One lot as a choice: its number, today's doses and the stations that have it now."""
        where = " ".join(s.station_id for s in lot.stations)
        label = self.t("msg.lot", lot=lot.lot, n=lot.doses_today)
        return label + (f" · {where}" if where else "")

    async def open(self, product: str, lot: str) -> None:
        async def run() -> None:
            sid = self.view.station_id
            await self.client.open_station(sid, product, lot, self.view.vaccinator)
            self.view.message = ("ok", f"{product} · {lot}")
            await self._load()

        await self._do(run)

    async def set_state(self, action: str) -> None:
        """pause, resume or close."""
        calls = {
            "pause": self.client.pause_station,
            "resume": self.client.resume_station,
            "close": self.client.close_station,
        }

        async def run() -> None:
            await calls[action](self.view.station_id)
            self.view.message = None
            await self._load()

        await self._do(run)

    async def call_next(self) -> None:
        async def run() -> None:
            answer = await self.client.call_next(self.view.station_id)
            self.view.warning = answer.warning
            self.view.called = answer.called
            self.view.message = None if answer.called else ("warn", self.t("msg.nobody_waiting"))
            await self._load()
            self.view.called = answer.called

        await self._do(run)

    async def recall(self) -> None:
        async def run() -> None:
            self.view.called = await self.client.recall(self.view.station_id)

        await self._do(run)

    async def skip(self) -> None:
        async def run() -> None:
            await self.client.skip(self.view.station_id)
            self.view.called = None
            await self._load()

        await self._do(run)

    async def verify(self, code: str, by: str = "scan") -> None:
        """The ticket or ID card of the person who arrived, against the call: a match starts
        the service and shows their summary; a MISMATCH says whose it is and changes nothing.
        `by` is scan, typed or id_reader (for the audit trail)."""

        async def run() -> None:
            answer = await self.client.verify(self.view.station_id, code.strip(), by)
            if answer.match:
                self.view.person, self.view.called, self.view.revealed = answer.visit, None, False
                self.view.mismatch = None
                self.view.message = ("ok", self.t("msg.match", ticket=answer.visit.ticket))
                return
            self.view.mismatch = answer
            found = answer.found
            whose = f"{found.ticket} {found.name}" if found else self.t("msg.nobody_today")
            called = answer.visit.ticket
            self.view.message = ("bad", self.t("msg.mismatch", called=called, whose=whose))

        await self._do(run)

    def toggle_reveal(self) -> None:
        self.view.revealed = not self.view.revealed
        self.changed()

    async def record_dose(self) -> None:
        async def run() -> None:
            assert self.view.person is not None
            done = await self.client.record_dose(self.view.station_id, self.view.person.visit_id)
            until = _clock(done.ends_at) if done.ends_at else "—"
            self.view.message = ("ok", self.t("msg.dosed", ticket=done.ticket, until=until))
            self.view.person = None
            await self._load()

        await self._do(run)

    async def end(self, outcome: str, reason: str) -> None:
        """Defer or refer the person with a reason instead of a dose."""

        async def run() -> None:
            assert self.view.person is not None
            if not reason.strip():
                self.view.message = ("warn", self.t("msg.enter_reason"))
                return
            end = {"defer": self.client.defer, "refer": self.client.refer}[outcome]
            await end(self.view.station_id, self.view.person.visit_id, reason)
            said = "msg.deferred" if outcome == "defer" else "msg.referred"
            self.view.message = ("ok", self.t(said, ticket=self.view.person.ticket))
            self.view.person = None
            await self._load()

        await self._do(run)

    async def decide(self, approve: bool, reason: str) -> None:
        """The doctor's decision on another manufacturer, by the signed-in person (the server
        refuses it without one): approved, the dose may be recorded; declined, the visit ends."""

        async def run() -> None:
            person = self.view.person
            needed = self.view.decision_needed
            assert person is not None
            if needed is None:
                return
            if not reason.strip():
                self.view.message = ("warn", self.t("msg.enter_doctor_reason"))
                return
            kind = str(needed["kind"])
            answer = await self.client.decide(person.visit_id, kind, approve, reason.strip())
            if approve:
                decided = m.DoctorDecisions(needed=[], recorded=[answer.decision])
                self.view.person = person.model_copy(update={"doctor_decisions": decided})
                self.view.message = ("ok", self.t("msg.approved", ticket=person.ticket))
                return
            self.view.message = ("ok", self.t("msg.declined", ticket=person.ticket))
            self.view.person = None
            await self._load()

        await self._do(run)
