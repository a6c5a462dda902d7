"""The Kivy station console: binds to a `StationConsole` view-model passed in; no I/O here."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kivy.factory import Factory
from kivy.lang import Builder
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from vaxflow.queue.api.models import LotInUse
from vaxflow.queue.client.station_console import StationConsole
from vaxflow.queue.client.words import SiteNames, in_language, words

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

MESSAGE_COLOURS = {
    "ok": (0.12, 0.55, 0.3, 1),
    "warn": (0.7, 0.45, 0.0, 1),
    "bad": (0.8, 0.2, 0.2, 1),
}


def screening_lines(question: Callable[[str], str], answers: dict[str, bool], language: str) -> str:
    """One line per screening question, its words and the answer; a yes stands out."""
    yes_word, no_word = words("station.yes", language), words("station.no", language)
    return "\n".join(
        f"[color=c07000][b]{question(q)} — {yes_word}[/b][/color]"
        if yes
        else f"{question(q)} — {no_word}"
        for q, yes in answers.items()
    )


def decision_line(needed: dict[str, Any] | None, language: str) -> str:
    """What the doctor must decide before the dose, both manufacturers named; "" for nothing."""
    if needed is None:
        return ""
    line = words("station.decision", language)
    if needed.get("previous"):
        line += f"\n{needed['previous']} ({needed.get('date', '')}) → {needed.get('booked', '')}"
    return line


def _field(label: str, value: object) -> str:
    """One labelled value of the person's summary: "Name: [b]Zhang San[/b]"."""
    return f"{label}: [b]{value}[/b]"


