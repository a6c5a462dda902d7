"""`vaxflow init-site`: files every device can use, private, valid, its own token each, the
site's TLS material and booking key, and a refresh that keeps what was given out."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from vaxflow.cli import main
from vaxflow.config import load_settings
from vaxflow.config.schema import DeviceToken
from vaxflow.config.site_template import Device, parse_env, replace_tokens
from vaxflow.site_tls import pinned_context

URL = "https://10.0.0.2:8443"


def _init(folder: Path, *more: str) -> int:
    return main(["init-site", str(folder), "--server-url", URL, "--site-id", "city", *more])


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_site_is_valid_private_and_gives_each_device_its_own_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site, "--kiosks", "3", "--stations", "2") == 0
    said = capsys.readouterr().out
    assert "vaxflow tls init" not in said and "vaxflow doctor" in said  # TLS is done
    assert f"{site}/devices/ID/site.toml /etc/vaxflow/site.toml" in said
    assert f"{site}/tls/ca.crt /etc/vaxflow/tls/ca.crt" in said
    assert main(["config", "check", str(site / "site.toml")]) == 0
    settings = load_settings(site / "site.toml")
    assert [s.id for s in settings.stations] == ["S01", "S02"]
    assert settings.server.port == 8443 and not settings.tokens  # no shared tokens
    device_files = sorted((site / "devices").glob("*/*"))
    assert len(device_files) == 2 * (1 + 3 + 2 + 2 + 1 + 1)  # admin, kiosks, stations, boards ...
    assert {_mode(f) for f in [site / "site.toml", *device_files]} == {0o600}
    assert {_mode(d) for d in (site, site / "devices", site / "devices" / "kiosk-02")} == {0o700}
    env = parse_env((site / "devices" / "kiosk-02" / "device.env").read_text())
    assert env["VAXFLOW_DEVICE_ID"] == "kiosk-02" and env["VAXFLOW_SERVER_URL"] == URL
    token = env["VAXFLOW_KIOSK_TOKEN"]
    assert settings.device_tokens["kiosk-02"] == DeviceToken(token=token, kind="kiosk")
    own = load_settings(site / "devices" / "kiosk-02" / "site.toml")
    assert own.device_tokens == {"kiosk-02": DeviceToken(token=token, kind="kiosk")}
    assert own.tokens == {}  # a stolen kiosk holds its own token only
    station = parse_env((site / "devices" / "station-S02" / "device.env").read_text())
    assert station["VAXFLOW_STATION"] == "S02"
    assert settings.device_tokens["station-S02"] == DeviceToken(
        token=station["VAXFLOW_STATION_TOKEN"], kind="station", station="S02"
    )
    for copy in sorted((site / "devices").glob("*/site.toml")):
        assert main(["config", "check", str(copy)]) == 0, copy
    every = [d.token for d in settings.device_tokens.values()]
    assert len(set(every)) == len(every) == 10
    capsys.readouterr()


def test_a_scraper_gets_a_metrics_token_and_is_told_where_it_goes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site, "--scrapers", "1") == 0
    said = capsys.readouterr().out
    assert "Prometheus (prometheus-01) reads GET /metrics" in said
    env = parse_env((site / "devices" / "prometheus-01" / "device.env").read_text())
    settings = load_settings(site / "site.toml")
    assert settings.device_tokens["prometheus-01"] == DeviceToken(
        token=env["VAXFLOW_METRICS_TOKEN"], kind="metrics"
    )
    assert main(["config", "check", str(site / "site.toml")]) == 0


def test_a_new_site_has_its_tls_material_and_devices_only_its_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site) == 0
    capsys.readouterr()
    tls = site / "tls"
    assert {_mode(tls / "ca.key"), _mode(tls / "server.key"), _mode(tls)} == {0o600, 0o700}
    cert = x509.load_pem_x509_certificate((tls / "server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "10.0.0.2" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    pinned_context(tls / "ca.crt")  # a CA certificate a client can pin
    server = load_settings(site / "site.toml").server
    assert (server.tls_cert, server.tls_key, server.tls_ca) == (
        "/etc/vaxflow/tls/server.crt",
        "/etc/vaxflow/tls/server.key",
        "/etc/vaxflow/tls/ca.crt",
    )  # where docs/install.md installs them
    for device in (site / "devices").iterdir():
        copy = load_settings(device / "site.toml").server
        assert (copy.tls_cert, copy.tls_key, copy.tls_ca) == (None, None, server.tls_ca)
        env = (device / "device.env").read_text()
        assert parse_env(env)["VAXFLOW_CA_FILE"] == "/etc/vaxflow/tls/ca.crt"
        assert "tls/ca.crt" in env
        assert sorted(p.name for p in device.iterdir()) == ["device.env", "site.toml"]
    install = (Path(__file__).resolve().parents[2] / "docs" / "install.md").read_text()
    assert all(f"{path}" in install for path in (server.tls_cert, server.tls_key, server.tls_ca))


def test_the_booking_key_signs_what_the_site_file_trusts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site) == 0
    capsys.readouterr()
    key = site / "bookings" / "k1.key"
    assert _mode(key) == 0o600
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(key.read_text().strip()))
    public = base64.b64decode(load_settings(site / "site.toml").booking.public_keys["k1"])
    assert private.public_key().public_bytes_raw() == public
    for device in ("kiosk-01", "station-S01"):
        copy = load_settings(site / "devices" / device / "site.toml")
        assert copy.booking.public_keys == {"k1": base64.b64encode(public).decode()}


def test_an_insecure_site_is_plain_http_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    url = "http://10.0.0.2:8080"
    assert main(["init-site", str(site), "--server-url", url]) == 2
    assert "--insecure" in capsys.readouterr().err and not site.exists()
    assert main(["init-site", str(site), "--server-url", url, "--insecure"]) == 0
    said = capsys.readouterr().out
    assert "plain HTTP" in said and "vaxflow server --insecure" in said
    assert not (site / "tls").exists()
    server = load_settings(site / "site.toml").server
    assert (server.port, server.tls_cert, server.tls_ca) == (8080, None, None)
    env = parse_env((site / "devices" / "board-01" / "device.env").read_text())
    assert env["VAXFLOW_SERVER_URL"] == url and "VAXFLOW_CA_FILE" not in env


def test_refresh_keeps_edits_tokens_tls_and_keys_and_adds_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site) == 0
    assert _init(site) == 2  # never overwrites a site file by accident
    before = (site / "devices" / "kiosk-01" / "device.env").read_text()
    kept = {p: p.read_bytes() for p in [*(site / "tls").iterdir(), *(site / "bookings").iterdir()]}
    text = (site / "site.toml").read_text().replace("seats = 100", "seats = 140")
    text += '\n[[stations]]\nid = "S09"\nname = "Station 9"\nzone = "B"\nproducts = ["CORONAVAC"]\n'
    (site / "site.toml").write_text(text)
    assert _init(site, "--kiosks", "3", "--refresh") == 0
    said = capsys.readouterr().out
    assert "tls/: kept" in said and "k1 (kept)" in said
    assert {p: p.read_bytes() for p in kept} == kept
    assert (site / "devices" / "kiosk-01" / "device.env").read_text() == before
    settings = load_settings(site / "site.toml")
    assert settings.observation.seats == 140
    assert sorted(n for n, d in settings.device_tokens.items() if d.kind == "kiosk") == [
        "kiosk-01",
        "kiosk-02",
        "kiosk-03",
    ]
    station = parse_env((site / "devices" / "station-S09" / "device.env").read_text())
    assert settings.device_tokens["station-S09"].token == station["VAXFLOW_STATION_TOKEN"]
    assert settings.device_tokens["station-S09"].station == "S09"
    copy = load_settings(site / "devices" / "kiosk-03" / "site.toml")
    assert copy.observation.seats == 140 and list(copy.device_tokens) == ["kiosk-03"]
    assert main(["config", "check", str(site / "site.toml")]) == 0


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--server-url", "ftp://10.0.0.2"], "--server-url"),
        (["--server-url", "https://10.0.0.2", "--insecure"], "http://"),
        (["--server-url", URL, "--site-id", "City Site"], "--site-id"),
        (["--server-url", URL, "--refresh"], "no "),
    ],
)
def test_bad_arguments_are_refused_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    assert main(["init-site", str(tmp_path / "site"), *argv]) == 2
    assert says in capsys.readouterr().err


def test_a_site_file_without_the_markers_is_not_rewritten() -> None:
    with pytest.raises(ValueError, match="no tokens table"):
        replace_tokens("[tokens]\nkiosk = ['x']\n", [Device("kiosk-01", "kiosk", "y" * 12)])


@pytest.mark.parametrize(
    ("url", "argv", "devices_use", "port"),
    [
        ("http://10.0.0.2", ["--insecure"], "http://10.0.0.2", 8080),
        ("https://10.0.0.2", [], "https://10.0.0.2", 8443),
        ("10.0.0.2:9443", [], "https://10.0.0.2:9443", 9443),  # no scheme: https
        ("site-server.lan", ["--insecure"], "http://site-server.lan", 8080),
    ],
)
def test_the_server_url_decides_the_port_and_https(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    url: str,
    argv: list[str],
    devices_use: str,
    port: int,
) -> None:
    assert main(["init-site", str(tmp_path / "s"), "--server-url", url, *argv]) == 0
    capsys.readouterr()
    server = load_settings(tmp_path / "s" / "site.toml").server
    assert server.port == port and (server.tls_cert is not None) == (not argv)
    env = parse_env((tmp_path / "s" / "devices" / "board-01" / "device.env").read_text())
    assert env["VAXFLOW_SERVER_URL"] == devices_use and env["VAXFLOW_BOARD"] == "calls"


def test_a_refresh_for_another_server_address_says_the_certificate_is_not_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site) == 0
    capsys.readouterr()
    moved = ["init-site", str(site), "--server-url", "HTTPS://10.0.0.3:8443", "--refresh"]
    assert main(moved) == 0
    said = capsys.readouterr()
    assert "server.crt is not for 10.0.0.3" in said.err and "--renew --name 10.0.0.3" in said.err
    env = parse_env((site / "devices" / "kiosk-01" / "device.env").read_text())
    assert env["VAXFLOW_SERVER_URL"] == "https://10.0.0.3:8443"
