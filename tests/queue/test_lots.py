"""Lots in use today (GET /api/lots): from today's doses and the stations open now, real app."""

from __future__ import annotations

from .conftest import Site, booking_codes


async def _dose(site: Site, station: str, code: str) -> None:
    ticket = await site.check_in(code)
    called = (await site.post("station", f"/api/stations/{station}/call-next"))["called"]
    assert called["ticket"] == ticket["ticket"]
    await site.post("station", f"/api/stations/{station}/verify", {"code": ticket["ticket"]})
    await site.post(
        "station", f"/api/stations/{station}/record-dose", {"visit_id": ticket["visit_id"]}
    )


async def _open(site: Site, station: str, product: str, lot: str) -> None:
    body = {"product": product, "lot": lot, "vaccinator": "Nurse Li"}
    await site.post("station", f"/api/stations/{station}/open", body)


async def test_lots_of_today_most_used_first_with_the_stations_that_have_them(
    site: Site,
) -> None:
    assert (await site.get("station", "/api/lots?product=CORONAVAC"))["lots"] == []
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await _open(site, "S01", "CORONAVAC", "LOT-A")
    await _open(site, "S02", "CORONAVAC", "LOT-B")
    for code in codes[:2]:
        await _dose(site, "S01", code)
    await _dose(site, "S02", codes[2])
    await site.post("station", "/api/stations/S02/close")  # LOT-B: used today, loaded nowhere
    await _open(site, "S03", "CORONAVAC", "LOT-C")  # loaded, no dose yet

    answer = await site.get("marshal", "/api/lots?product=CORONAVAC")
    assert answer["product"] == "CORONAVAC"
    got = [
        (x["lot"], x["doses_today"], [s["station_id"] for s in x["stations"]])
        for x in answer["lots"]
    ]
    assert got == [("LOT-A", 2, ["S01"]), ("LOT-B", 1, []), ("LOT-C", 0, ["S03"])]
    assert (
        answer["lots"][0]["last_dose_at"] is not None and answer["lots"][2]["last_dose_at"] is None
    )
    assert answer["lots"][0]["stations"][0]["state"] == "open"

    await site.post("station", "/api/stations/S03/pause")
    paused = (await site.get("station", "/api/lots?product=CORONAVAC"))["lots"][2]
    assert paused["stations"] == [{"station_id": "S03", "state": "paused"}]  # still loaded
    other = await site.get("station", "/api/lots?product=BBIBP")
    assert other["lots"] == []  # another product's lots are not offered
    every = await site.get("admin", "/api/lots")
    assert {x["product"] for x in every["lots"]} == {"CORONAVAC"} and len(every["lots"]) == 3


async def test_yesterdays_doses_are_not_todays_lots(site: Site) -> None:
    codes = booking_codes(site.settings, site.clock, product="CORONAVAC", elderly=False)
    await _open(site, "S01", "CORONAVAC", "LOT-OLD")
    await _dose(site, "S01", codes[0])
    await site.post("station", "/api/stations/S01/close")
    site.clock.advance(minutes=24 * 60)
    assert (await site.get("station", "/api/lots?product=CORONAVAC"))["lots"] == []


async def test_an_unknown_product_is_a_reason(site: Site) -> None:
    refused = await site.get("station", "/api/lots?product=NOPE", expect=422)
    assert refused["error"]["reason"] == "unknown_product"
    assert set(refused["error"]["messages"]) == {"zh-CN", "zh-TW", "en"}
    await site.get("board", "/api/lots", expect=403)
    await site.get("kiosk", "/api/lots", expect=403)