class StationScreen(BoxLayout):  # type: ignore[misc]
    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)
    title_text = StringProperty("")
    state_text = StringProperty("")
    station_state = StringProperty("closed")
    message_text = StringProperty("")
    message_colour = ListProperty([0, 0, 0, 1])
    products = ListProperty([])
    product_text = StringProperty("")
    lot_text = StringProperty("")
    called_text = StringProperty("")
    person_text = StringProperty("")
    #: The person's summary shrinks (from 1 unit) until it fits its box: never a line cut.
    person_scale = NumericProperty(1.0)
    revealed = BooleanProperty(False)
    can_call = BooleanProperty(False)
    has_lots = BooleanProperty(False)
    device_text = StringProperty("")
    decision_text = StringProperty("")

    def __init__(
        self,
        console: StationConsole,
        *,
        font: str = "Roboto",
        names: SiteNames | None = None,
        **kwargs: Any,
    ) -> None:
        self.console = console
        self.names = names or SiteNames(None, console.view.language)
        self.product_codes: dict[str, str] = {}  # a product's shown name -> its code
        super().__init__(language=console.view.language, **kwargs)
        self.font = font
        self.tasks: set[asyncio.Task[None]] = set()
        self.bind(size=lambda *_a: self._scale())
        console.changed = self.redraw
        self.redraw()

    def _scale(self) -> None:
        width, height = self.size
        self.u = max(12.0, min(width / 40.0, height / 32.0))
        self.person_scale = 1.0
        self._person()

    def fit_person(self, label: Any) -> None:
        """Shrink the person's summary a step while its words are taller or wider than its box."""
        tall = label.texture_size[1] > label.height + 1 or label.texture_size[0] > label.width + 1
        if self.person_text and tall and self.person_scale > 0.5:
            self.person_scale = round(self.person_scale * 0.92, 3)
            self._person()

    def act(self, action: str, *args: str) -> None:
        """Run a console action on the shared asyncio loop."""
        c = self.console
        if action == "reveal":
            c.toggle_reveal()
            return
        if action == "lot":
            self.ids.lot.text = args[0]
            return
        calls: dict[str, Callable[[], Awaitable[None]]] = {
            "open": lambda: c.open(self.code_of(args[0]), *args[1:]),
            "pause": lambda: c.set_state("pause"),
            "resume": lambda: c.set_state("resume"),
            "close": lambda: c.set_state("close"),
            "refresh": c.refresh,
            "product": lambda: c.choose_product(self.code_of(args[0])),
            "call_next": c.call_next,
            "recall": c.recall,
            "skip": c.skip,
            "verify": lambda: c.verify(*args),
            "record_dose": c.record_dose,
            "defer": lambda: c.end("defer", *args),
            "refer": lambda: c.end("refer", *args),
            "approve": lambda: c.decide(True, *args),
            "decline": lambda: c.decide(False, *args),
        }
        task = asyncio.ensure_future(calls[action]())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def t(self, key: str, **params: Any) -> str:
        """The console's words for `key` in its language."""
        return words(key, self.language, **params)

    def code_of(self, shown: str) -> str:
        """The product code behind a name shown in the product list."""
        return self.product_codes.get(shown, shown)

    def _lot_choices(self, lots: list[LotInUse]) -> None:
        """One button per lot in use today (the four most used): a tap puts it in the lot field."""
        shown = [self.console.lot_label(lot) for lot in lots[:4]]
        box = self.ids.lot_choices
        if [b.text for b in reversed(box.children)] == shown:
            return
        box.clear_widgets()
        for lot, label in zip(lots, shown, strict=False):
            button = Factory.ConsoleButton(text=label, font_size=self.u * 0.7)
            button.background_color = (0.16, 0.5, 0.45, 1)
            button.bind(on_release=lambda _b, lot=lot.lot: self.act("lot", lot))
            box.add_widget(button)
        self.has_lots = bool(shown)

    def redraw(self) -> None:
        v = self.console.view
        s = v.station
        names, lang = self.names, self.language
        sid = s.station_id if s else v.station_id
        name = names.station(sid, s.name if s else "")
        zone = names.zone(sid, s.zone if s else "")
        self.title_text = self.t("station.title", station=name, zone=zone, vaccinator=v.vaccinator)
        self.station_state = s.state if s else "closed"
        loaded = f" · {names.product(s.product)} {s.lot}" if s and s.product else ""
        self.state_text = self.t(f"station.state.{self.station_state}") + loaded
        self.product_codes = {names.product(code): code for code in v.products}
        self.products = list(self.product_codes)
        code = (s.product if s else None) or (v.products[0] if v.products else "")
        self.product_text = names.product(code) if code else ""
        self.lot_text = (s.lot if s else None) or ""
        self.can_call = v.can_call and not v.busy
        called = v.called
        self.called_text = (
            self.t("station.called", ticket=called.ticket, n=called.call_count) if called else ""
        )
        self.revealed = v.revealed
        self.device_text = v.device_warning
        self._lot_choices(v.lots if v.lots_product == self.code_of(self.ids.product.text) else [])
        text, kind = "", "ok"
        if v.warning:
            text, kind = in_language(v.warning.messages, lang, v.warning.reason), "warn"
        if v.message:
            kind, text = v.message
        self.message_text = text
        self.message_colour = list(MESSAGE_COLOURS.get(kind, (0, 0, 0, 1)))
        self.decision_text = decision_line(v.decision_needed, lang)
        person = (v.person.visit_id, v.id_shown) if v.person else None
        if person != getattr(self, "_shown_person", None):
            self._shown_person, self.person_scale = person, 1.0
        self._person()

    def _person(self) -> None:
        """The person's summary at the current scale (a ticket line, details, the answers)."""
        v, names, lang = self.console.view, self.names, self.language
        p = v.person
        unit = self.u * self.person_scale
        if p is None:
            self.person_text = ""
            return
        answers = screening_lines(v.question_text, p.screening, lang)
        flags = "  ".join(
            f"[color=c07000][b]{in_language(f.text, lang, f.code)}[/b][/color]" for f in p.flags
        )
        review = ", ".join(p.review_reasons)
        note = p.id_note
        g = p.guardian
        guardian = (
            f"{_field(self.t('station.guardian'), g.name)} "
            f"{in_language(g.relation_text, lang, g.relation)}  {g.id_number}\n"
            if g
            else ""
        )
        self.person_text = (
            f"[size={int(unit * 1.6)}][b]{p.ticket}[/b][/size]    "
            f"{_field(self.t('station.name'), p.name)}    "
            f"{_field(self.t('station.id'), v.id_shown)}\n"
            f"{_field(self.t('station.age'), p.age or '—')}    "
            f"{_field(self.t('station.dose'), p.dose_number)}    "
            f"{_field(self.t('station.product'), names.product(p.product))}    "
            f"{self.t('station.lane')}: {names.lane(p.lane)}    {flags}\n"
            f"{guardian}"
            f"[size={int(unit * 0.7)}]{self.t('station.screening')}:\n{answers or '—'}[/size]"
            + (f"\n[color=c07000]{self.t('station.review')}: {review}[/color]" if review else "")
            + (f"\n{self.t('station.id_note')}: {in_language(note.hints, lang)}" if note else "")
        )
