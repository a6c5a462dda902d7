"""Health questions answered in the booking app travel with the booking to the kiosk's precheck
(bookings list, booking service), and only when they answer every question the site asks."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.queue.bookings.csv_import import check_csv, to_csv
from vaxflow.queue.bookings.sim_service import create_service
from vaxflow.queue.core import engine
from vaxflow.queue.core.booking import format_answers, parse_answers
from vaxflow.queue.demo.demo_data import make_people
from vaxflow.queue.ops.checkin import booked_answers
from vaxflow.queue.server.app import create_app

from .conftest import AiohttpClient, Site


async def precheck(site: Site, code: str, id_number: str, name: str) -> dict[str, object]:
    body = {"booking_qr": code, "id_card": {"id_number": id_number, "name": name}}
    answer: dict[str, object] = await site.post("kiosk", "/api/checkins/precheck", body)
    return answer


async def test_the_booking_lists_answers_reach_the_precheck(site: Site) -> None:
    day = engine.site_day(site.clock.now(), site.settings.site.timezone)
    people = make_people(site.settings, day, 30)
    answered = [p for p in people if p.answers][:2]
    unanswered = [p for p in people if not p.answers][:2]
    assert answered and unanswered
    expected = {q.id: False for q in site.settings.questions}
    for person in answered:
        pre = await precheck(site, person.code, person.id_number, person.person_name)
        assert pre["booked_answers"] == expected
    for person in unanswered:
        pre = await precheck(site, person.code, person.id_number, person.person_name)
        assert pre["booked_answers"] is None
    person = answered[0]
    body = {  # check-in still sends every answer: the kiosk confirmed them
        "booking_qr": person.code,
        "id_card": {"id_number": person.id_number, "name": person.person_name},
        "answers": dict(person.answers),
        "consent_version": site.settings.consent.version,
    }
    assert (await site.post("kiosk", "/api/checkins", body))["ticket"]


def test_partial_answers_are_not_offered(settings: Settings, clock: FrozenClock) -> None:
    day = engine.site_day(clock.now(), settings.site.timezone)
    person = next(p for p in make_people(settings, day, 30) if p.answers)
    assert booked_answers(settings, person) == dict(person.answers)
    assert booked_answers(settings, replace(person, answers=person.answers[1:])) is None
    assert booked_answers(settings, None) is None
    extra = replace(person, answers=(*person.answers, ("not_asked_here", True)))
    assert booked_answers(settings, extra) == dict(person.answers)  # only the site's questions


async def test_the_booking_services_answers_reach_the_precheck(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    day = engine.site_day(clock.now(), settings.site.timezone)
    first = settings.questions[0].id
    answers = tuple((q.id, q.id == first) for q in settings.questions)  # a yes is carried too
    remote = [
        replace(p, code=f"SVC{i}", source="service", answers=answers)
        for i, p in enumerate(make_people(settings, day, 6, seed=99))
    ]
    service = TestServer(create_service(remote))
    await service.start_server()
    try:
        configured = settings.model_copy(
            update={
                "booking": settings.booking.model_copy(
                    update={"service_url": str(service.make_url("/"))}
                )
            }
        )
        app = create_app(configured, db=str(tmp_path / "svc.sqlite"), clock=clock)
        site = Site(await aiohttp_client(app), clock, configured)
        seen = 0
        for person in remote:
            pre = await precheck(site, person.code, person.id_number, person.person_name)
            if pre.get("eligible"):
                seen += 1
                assert pre["booked_answers"] == dict(person.answers)
        assert seen
    finally:
        await service.close()


@pytest.mark.parametrize(
    ("text", "answers"),
    [
        ("", ()),
        ("fever=no", (("fever", False),)),
        (" fever = NO ; allergy=yes;", (("fever", False), ("allergy", True))),
    ],
)
def test_the_csv_answers_column(text: str, answers: tuple[tuple[str, bool], ...]) -> None:
    assert parse_answers(text) == answers
    assert parse_answers(format_answers(answers)) == answers


@pytest.mark.parametrize("text", ["fever", "fever=maybe", "fever=no;fever=yes", "fi ver=no"])
def test_a_bad_csv_answers_column_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="answers"):
        parse_answers(text)


def test_the_demo_day_list_carries_the_answers(settings: Settings, clock: FrozenClock) -> None:
    day = engine.site_day(clock.now(), settings.site.timezone)
    people = make_people(settings, day, 9)
    checked = check_csv(to_csv(people, settings.site.timezone).encode(), settings, day)
    assert not checked.problems
    assert [b.answers for b in checked.bookings] == [p.answers for p in people]
    assert any(p.answers for p in people) and not all(p.answers for p in people)
