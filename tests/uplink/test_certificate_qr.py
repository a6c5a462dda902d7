"""Certificate QRs: signed by the site, verified by anyone holding its public key."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.queue.conftest import AiohttpClient, Site, booking_codes
from tests.uplink.peers import dose
from vaxflow.cli import main
from vaxflow.clock import FrozenClock
from vaxflow.config import Settings
from vaxflow.hardware.certificate_print import certificate_bytes
from vaxflow.queue.core import certificate_qr, engine
from vaxflow.queue.core.certificate_qr import Certificate, CertificateRefused, SiteKey
from vaxflow.queue.demo.demo_data import seed_bookings
from vaxflow.queue.server.app import create_app
from vaxflow.queue.server.appkeys import STORE

CERT = Certificate(
    "张*明",
    "CORONAVAC",
    "Sinovac",
    "LOT-2611",
    2,
    date(2026, 11, 21),
    "demo-stadium",
    "demo-stadium/7",
)


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[str, str]]:
    return {"here": certificate_qr.new_key(), "there": certificate_qr.new_key()}


def trusted(keys: dict[str, tuple[str, str]]) -> dict[str, SiteKey]:
    return {
        "demo-1": SiteKey("demo-stadium", keys["here"][1]),
        "other-1": SiteKey("other-site", keys["there"][1]),
    }


def test_sign_and_verify_round_trip(keys: dict[str, tuple[str, str]]) -> None:
    text = certificate_qr.sign(CERT, keys["here"][0], "demo-1")
    assert text.startswith("VXC1.demo-1.") and text.isascii()
    assert certificate_qr.verify(text, trusted(keys)) == CERT


def _reason(text: str, keys: dict[str, SiteKey]) -> str:
    with pytest.raises(CertificateRefused) as refused:
        certificate_qr.verify(text, keys)
    return refused.value.reason


def test_each_refusal_has_its_own_reason(keys: dict[str, tuple[str, str]]) -> None:
    text = certificate_qr.sign(CERT, keys["here"][0], "demo-1")
    head, body, signature = text.rsplit(".", 2)
    changed = certificate_qr._b64(certificate_qr._unb64(body).replace(b"LOT-2611", b"LOT-2612"))
    assert _reason(f"{head}.{changed}.{signature}", trusted(keys)) == "certificate_tampered"
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert _reason(f"{head}.{body}.{flipped}", trusted(keys)) == "certificate_tampered"
    # signed with another site's key, claiming this site
    other = certificate_qr.sign(CERT, keys["there"][0], "other-1")
    assert _reason(other, trusted(keys)) == "certificate_wrong_site"
    unknown = certificate_qr.sign(CERT, certificate_qr.new_key()[0], "stranger-1")
    assert _reason(unknown, trusted(keys)) == "certificate_unknown_key"
    assert _reason("VXB1.k.abc.def", trusted(keys)) == "certificate_unreadable"


@given(st.text(max_size=300))
def test_the_parser_refuses_anything_else_with_a_reason(text: str) -> None:
    keys = {"k": SiteKey("s", certificate_qr.new_key()[1])}
    with pytest.raises(CertificateRefused):
        certificate_qr.verify(text, keys)


@given(st.from_regex(r"VXC1\.k\.[A-Za-z0-9_-]{0,80}\.[A-Za-z0-9_-]{0,90}", fullmatch=True))
def test_well_formed_noise_is_tampered_or_unreadable(text: str) -> None:
    keys = {"k": SiteKey("s", certificate_qr.new_key()[1])}
    with pytest.raises(CertificateRefused) as refused:
        certificate_qr.verify(text, keys)
    assert refused.value.reason in ("certificate_tampered", "certificate_unreadable")


def test_the_command_makes_a_key_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["certificate", "keygen", "--site", "demo-stadium"]) == 0
    key = json.loads(capsys.readouterr().out)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(key["trust"]))
    text = certificate_qr.sign(CERT, key["private_key"], key["key_id"])
    assert main(["certificate", "verify", text, "--keys", str(keys), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lot"] == "LOT-2611"
    changed = text[:-3] + ("AAA" if not text.endswith("AAA") else "BBB")
    assert main(["certificate", "verify", changed, "--keys", str(keys), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["reason"] == "certificate_tampered"


async def test_the_exit_certificate_carries_a_qr_the_verify_page_checks(
    aiohttp_client: AiohttpClient, settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    private, public = certificate_qr.new_key()
    key_file = tmp_path / "key.json"
    own = {"key_id": "demo-1", "site": settings.site.id, "private_key": private}
    key_file.write_text(json.dumps({**own, "public_key": public}))
    uplink = settings.uplink.model_copy(update={"certificate_key_file": str(key_file)})
    wired = settings.model_copy(update={"uplink": uplink})
    app = create_app(wired, db=str(tmp_path / "s.sqlite"), clock=clock)
    site = Site(await aiohttp_client(app), clock, wired)
    day = engine.site_day(clock.now(), settings.site.timezone)
    await app[STORE].write(lambda tx: seed_bookings(tx, wired, day, 200), actor="test")
    await site.open("S01")
    dosed = await dose(site, booking_codes(settings, clock, product="CORONAVAC", elderly=False)[0])
    clock.advance(minutes=31)
    done = await site.post("observer", "/api/exit/scan", {"code": dosed["ticket"]})
    text = done["certificate"]["qr"]
    slip = certificate_bytes(done["certificate"])  # the exit printer's bytes carry the QR
    assert len(slip) > len(certificate_bytes({**done["certificate"], "qr": None})) + 200
    page = await site.client.get("/verify")
    assert page.status == 200
    response = await site.client.post("/api/certificates/verify", json={"text": text})
    checked = await response.json()
    assert checked["valid"] is True
    assert checked["certificate"]["lot"] == "LOT-2611"
    assert checked["certificate"]["dose"] == f"{settings.site.id}/1"
    response = await site.client.post("/api/certificates/verify", json={"text": text[:-4] + "AAAA"})
    refused = await response.json()
    assert refused["valid"] is False and refused["error"]["reason"] == "certificate_tampered"
    assert refused["error"]["messages"]["zh-CN"]
