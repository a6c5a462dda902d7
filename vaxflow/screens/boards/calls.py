"""The Kivy call board: the newest call large on top, then the calls by zone; no I/O here."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import ListProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from vaxflow.queue.client.board_feed import Call, CallsModel
from vaxflow.queue.client.words import words
from vaxflow.screens.boards.live import LiveBoard

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: Seconds a new call stands out in bright colours, so eyes across a hall find it.
FRESH_SECONDS = 3.0
#: Zone columns at most; more zones wrap onto further rows, each keeping fewer calls.
MAX_COLUMNS = 6
PLAIN = (0.11, 0.15, 0.2, 1)
REPEAT = (0.35, 0.26, 0.0, 1)
FRESH = (0.1, 0.42, 0.75, 1)


def repeat_tag(call: Call, language: str) -> str:
    """ "call 2" on a repeated call, in the board's language; "" on a first call."""
    return words("calls.repeat", language, n=call.call_count) if call.repeated else ""


class CallRow(BoxLayout):  # type: ignore[misc]
    """One call in a zone column: ticket, station, and a tag when it is a repeated call."""

    ticket = StringProperty("")
    where = StringProperty("")
    tag = StringProperty("")
    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)
    background = ListProperty(list(PLAIN))
    outline = ListProperty([0, 0, 0, 0])
    dim = NumericProperty(1.0)

    def show(self, call: Call, *, fresh: bool) -> None:
        self.ticket, self.where = call.ticket, call.station_in(self.language)
        self.tag = repeat_tag(call, self.language)
        if fresh:
            self.background = list(FRESH)
        else:
            self.background = list(REPEAT if call.repeated else PLAIN)
        self.outline = [1, 0.75, 0.1, 1] if call.repeated else [0, 0, 0, 0]
        self.dim = 0.45 if call.arrived else 1.0


class ZoneColumn(BoxLayout):  # type: ignore[misc]
    zone = StringProperty("")
    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)

    def show(self, calls: list[Call], fresh: Callable[[Call], bool]) -> None:
        rows = self.ids.rows
        while len(rows.children) < len(calls):
            rows.add_widget(CallRow(font=self.font, u=self.u, language=self.language))
        while len(rows.children) > len(calls):
            rows.remove_widget(rows.children[0])
        for widget, call in zip(reversed(rows.children), calls, strict=True):
            widget.u = self.u
            widget.show(call, fresh=fresh(call))


class CallBoard(LiveBoard):
    """Redraws twice a second and on every change from `model`; sizes follow the window."""

    cols = NumericProperty(3)
    latest_ticket = StringProperty("")
    latest_where = StringProperty("")

    def __init__(
        self,
        model: CallsModel,
        *,
        font: str = "Roboto",
        language: str = "zh-CN",
        now: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, font=font, language=language, now=now, **kwargs)
        self.model: CallsModel = model
        self.first_seen: dict[tuple[int, int], float] = {}

    def fresh(self, call: Call) -> bool:
        if not call.live:
            return False
        seen = self.first_seen.setdefault((call.visit_id, call.call_count), time.monotonic())
        return time.monotonic() - seen < FRESH_SECONDS

    def refresh(self) -> None:
        if self.show_refused():
            return
        width, height = self.size
        self.u = max(12.0, min(width / 56.0, height / 30.0))
        zones = self.model.by_zone()
        self.cols = min(MAX_COLUMNS, max(1, len(zones)))
        zone_rows = -(-max(1, len(zones)) // self.cols)
        free = height - self.u * (2.4 + 6.5) - self.u * 0.6 * zone_rows
        fit = int(free / zone_rows // (self.u * 3.1)) - 1  # less the zone's title
        keep = max(1, min(self.model.keep_per_zone, fit))
        latest = self.model.latest()
        lang = self.language
        if latest is None:
            self.latest_ticket, self.latest_where = "", self.t("calls.wait")
        else:
            self.latest_ticket = latest.ticket
            self.latest_where = self.t(
                "calls.goto", station=latest.station_in(lang), zone=latest.zone_in(lang)
            )
        grid = self.ids.zones
        while len(grid.children) < len(zones):
            grid.add_widget(ZoneColumn(font=self.font, u=self.u, language=self.language))
        while len(grid.children) > len(zones):
            grid.remove_widget(grid.children[0])
        for column, (zone, calls) in zip(reversed(grid.children), zones.items(), strict=True):
            column.zone = calls[0].zone_in(lang) if calls else self.model.zone_in(zone, lang)
            column.u = self.u
            column.show(calls[:keep], self.fresh)
        self.clock = self.clock_text()
        self.online = self.model.online
        self.status = self.status_text()
