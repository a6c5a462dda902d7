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

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

STATE_NAMES = {"open": "开放 Open", "paused": "暂停 Paused", "closed": "关闭 Closed"}
MESSAGE_COLOURS = {
    "ok": (0.12, 0.55, 0.3, 1),
    "warn": (0.7, 0.45, 0.0, 1),
    "bad": (0.8, 0.2, 0.2, 1),
}


def screening_lines(words: Callable[[str], str], answers: dict[str, bool]) -> str:
    """One line per screening question, its words and the answer; a yes stands out."""
    return "\n".join(
        f"[color=c07000][b]{words(q)} — 是 yes[/b][/color]" if yes else f"{words(q)} — 否 no"
        for q, yes in answers.items()
    )


def decision_line(needed: dict[str, Any] | None) -> str:
    """What the doctor must decide before the dose, both manufacturers named; "" for nothing."""
    if needed is None:
        return ""
    line = "需医生决定：换用其他厂家完成全程 Doctor's decision: another manufacturer"
    if needed.get("previous"):
        line += f"\n{needed['previous']} ({needed.get('date', '')}) → {needed.get('booked', '')}"
    return line


class StationScreen(BoxLayout):  # type: ignore[misc]
    font = StringProperty("Roboto")
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
    revealed = BooleanProperty(False)
    can_call = BooleanProperty(False)
    has_lots = BooleanProperty(False)
    device_text = StringProperty("")
    decision_text = StringProperty("")

    def __init__(self, console: StationConsole, *, font: str = "Roboto", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.console = console
        self.font = font
        self.tasks: set[asyncio.Task[None]] = set()
        self.bind(size=lambda *_a: self._scale())
        console.changed = self.redraw
        self.redraw()

    def _scale(self) -> None:
        width, height = self.size
        self.u = max(12.0, min(width / 40.0, height / 32.0))

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
            "open": lambda: c.open(*args),
            "pause": lambda: c.set_state("pause"),
            "resume": lambda: c.set_state("resume"),
            "close": lambda: c.set_state("close"),
            "refresh": c.refresh,
            "product": lambda: c.choose_product(*args),
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
        name, zone = (s.name, s.zone) if s else (v.station_id, "")
        self.title_text = f"{name}（{zone}）· {v.vaccinator}"
        self.station_state = s.state if s else "closed"
        loaded = f" · {s.product} {s.lot}" if s and s.product else ""
        self.state_text = STATE_NAMES.get(self.station_state, self.station_state) + loaded
        self.products = v.products
        self.product_text = (s.product if s else None) or (v.products[0] if v.products else "")
        self.lot_text = (s.lot if s else None) or ""
        self.can_call = v.can_call and not v.busy
        self.called_text = f"{v.called.ticket}  ×{v.called.call_count}" if v.called else ""
        self.revealed = v.revealed
        self.device_text = v.device_warning
        self._lot_choices(v.lots if v.lots_product == self.ids.product.text else [])
        text, kind = "", "ok"
        if v.warning:
            text, kind = v.warning.messages.get("zh-CN", v.warning.reason), "warn"
        if v.message:
            kind, text = v.message
        self.message_text = text
        self.message_colour = list(MESSAGE_COLOURS.get(kind, (0, 0, 0, 1)))
        p = v.person
        self.decision_text = decision_line(v.decision_needed)
        if p is None:
            self.person_text = ""
            return
        answers = screening_lines(v.question_text, p.screening)
        flags = "  ".join(
            f"[color=c07000][b]{f.text['zh-CN']} {f.text['en']}[/b][/color]" for f in p.flags
        )
        review = ", ".join(p.review_reasons)
        note = p.id_note
        g = p.guardian
        guardian = (
            f"监护人 Guardian: [b]{g.name}[/b] {g.relation_text['zh-CN']} "
            f"{g.relation_text['en']}  {g.id_number}\n"
            if g
            else ""
        )
        self.person_text = (
            f"[size={int(self.u * 1.6)}][b]{p.ticket}[/b][/size]    "
            f"姓名 Name: [b]{p.name}[/b]    证件 ID: [b]{v.id_shown}[/b]\n"
            f"年龄 Age: [b]{p.age or '—'}[/b]    剂次 Dose: [b]{p.dose_number}[/b]"
            f"    疫苗 Product: [b]{p.product}[/b]    通道 Lane: {p.lane}    {flags}\n"
            f"{guardian}"
            f"[size={int(self.u * 0.7)}]健康问题 Screening:\n{answers or '—'}[/size]"
            + (f"\n[color=c07000]需医生评估 Doctor review: {review}[/color]" if review else "")
            + (f"\n证件提示 ID note: {note.hints['zh-CN']}" if note else "")
        )
