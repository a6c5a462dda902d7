"""The station console's view-model against the real app: open, call, verify, dose, defer."""

from __future__ import annotations

from vaxflow.queue.client.site import SiteClient
from vaxflow.queue.client.station_console import StationConsole

from .conftest import Site, booking_codes


async def test_console_walks_a_person_from_call_to_dose(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    first = await site.check_in(codes[0])
    second = await site.check_in(codes[1])
    base = str(site.client.make_url("")).rstrip("/")
    changes: list[bool] = []
    async with SiteClient(base, "demo-station-token") as client:
        console = StationConsole(
            client, "S01", "Nurse Li", lambda: changes.append(True), language="en"
        )
        view = console.view
        await console.refresh()
        assert view.station is not None and view.station.state == "closed"
        assert view.products == ["CORONAVAC", "BBIBP"] and not view.can_call
        await console.open("CORONAVAC", "LOT-9")
        assert view.can_call and view.station.vaccinator == "Nurse Li"
        await console.call_next()
        assert view.called is not None and view.called.ticket == first["ticket"]
        await console.recall()
        assert view.called.call_count == 2
        await console.verify(second["ticket"])  # the wrong person came up
        assert view.person is None and view.called is not None
        assert view.message is not None and view.message[0] == "bad"
        assert "MISMATCH" in view.message[1] and second["ticket"] in view.message[1]
        await console.verify(site.card(codes[0])["id_number"], by="id_reader")
        assert view.person is not None and view.called is None and view.mismatch is None
        assert view.person.ticket == first["ticket"]
        question = site.settings.questions[0]
        assert view.question_text(question.id) == question.text["en"]
        assert "*" in view.id_shown and view.person.screening
        console.toggle_reveal()
        assert view.id_shown == view.person.id_number and "*" not in view.id_shown
        await console.record_dose()
        assert view.person is None and view.message is not None and view.message[0] == "ok"
        await console.call_next()
        await console.verify(second["ticket"])
        await console.end("defer", " ")
        assert view.message == ("warn", "Enter a reason") and view.person is not None
        await console.end("defer", "fever today")
        assert view.person is None and view.can_call
        await console.verify("A999")
        assert view.message is not None and view.message[0] == "bad"
        assert "nobody_called" in view.message[1]
    assert changes and not view.busy


async def test_console_offers_the_lots_in_use_today(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await site.open("S02")  # LOT-2611, loaded at S02
    ticket = await site.check_in(codes[0])
    await site.post("station", "/api/stations/S02/call-next")
    await site.post("station", "/api/stations/S02/verify", {"code": ticket["ticket"]})
    await site.post("station", "/api/stations/S02/record-dose", {"visit_id": ticket["visit_id"]})
    base = str(site.client.make_url("")).rstrip("/")
    async with SiteClient(base, "demo-station-token") as client:
        console = StationConsole(client, "S01", "Nurse Li")
        view = console.view
        await console.refresh()
        assert view.lots_product == "CORONAVAC"
        assert [(x.lot, x.doses_today) for x in view.lots] == [("LOT-2611", 1)]
        assert console.lot_label(view.lots[0]) == "LOT-2611 · 1 剂 · S02"
        await console.choose_product("BBIBP")
        assert view.lots_product == "BBIBP" and view.lots == []
        await console.choose_product("CORONAVAC")
        await console.open("CORONAVAC", view.lots[0].lot)
        assert view.station is not None and view.station.lot == "LOT-2611"
