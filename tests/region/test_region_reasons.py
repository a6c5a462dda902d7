"""Every refusal the region can answer has words in zh-CN, zh-TW and en and a staff hint, and
the real region app answers each with its code and those words (a SQLite file stands in for
the cluster: no refusal here reaches the database)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from vaxflow.config.languages import LANGUAGES
from vaxflow.config.region import RegionSettings, RegionSite
from vaxflow.region import reasons
from vaxflow.region.server import create_app
from vaxflow.region.store import RegionStore, head_revision

AiohttpClient = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
REGION = Path(__file__).resolve().parents[2] / "vaxflow" / "region"
RAISED = re.compile(r"(?:RegionRefusal|refusal)\(\s*\d+,\s*\"([a-z_]+)\"")
IN_TABLE = re.compile(r"\d+: \(\"([a-z_]+)\",")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _raised_codes() -> set[str]:
    codes: set[str] = set()
    for path in REGION.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        codes.update(RAISED.findall(source), IN_TABLE.findall(source))
    return codes


def test_the_scan_finds_the_codes() -> None:
    expected = {"region_unavailable", "unknown_site_token", "bad_batch", "not_found"}
    assert expected <= _raised_codes()


@pytest.mark.parametrize("code", sorted(_raised_codes()))
def test_every_region_refusal_has_three_languages_and_a_hint(code: str) -> None:
    for language in LANGUAGES:
        assert reasons.text("reason", code, language, {}), f"{code} has no {language} message"
        assert reasons.text("hint", code, language, {}), f"{code} has no {language} hint"
    for language in ("zh-CN", "zh-TW"):
        assert CJK.search(reasons.text("reason", code, language, {}) or "")
        assert CJK.search(reasons.text("hint", code, language, {}) or "")
    assert reasons.text("reason", code, "zh-CN", {}) != reasons.text("reason", code, "zh-TW", {})


async def test_the_region_app_answers_each_refusal_with_its_words(
    aiohttp_client: AiohttpClient, tmp_path: Path
) -> None:
    store = RegionStore(f"sqlite:///{tmp_path / 'region.db'}", deadline=2.0)
    settings = RegionSettings(
        database="unused",
        dashboard_token="board-token-0123456789",
        sites=[RegionSite(id="a", name="A", district="青秀区", token="a-token-0123456789")],
    )
    client = await aiohttp_client(create_app(settings, store=store))
    assert store.revision() == head_revision()  # migrated at start, SQLite too
    site = {"Authorization": "Bearer a-token-0123456789"}
    api = "/api/region/v1"
    asked = [
        (
            "POST",
            f"{api}/ingest",
            {"Authorization": "Bearer nope"},
            b"{}",
            401,
            "unknown_site_token",
        ),
        ("GET", f"{api}/cursor", {}, None, 401, "unknown_site_token"),
        ("GET", f"{api}/dashboard", {}, None, 401, "dashboard_token"),
        ("POST", f"{api}/ingest", site, b"{not json", 400, "bad_json"),
        ("POST", f"{api}/ingest", site, b'{"events": [{"x": 1}]}', 400, "bad_batch"),
        ("POST", f"{api}/ingest", site, b"[]", 400, "bad_batch"),
        (
            "POST",
            f"{api}/ingest",
            site,
            b'{"events": [{"seq": 2}, {"seq": 1}]}',
            400,
            "unordered_batch",
        ),
        ("GET", f"{api}/history?person_key=abc", site, None, 400, "bad_person_key"),
        ("GET", f"{api}/nowhere", site, None, 404, "not_found"),
        ("GET", f"{api}/ingest", site, None, 405, "method_not_allowed"),
    ]
    for method, path, headers, data, status, code in asked:
        response = await client.request(method, path, headers=headers, data=data)
        assert response.status == status, (path, code)
        error = (await response.json())["error"]
        assert error["reason"] == code
        for language in LANGUAGES:
            assert error["messages"][language] == reasons.text("reason", code, language, {})
            assert error["hints"][language] == reasons.text("hint", code, language, {})
    store.close()
