"""`vaxflow init-site`: files every device can use, private, valid, and a refresh that keeps
the tokens given out."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from vaxflow.cli import main
from vaxflow.config import load_settings
from vaxflow.config.site_template import parse_env, replace_tokens

URL = "http://10.0.0.2:8080"


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
    assert "vaxflow tls init" in said and "vaxflow doctor" in said
    assert main(["config", "check", str(site / "site.toml")]) == 0
    settings = load_settings(site / "site.toml")
    assert [s.id for s in settings.stations] == ["S01", "S02"]
    assert settings.server.port == 8080
    files = [site / "site.toml", *sorted((site / "devices").glob("*/*"))]
    assert len(files) == 1 + 2 * (1 + 3 + 2 + 2 + 1 + 1)  # admin, kiosks, stations, boards ...
    assert {_mode(f) for f in files} == {0o600}
    assert {_mode(d) for d in (site, site / "devices", site / "devices" / "kiosk-02")} == {0o700}
    env = parse_env((site / "devices" / "kiosk-02" / "device.env").read_text())
    assert env["VAXFLOW_DEVICE_ID"] == "kiosk-02" and env["VAXFLOW_SERVER_URL"] == URL
    token = env["VAXFLOW_KIOSK_TOKEN"]
    assert settings.role_of(token) == "kiosk"
    own = load_settings(site / "devices" / "kiosk-02" / "site.toml")
    assert own.tokens == {"kiosk": [token]}  # a stolen kiosk holds its own token only
    station = parse_env((site / "devices" / "station-S02" / "device.env").read_text())
    assert station["VAXFLOW_STATION"] == "S02"
    assert settings.role_of(station["VAXFLOW_STATION_TOKEN"]) == "station"
    every = [t for tokens in settings.tokens.values() for t in tokens]
    assert len(set(every)) == len(every) == 10


def test_refresh_keeps_edits_and_tokens_and_adds_devices(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site"
    assert _init(site) == 0
    assert _init(site) == 2  # never overwrites a site file by accident
    before = (site / "devices" / "kiosk-01" / "device.env").read_text()
    text = (site / "site.toml").read_text().replace("seats = 100", "seats = 140")
    text += '\n[[stations]]\nid = "S09"\nname = "Station 9"\nzone = "B"\nproducts = ["CORONAVAC"]\n'
    (site / "site.toml").write_text(text)
    assert _init(site, "--kiosks", "3", "--refresh") == 0
    capsys.readouterr()
    assert (site / "devices" / "kiosk-01" / "device.env").read_text() == before
    settings = load_settings(site / "site.toml")
    assert settings.observation.seats == 140
    assert len(settings.tokens["kiosk"]) == 3
    station = parse_env((site / "devices" / "station-S09" / "device.env").read_text())
    assert settings.role_of(station["VAXFLOW_STATION_TOKEN"]) == "station"
    assert load_settings(site / "devices" / "kiosk-03" / "site.toml").observation.seats == 140


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--server-url", "10.0.0.2:8080"], "--server-url"),
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
        replace_tokens("[tokens]\nkiosk = ['x']\n", {"kiosk": ["y" * 12]})


@pytest.mark.parametrize(
    ("url", "port", "tls"),
    [("http://10.0.0.2", 8080, False), ("https://10.0.0.2", 8443, True), (URL, 8080, False)],
)
def test_the_server_url_decides_the_port_and_https(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str, port: int, tls: bool
) -> None:
    assert main(["init-site", str(tmp_path / "s"), "--server-url", url]) == 0
    capsys.readouterr()
    server = load_settings(tmp_path / "s" / "site.toml").server
    assert server.port == port and (server.tls_cert is not None) == tls
    env = parse_env((tmp_path / "s" / "devices" / "board-01" / "device.env").read_text())
    assert env["VAXFLOW_SERVER_URL"] == url and env["VAXFLOW_BOARD"] == "calls"
