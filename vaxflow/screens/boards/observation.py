"""The Kivy observation board: tiles with countdowns from a view-model passed in; no I/O here."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kivy.lang import Builder
from kivy.properties import (
    ListProperty,
    NumericProperty,
    StringProperty,
)
from kivy.uix.boxlayout import BoxLayout

from vaxflow.queue.client.board_feed import ObservationModel, Tile, TileState
from vaxflow.queue.client.words import words
from vaxflow.screens.boards.live import LiveBoard

Builder.load_file(str(Path(__file__).with_suffix(".kv")))

#: Seconds a page of tiles stays before the next one when not everyone fits.
ROTATE_SECONDS = 10.0
#: Each state's tile colour, text colour and caption (a message id of the catalogue).
COLOURS: dict[TileState, tuple[tuple[float, ...], tuple[float, ...], str]] = {
    TileState.OBSERVING: ((0.11, 0.15, 0.2, 1), (0.95, 0.96, 0.97, 1), "obs.observing"),
    TileState.LAST_MINUTES: ((0.88, 0.63, 0.0, 1), (0.07, 0.07, 0.07, 1), "obs.last"),
    TileState.DONE: ((0.12, 0.62, 0.33, 1), (1, 1, 1, 1), "obs.done"),
    TileState.FLAGGED: ((0.85, 0.23, 0.23, 1), (1, 1, 1, 1), "obs.flagged"),
}


def countdown(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


class BoardTile(BoxLayout):  # type: ignore[misc]
    ticket = StringProperty("")
    person = StringProperty("")
    countdown = StringProperty("")
    caption = StringProperty("")
    state = StringProperty("")
    font = StringProperty("Roboto")
    language = StringProperty("zh-CN")
    u = NumericProperty(16)
    background = ListProperty([0.11, 0.15, 0.2, 1])
    foreground = ListProperty([1, 1, 1, 1])

    def show(self, tile: Tile) -> None:
        background, foreground, caption = COLOURS[tile.state]
        self.ticket, self.person, self.state = tile.ticket, tile.name, tile.state.value
        # "剩余 25:08", "25:08 left": labelled, so a countdown is never read as the time of day
        label = f"[size={max(8, int(self.u * 0.9))}]{words('obs.left', self.language)}[/size]"
        left = countdown(tile.remaining_seconds)
        labelled = f"{left} {label}" if self.language == "en" else f"{label} {left}"
        self.countdown = "✓" if tile.state is TileState.DONE else labelled
        self.caption = words(caption, self.language)
        self.background, self.foreground = list(background), list(foreground)


class ObservationBoard(LiveBoard):
    """Redraws twice a second from `model`; `now` is this display's clock (epoch seconds)."""

    cols = NumericProperty(6)
    rows = NumericProperty(4)
    summary = StringProperty("")

    def __init__(
        self,
        model: ObservationModel,
        *,
        font: str = "Roboto",
        language: str = "zh-CN",
        now: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(model, font=font, language=language, now=now, **kwargs)
        self.model: ObservationModel = model
        self.page = 0
        self.turned = time.monotonic()

    def refresh(self) -> None:
        if self.show_refused():
            return
        width, height = self.size
        self.u = max(12.0, min(width / 60.0, height / 34.0))
        self.cols = max(2, int(width // (self.u * 10)))
        self.rows = max(1, int((height - self.u * 2.4) // (self.u * 6.5)))
        tiles = self.model.tiles(self.now())
        per_page = self.cols * self.rows
        pages = max(1, -(-len(tiles) // per_page))
        if time.monotonic() - self.turned > ROTATE_SECONDS:
            self.page, self.turned = (self.page + 1) % pages, time.monotonic()
        self.page %= pages
        shown = tiles[self.page * per_page : (self.page + 1) * per_page]
        grid = self.ids.grid
        while len(grid.children) < len(shown):
            grid.add_widget(BoardTile(font=self.font, u=self.u, language=self.language))
        while len(grid.children) > len(shown):
            grid.remove_widget(grid.children[0])
        for widget, tile in zip(reversed(grid.children), shown, strict=True):
            widget.u = self.u
            widget.show(tile)
        self.clock = self.clock_text()
        page = f" · {self.t('obs.page', p=self.page + 1, n=pages)}" if pages > 1 else ""
        self.summary = self.t("obs.count", n=len(tiles), seats=self.model.seats) + page
        self.online = self.model.online
        self.status = self.status_text()
