"""Demo bookings: plausible people with valid resident ID numbers, seeded for one site day."""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum.cn import ric

from vaxflow.config import Settings
from vaxflow.queue.core.booking import Booking, PriorDose
from vaxflow.queue.store.bookings import import_bookings
from vaxflow.queue.store.writer import Tx

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬飞鑫波宁建"
    "国建华志强海燕春梅丹凤桂兰雪梅晓东小红子涵一诺欣怡浩然梓涵雨桐"
)
# District codes that existed for every birth year we generate (python-stdnum checks that).
_REGIONS = ("110101", "110102", "110105", "110108", "310101", "310104", "120101")


def demo_code(index: int) -> str:
    return f"DEMO{index:04d}"


def make_people(settings: Settings, day: date, count: int, seed: int = 7) -> list[Booking]:
    """Deterministic bookings for a site day: mostly adults, a fifth 60 or older; later doses
    carry the earlier dose (same manufacturer, inside the interval) as the booking app would.
    Only products some station gives are booked (others are known for history only)."""
    rng = random.Random(seed)
    given = {code for station in settings.stations for code in station.products}
    products = {p.code: p for p in settings.products if p.code in given}
    codes = list(products)
    weights = [5, 3.5, 1.5][: len(codes)] + [1] * max(0, len(codes) - 3)
    people = []
    for index in range(1, count + 1):
        age = rng.randint(60, 85) if rng.random() < 0.2 else rng.randint(18, 59)
        birth = day - timedelta(days=age * 365 + rng.randint(10, 350))
        sex = rng.choice(("male", "female"))
        order = rng.randrange(0, 500) * 2 + (1 if sex == "male" else 0)
        body = f"{rng.choice(_REGIONS)}{birth:%Y%m%d}{order:03d}"
        name = rng.choice(_SURNAMES) + "".join(
            rng.choice(_GIVEN) for _ in range(rng.choice((1, 2)))
        )
        product = products[rng.choices(codes, weights)[0]]
        dose_number = rng.randint(1, product.doses_in_series)
        prior = tuple(
            PriorDose(
                day - timedelta(days=(dose_number - n) * (product.min_interval_days + 7)),
                product.code,
                product.manufacturer,
            )
            for n in range(1, dose_number)
        )
        people.append(
            Booking(
                code=demo_code(index),
                person_name=name,
                id_type="cn_resident",
                id_number=body + ric.calc_check_digit(body + "0"),
                site_id=settings.site.id,
                visit_date=day,
                product=product.code,
                dose_number=dose_number,
                birth_date=birth,
                sex=sex,
                prior_doses=prior,
                source="demo",
                # every third person answered the health questions in the booking app
                answers=tuple((q.id, False) for q in settings.questions) if index % 3 == 0 else (),
            )
        )
    return people


def seed_bookings(tx: Tx, settings: Settings, day: date, count: int) -> int:
    """Insert the demo bookings for `day` that are not there yet; returns how many were added."""
    return import_bookings(tx, make_people(settings, day, count)).added
