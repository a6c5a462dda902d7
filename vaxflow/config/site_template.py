"""A new site's files as text: the site file, its device tokens, each device's environment file.

Pure functions: `vaxflow init-site` (cli/init_site_cmd.py) makes the tokens, the TLS material and
the booking key, and writes the files. Every device has its own `[device_tokens.<id>]` table;
the tables sit between two marker lines so that `init-site --refresh` can rewrite them in a site
file the technician has since edited, and make each device's copy of that file with only the
device's own table in it (a stolen kiosk then holds one kiosk token, not the admin's) and none
of the server's TLS key settings.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from vaxflow.config.schema import ROLES, Role

TOKENS_BEGIN = "# --- tokens: written by `vaxflow init-site`; `--refresh` rewrites this table ---"
TOKENS_END = "# --- end of tokens ---"
_TOKENS_BLOCK = re.compile(re.escape(TOKENS_BEGIN) + r"\n.*?" + re.escape(TOKENS_END), re.S)
#: The server's own TLS settings: a device's copy of the site file leaves them out.
_SERVER_TLS_LINE = re.compile(r"^[ \t]*#?[ \t]*tls_(cert|key)[ \t]*=.*\n", re.M)
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")

#: Where the packaged units expect the site's files (docs/install.md, deploy/).
SITE_FILE = "/etc/vaxflow/site.toml"
DEVICE_ENV = "/etc/vaxflow/device.env"
DATABASE = "/var/lib/vaxflow/site.sqlite"
#: Where the TLS files of `init-site` (its DIR/tls) are installed: the server gets all three,
#: every device the CA certificate only.
TLS_DIR = "/etc/vaxflow/tls"
TLS_CERT = f"{TLS_DIR}/server.crt"
TLS_KEY = f"{TLS_DIR}/server.key"
TLS_CA = f"{TLS_DIR}/ca.crt"
#: The key id of the booking QR key `init-site` makes.
BOOKING_KID = "k1"

#: The environment variable that carries each role's token on its device.
TOKEN_VARIABLES: dict[Role, str] = {role: f"VAXFLOW_{role.upper()}_TOKEN" for role in ROLES}


@dataclass(frozen=True)
class Device:
    """One machine (or one person's login, for admin) and the token only it holds."""

    id: str
    """Its name on the site: kiosk-01, station-S01, board-01 ... sent as X-Device-Id."""
    role: Role
    token: str
    station: str | None = None
    """The station a station console serves."""
    board: str | None = None
    """Which board a TV shows: observation or calls."""


def with_scheme(server_url: str) -> str:
    """The server URL, https:// when it names no scheme ("10.0.0.2:8443")."""
    return server_url if "://" in server_url else f"https://{server_url}"


def server_address(server_url: str) -> tuple[str, int]:
    """The host and port a server URL names (http: 8080 when not given, https: 8443)."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{server_url!r} is not an http:// or https:// URL with a host")
    return parts.hostname, parts.port or (8443 if parts.scheme == "https" else 8080)


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _key(name: str) -> str:
    return name if _BARE_KEY.match(name) else _toml(name)


def tokens_block(devices: Sequence[Device]) -> str:
    """Each device's `[device_tokens.<id>]` table (token, kind, station) between the markers."""
    lines = [TOKENS_BEGIN]
    for device in devices:
        lines += [
            f"[device_tokens.{_key(device.id)}]",
            f"token = {_toml(device.token)}",
            f"kind = {_toml(device.role)}",
        ]
        if device.station:
            lines.append(f"station = {_toml(device.station)}")
        lines.append("")
    lines.append(TOKENS_END)
    return "\n".join(lines)


def replace_tokens(text: str, devices: Sequence[Device]) -> str:
    """The site file `text` with its marked device tokens replaced by `devices`' tables."""
    if not _TOKENS_BLOCK.search(text):
        raise ValueError(f"the site file has no tokens table between the lines {TOKENS_BEGIN!r}")
    return _TOKENS_BLOCK.sub(lambda _m: tokens_block(devices), text, count=1)


def device_copy(text: str, device: Device) -> str:
    """A device's copy of the site file: its own token table only, no server key settings."""
    return _SERVER_TLS_LINE.sub("", replace_tokens(text, [device]))


def device_env(device: Device, server_url: str) -> str:
    """The device's environment file (systemd EnvironmentFile= syntax; mode 0600). On an
    https site it names the site CA the device trusts and says which file to copy there."""
    tls = server_url.startswith("https:")
    values = {
        "VAXFLOW_ROLE": device.role,
        "VAXFLOW_DEVICE_ID": device.id,
        "VAXFLOW_SERVER_URL": server_url,
        "VAXFLOW_CONFIG": SITE_FILE,
        TOKEN_VARIABLES[device.role]: device.token,
    }
    if device.station:
        values["VAXFLOW_STATION"] = device.station
    if device.board:
        values["VAXFLOW_BOARD"] = device.board
    if tls:
        values["VAXFLOW_CA_FILE"] = TLS_CA
    head = f"# vaxflow device {device.id} ({device.role}): copy to {DEVICE_ENV}, mode 0600\n"
    head += f"# and this folder's site.toml to {SITE_FILE} (mode 0600)\n"
    if tls:
        head += f"# and the site folder's tls/ca.crt to {TLS_CA} (the site CA; never ca.key)\n"
    return head + "".join(f"{key}={value}\n" for key, value in values.items())


def parse_env(text: str) -> dict[str, str]:
    """KEY=value lines of an environment file (comments and blank lines skipped)."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip()
    return values


def site_file(
    *,
    site_id: str,
    name: str,
    server_url: str,
    stations: int,
    devices: Sequence[Device],
    booking_key: str,
) -> str:
    """A new site's file: the example site's rules, `stations` stations, the devices' tokens,
    TLS for an https URL (the files where docs/install.md installs them), the booking key."""
    host, port = server_address(server_url)
    del host  # the server listens on every address; devices use the URL's host
    station_tables = "\n".join(
        f'[[stations]]\nid = "S{n:02d}"\nname = "Station {n}"\nzone = "Hall A"\n'
        f'products = ["CORONAVAC"]\n'
        for n in range(1, stations + 1)
    )
    return _TEMPLATE.format(
        site_id=_toml(site_id),
        name=_toml(name),
        stations=station_tables,
        tokens=tokens_block(devices),
        port=port,
        db=_toml(DATABASE),
        tls=_TLS.format(cert=_toml(TLS_CERT), key=_toml(TLS_KEY), ca=_toml(TLS_CA))
        if server_url.startswith("https:")
        else _NO_TLS,
        kid=BOOKING_KID,
        booking_key=_toml(booking_key),
    )


_TLS = """\
# The site's own TLS (init-site's tls/ folder): the server's certificate and key, and the CA
# every device trusts (a device's copy keeps tls_ca only).
tls_cert = {cert}
tls_key = {key}
tls_ca = {ca}
"""
_NO_TLS = """\
# Plain HTTP (init-site --insecure): tokens and personal data cross the LAN in clear, and the
# server starts only with `vaxflow server --insecure`. For HTTPS run init-site again without it.
"""


_TEMPLATE = """\
# The site file of {name}, written by `vaxflow init-site`.
# Edit it (the products, stations, questions, staff), then check it:
#   vaxflow config check site.toml
# and give every device its own copy again: vaxflow init-site DIR --refresh
# Every key is explained in the site.example.toml of the vaxflow sources.
# The server's copy holds every device's token: keep it 0600, on the server and this folder
# only. A device's copy holds that device's token only.

[site]
id = {site_id}
name = {name}
timezone = "Asia/Shanghai"
languages = ["zh-CN", "en"]

[[lanes]]
prefix = "A"
name = "Booked"
kind = "regular"
weight = 1.0

[[lanes]]
prefix = "E"
name = "Elderly and priority"
kind = "priority"
weight = 3.0

[[lanes]]
prefix = "W"
name = "Walk-in"
kind = "walk_in"
weight = 1.0

[[products]]
code = "CORONAVAC"
name = "CoronaVac (Vero cell), inactivated"
manufacturer = "Sinovac"
platform = "inactivated"
aliases = ["Sinovac CoronaVac", "克尔来福"]
doses_in_series = 2
min_interval_days = 21
max_interval_days = 56
observation_minutes = 30

{stations}
[age]
min_age_years = 18
review_age_years = 60

[booking]
# Booking QR codes are signed with init-site's bookings/{kid}.key: `vaxflow bookings sign --key
# bookings/{kid}.key --kid {kid} ...` (keep that key with whoever issues bookings).
public_keys = {{ {kid} = {booking_key} }}

[walk_in]
daily_capacity = 200
default_product = "CORONAVAC"

[observation]
seats = 100
# exit_printer = "tcp://10.0.0.9:9100"

[[questions]]
id = "fever"
effect = "defer"
[questions.text]
"zh-CN" = "您今天是否发热（体温 ≥ 37.3°C）？"
en = "Do you have a fever today (37.3 °C or higher)?"

[consent]
version = "1"
[consent.text]
"zh-CN" = "我已阅读并了解疫苗接种的益处和可能的不良反应，自愿接种。"
en = "I have read about the vaccine's benefits and side effects and agree to be vaccinated."

# Each kiosk's and station's devices: set them on the device's copy, or here for all of them
# (`vaxflow devices check --config site.toml` lists what it finds).
[devices]
scanner = "sim://"
idcard = "sim://"
printer = "sim://"

{tokens}

[server]
host = "0.0.0.0"
port = {port}
db = {db}
{tls}
# List the staff ([[staff]], PIN hashes from `vaxflow staff hash-pin`), then turn this on.
[staff_sign_in]
required = false
"""
