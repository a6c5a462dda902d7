"""Demo bookings: plausible people with valid resident ID numbers, seeded for one site day."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import insert, select
from stdnum.cn import ric

from vaxflow.config import Settings
from vaxflow.queue import tables as t
from vaxflow.queue.store import Tx

_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬飞鑫波宁建"
    "国建华志强海燕春梅丹凤桂兰雪梅晓东小红子涵一诺欣怡浩然梓涵雨桐"
)
_REGIONS = ("110101", "310104", "440106", "450102", "510104", "330106", "420102", "320102")


@dataclass(frozen=True)
class DemoPerson:
    code: str
    name: str
    id_number: str
    birth_date: date
    sex: str
    product: str
    dose_number: int


def demo_code(index: int) -> str:
    return f"DEMO{index:04d}"


def make_people(settings: Settings, day: date, count: int, seed: int = 7) -> list[DemoPerson]:
    """Deterministic people for a site day: mostly adults, a fifth of them 60 or older."""
    rng = random.Random(seed)
    products = [p.code for p in settings.products]
    weights = [5, 3.5, 1.5][: len(products)] + [1] * max(0, len(products) - 3)
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
        product = rng.choices(products, weights)[0]
        series = next(p.doses_in_series for p in settings.products if p.code == product)
        people.append(
            DemoPerson(
                demo_code(index),
                name,
                body + ric.calc_check_digit(body),
                birth,
                sex,
                product,
                rng.randint(1, series),
            )
        )
    return people


def seed_bookings(tx: Tx, settings: Settings, day: date, count: int) -> int:
    """Insert the demo bookings for `day` that are not there yet; returns how many were added."""
    existing = set(
        tx.conn.execute(
            select(t.bookings.c.code).where(t.bookings.c.site_id == tx.site_id)
        ).scalars()
    )
    rows = [
        {
            "site_id": tx.site_id,
            "code": person.code,
            "person_name": person.name,
            "id_type": "cn_resident",
            "id_number": person.id_number,
            "birth_date": person.birth_date,
            "sex": person.sex,
            "product": person.product,
            "dose_number": person.dose_number,
            "visit_date": day,
            "created_at": tx.now,
        }
        for person in make_people(settings, day, count)
        if person.code not in existing
    ]
    if rows:
        tx.conn.execute(insert(t.bookings), rows)
        tx.emit("bookings_seeded", None, {"count": len(rows), "visit_date": day.isoformat()})
    return len(rows)
