"""Run in a child process under Xvfb by `test_console_screens.py`: open every native board and
station screen in one language with canned models, and print one JSON line per screen with its
labels' words and any label whose words do not fit its box. Not a test module itself."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kivy.config import Config

Config.set("graphics", "width", sys.argv[2] if len(sys.argv) > 2 else "1280")
Config.set("graphics", "height", sys.argv[3] if len(sys.argv) > 3 else "800")
Config.set("kivy", "log_level", "warning")

from kivy.core.text import LabelBase  # noqa: E402
from kivy.uix.label import Label  # noqa: E402
from kivy.uix.textinput import TextInput  # noqa: E402

from vaxflow.config.demo import demo_settings  # noqa: E402
from vaxflow.hardware.fonts import cjk_font_path  # noqa: E402
from vaxflow.queue.api import models as m  # noqa: E402
from vaxflow.queue.client.board_feed import CallsModel, ObservationModel  # noqa: E402
from vaxflow.queue.client.site import SiteClient  # noqa: E402
from vaxflow.queue.client.staff_signin import StaffSignIn  # noqa: E402
from vaxflow.queue.client.station_console import StationConsole  # noqa: E402
from vaxflow.queue.client.words import SiteNames  # noqa: E402
from vaxflow.screens.fit import content_size  # noqa: E402


def calls_model(settings: Any) -> CallsModel:
    model = CallsModel()
    stations = [
        {"station_id": s.id, "names": dict(s.names), "zone": s.zone} for s in settings.stations
    ]
    zones = {s.zone: dict(s.zone_names) for s in settings.stations}
    calls = [
        {
            "visit_id": i,
            "ticket": f"A{i:03d}",
            "station_id": s.id,
            "zone": s.zone,
            "call_count": 2 if i == 3 else 1,
        }
        for i, s in enumerate(settings.stations[:6], start=1)
    ]
    snapshot = {"seq": 1, "zones": sorted(zones), "zone_names": zones, "stations": stations}
    model.load({**snapshot, "calls": list(reversed(calls))})
    model.online = True
    return model


def observation_model(now: datetime) -> ObservationModel:
    model = ObservationModel(seats=40, online=True)
    people = [
        {
            "visit_id": i,
            "ticket": f"A{i:03d}",
            "name": "张*",
            "ends_at": (now + timedelta(seconds=60 * i - 90)).isoformat(),
            "adverse_open": i == 5,
        }
        for i in range(1, 13)
    ]
    model.load({"seq": 1, "people": people, "seats": 40})
    return model


def person() -> m.VerifiedPerson:
    now = datetime.now(UTC).isoformat()
    return m.VerifiedPerson.model_validate(
        {
            "visit_id": 7,
            "ticket": "A007",
            "lane": "A",
            "state": "in_service",
            "product": "CORONAVAC",
            "name": "张*",
            "station_id": "S01",
            "station_name": "Station 1",
            "zone": "Hall A",
            "call_count": 1,
            "ends_at": None,
            "adverse_open": False,
            "print_failed": False,
            "site_day": now[:10],
            "dose_number": 2,
            "walk_in": False,
            "checked_in_at": now,
            "id_number": "110101199003074518",
            "age": 36,
            "dosed_at": None,
            "finished_at": None,
            "reason": None,
            "qr": "",
            "screening": {"fever": False, "pregnant": True},
            "screening_items": [],
            "flags": [
                {
                    "code": "walk_in",
                    "text": {"zh-CN": "现场登记", "zh-TW": "現場登記", "en": "Walk-in"},
                }
            ],
            "history": [],
            "guardian": None,
            "id_source": "scan",
            "doctor_decisions": {"needed": [], "recorded": []},
        }
    )


def labels(root: Any) -> list[dict[str, Any]]:
    """Every visible label's words; whether they fit its box (a shortened one fits: "…")."""
    out = []
    for w in root.walk():
        if isinstance(w, TextInput):
            out.append({"text": w.hint_text, "fits": True})
        elif isinstance(w, Label) and w.text and w.opacity > 0 and w.height > 1:
            need_w, need_h = content_size(w)
            fits = (need_w <= w.width + 2 and need_h <= w.height + 2) or w.shorten
            out.append(
                {
                    "text": w.text,
                    "fits": fits,
                    "size": [w.width, w.height],
                    "need": [need_w, need_h],
                }
            )
    return out


def main() -> None:
    language = sys.argv[1]
    font = cjk_font_path()
    name = "Roboto"
    if font is not None:
        LabelBase.register("Probe", fn_regular=str(font), fn_bold=str(font))
        name = "Probe"
    from vaxflow.screens.boards.calls import CallBoard
    from vaxflow.screens.boards.observation import ObservationBoard
    from vaxflow.screens.station.console import StationScreen
    from vaxflow.screens.station.signin import StaffSignInScreen

    settings = demo_settings()
    client = SiteClient("http://127.0.0.1:9", "token")
    console = StationConsole(client, "S10", "Nurse Li", language=language)
    station = {
        "station_id": "S10",
        "name": "Station 10",
        "zone": "Hall C",
        "products": ["CORONAVAC"],
        "state": "open",
        "product": "CORONAVAC",
        "lot": "LOT-1",
        "vaccinator": "Nurse Li",
        "visit_id": 7,
    }
    console.view.station = m.StationResponse.model_validate(station)
    console.view.products = ["CORONAVAC"]
    console.view.questions = {
        q.id: {str(k): v for k, v in q.text.items()} for q in settings.questions
    }
    console.view.person = person()
    console.view.person.screening = {q.id: q.id == "pregnant" for q in settings.questions}
    console.view.message = ("ok", console.t("msg.match", ticket="A007"))
    staff = StaffSignIn(client, now=time.monotonic, language=language)
    screens: dict[str, Any] = {
        "calls": lambda: CallBoard(calls_model(settings), font=name, language=language),
        "observation": lambda: ObservationBoard(
            observation_model(datetime.now(UTC)), font=name, language=language
        ),
        "station": lambda: StationScreen(console, font=name, names=SiteNames(settings, language)),
        "signin": lambda: StaffSignInScreen(staff, title="S10", signed_in=lambda: None, font=name),
    }
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.floatlayout import FloatLayout

    class ProbeApp(App):  # type: ignore[misc]
        """The screens' .kv rules ask the running app for its font, as the station app has."""

        def build(self) -> Any:
            self.font = name
            return FloatLayout()

        def on_start(self) -> None:
            steps = iter(screens.items())
            shown: list[tuple[str, Any]] = []

            def step(_dt: float) -> None:
                if shown:
                    key, widget = shown.pop()
                    if hasattr(widget, "refresh"):
                        widget.refresh()
                    print(json.dumps({"screen": key, "labels": labels(widget)}, ensure_ascii=False))
                    if len(sys.argv) > 4:  # a folder: one picture per screen, to look at
                        from kivy.core.window import Window

                        Window.screenshot(name=f"{sys.argv[4]}/{key}-{language}-.png")
                    self.root.remove_widget(widget)
                nxt = next(steps, None)
                if nxt is None:
                    sys.stdout.flush()
                    self.stop()
                    return
                widget = nxt[1]()
                self.root.add_widget(widget)
                shown.append((nxt[0], widget))
                Clock.schedule_once(step, 0.8)

            Clock.schedule_once(step, 0.3)

    ProbeApp().run()


if __name__ == "__main__":
    main()
