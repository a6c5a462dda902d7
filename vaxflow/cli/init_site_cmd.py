"""`vaxflow init-site DIR --server-url URL`: a new site's file and every device's own files.

DIR/site.toml               the server's site file (every device's token; 0600)
DIR/tls/                    the site CA (ca.crt, ca.key) and the server's certificate and key
                            (server.crt, server.key) for the URL's host; keys 0600
DIR/bookings/k1.key, k1.pub the Ed25519 key pair that signs booking QR codes (private 0600)
DIR/devices/ID/device.env   the device's role, name, server URL and token (0600)
DIR/devices/ID/site.toml    the site file with only that device's token (0600)

The server URL is https (a URL with no scheme is taken as https://); an http:// URL needs
--insecure, which writes a plain-HTTP site. `--refresh` keeps the (edited) site file, the TLS
files, the booking key and the tokens already given out, gives tokens to devices added since
(more kiosks, a station added to the site file), and rewrites every device's files, so a
device's copy of the site file follows the server's.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vaxflow import site_tls
from vaxflow.cli.common import CommandError, site_settings
from vaxflow.config import ConfigError, load_settings
from vaxflow.config.schema import ROLES, Role
from vaxflow.config.site_template import (
    BOOKING_KID,
    DEVICE_ENV,
    SITE_FILE,
    TLS_CA,
    TLS_DIR,
    TOKEN_VARIABLES,
    Device,
    device_copy,
    device_env,
    parse_env,
    replace_tokens,
    server_address,
    site_file,
    with_scheme,
)
from vaxflow.queue.bookings import signed_qr

_SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: The boards a TV can show, given out in turn to the board devices.
_BOARDS = ("calls", "observation")


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "init-site",
        help="write a new site's file and each device's token and files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dir", type=Path, help="folder for the site's files (made 0700)")
    parser.add_argument(
        "--server-url",
        required=True,
        help="the site server as devices reach it, e.g. https://10.0.0.2:8443 (no scheme: https)",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="a plain-HTTP site (an http:// URL; no TLS files): tokens and personal data "
        "cross the LAN in clear, and the server needs `vaxflow server --insecure`",
    )
    parser.add_argument("--site-id", default="my-site", help="site id: a-z, 0-9, - and _")
    parser.add_argument("--name", default="Vaccination Site", help="site name on tickets")
    parser.add_argument("--stations", type=int, default=4, help="stations in a new site file")
    parser.add_argument("--kiosks", type=int, default=2, help="check-in kiosks")
    parser.add_argument("--boards", type=int, default=2, help="TVs showing a board")
    parser.add_argument("--observers", type=int, default=1, help="observation staff tablets")
    parser.add_argument("--marshals", type=int, default=1, help="queue marshal tablets")
    parser.add_argument(
        "--scrapers",
        type=int,
        default=0,
        help="Prometheus servers that read GET /metrics (a `metrics` token each, nothing else)",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="keep DIR/site.toml, DIR/tls, the booking key and the tokens given; add new "
        "devices, rewrite device files",
    )
    parser.set_defaults(func=_run)


def _token() -> str:
    return secrets.token_urlsafe(24)


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by its owner only, also when the file existed."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)
        out.write(text)


def _given(folder: Path) -> dict[str, Device]:
    """The devices whose files are already in DIR/devices, by id."""
    devices = {}
    for env_file in sorted(folder.glob("*/device.env")):
        values = parse_env(env_file.read_text(encoding="utf-8"))
        role = values.get("VAXFLOW_ROLE", "")
        if role not in ROLES:
            raise CommandError(f"{env_file}: VAXFLOW_ROLE {role!r} is not a vaxflow role")
        token = values.get(TOKEN_VARIABLES[role], "")
        device_id = values.get("VAXFLOW_DEVICE_ID", env_file.parent.name)
        devices[device_id] = Device(
            device_id,
            role,
            token,
            station=values.get("VAXFLOW_STATION") or None,
            board=values.get("VAXFLOW_BOARD") or None,
        )
    return devices


def _wanted(
    args: argparse.Namespace, stations: Sequence[str]
) -> list[tuple[str, Role, dict[str, str]]]:
    """Every device the site should have: (id, role, station/board)."""
    wanted: list[tuple[str, Role, dict[str, str]]] = [("admin", "admin", {})]
    wanted += [(f"kiosk-{n:02d}", "kiosk", {}) for n in range(1, args.kiosks + 1)]
    wanted += [(f"station-{s}", "station", {"station": s}) for s in stations]
    wanted += [
        (f"board-{n:02d}", "board", {"board": _BOARDS[(n - 1) % len(_BOARDS)]})
        for n in range(1, args.boards + 1)
    ]
    wanted += [(f"observer-{n:02d}", "observer", {}) for n in range(1, args.observers + 1)]
    wanted += [(f"marshal-{n:02d}", "marshal", {}) for n in range(1, args.marshals + 1)]
    wanted += [(f"prometheus-{n:02d}", "metrics", {}) for n in range(1, args.scrapers + 1)]
    return wanted


def _server_url(args: argparse.Namespace) -> str:
    """The server URL: https unless --insecure (then http); a URL with no scheme gets it."""
    url: str = args.server_url
    if "://" not in url:
        url = f"http://{url}" if args.insecure else with_scheme(url)
    try:
        server_address(url)
    except ValueError as err:
        raise CommandError(f"--server-url: {err}", 2) from err
    scheme = urlsplit(url).scheme  # lowercase: HTTPS://... is https://...
    url = scheme + url[len(scheme) :]
    if url.startswith("http:") and not args.insecure:
        raise CommandError(
            f"--server-url {url}: a real site serves HTTPS only (init-site makes its "
            "certificate): give an https:// URL, or --insecure for a plain-HTTP site whose "
            "tokens and personal data cross the LAN in clear",
            2,
        )
    if url.startswith("https:") and args.insecure:
        raise CommandError(
            f"--insecure writes a plain-HTTP site: give an http:// URL, not {url}", 2
        )
    return url


def _tls(folder: Path, site_id: str, host: str) -> tuple[str, str | None]:
    """Make the site CA and server certificate in `folder` unless they exist: what was done,
    and a warning when kept files do not name `host`."""
    if (folder / "ca.crt").is_file() and (folder / "server.crt").is_file():
        names = _certificate_names(folder / "server.crt")
        if host in names:
            return f"{folder}/: kept", None
        return f"{folder}/: kept", (
            f"warning: {folder}/server.crt is not for {host} ({', '.join(names)}): run "
            f"`vaxflow tls init {folder} --renew --name {host} --name localhost --name "
            "127.0.0.1` and install the new server.crt and server.key on the server"
        )
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    names = list(dict.fromkeys([host, *site_tls.default_names()]))
    made = site_tls.init(folder, site_id, names, renew=True)  # renew: keeps a CA already there
    return f"{folder}/: a site CA and a server certificate for {', '.join(made.names)}", None


def _certificate_names(path: Path) -> list[str]:
    """The host names and addresses a certificate is for."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*alt.get_values_for_type(x509.DNSName)] + [
        str(ip) for ip in alt.get_values_for_type(x509.IPAddress)
    ]


def _booking_key(folder: Path) -> tuple[str, bool]:
    """The booking QR key pair in `folder` (made if missing): its public key, and whether new."""
    private_path = folder / f"{BOOKING_KID}.key"
    public_path = folder / f"{BOOKING_KID}.pub"
    if private_path.exists():
        if not public_path.is_file():
            raise CommandError(f"{private_path} exists without {public_path}: put it back", 1)
        return public_path.read_text(encoding="utf-8").strip(), False
    private, public = signed_qr.new_key()  # what `vaxflow bookings keygen` makes
    _write_private(private_path, private + "\n")
    _write_private(public_path, public + "\n")
    return public, True


def _run(args: argparse.Namespace) -> int:
    server_url = _server_url(args)
    host, _port = server_address(server_url)
    tls = server_url.startswith("https:")
    if not _SITE_ID.match(args.site_id):
        raise CommandError("--site-id: use lowercase letters, digits, - and _", 2)
    folder: Path = args.dir
    site_path = folder / "site.toml"
    devices_dir = folder / "devices"
    if site_path.exists() and not args.refresh:
        raise CommandError(
            f"{site_path} exists: give --refresh to keep it and rewrite the device files", 2
        )
    if args.refresh and not site_path.exists():
        raise CommandError(f"--refresh: there is no {site_path} to keep", 2)
    for private in (folder, devices_dir):
        private.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(private, 0o700)
    given = _given(devices_dir) if args.refresh else {}
    if args.refresh:
        kept = site_settings(site_path)
        stations = [s.id for s in kept.stations]
        site_id = kept.site.id
    else:
        stations = [f"S{n:02d}" for n in range(1, args.stations + 1)]
        site_id = args.site_id
    devices = [
        given.get(device_id)
        or Device(device_id, role, _token(), extra.get("station"), extra.get("board"))
        for device_id, role, extra in _wanted(args, stations)
    ]
    # Devices given out earlier and no longer wanted keep their token until removed by hand.
    ids = {d.id for d in devices}
    devices += [d for device_id, d in given.items() if device_id not in ids]
    said = []
    if tls:
        done, warning = _tls(folder / "tls", site_id, host)
        said.append(done)
        if warning:
            print(warning, file=sys.stderr)
    public_key, new_key = _booking_key(folder / "bookings")
    said.append(
        f"{folder / 'bookings'}/: booking QR key {BOOKING_KID} ({'new' if new_key else 'kept'})"
    )
    if args.refresh:
        text = replace_tokens(site_path.read_text(encoding="utf-8"), devices)
        if new_key:
            said.append(
                f"add the new booking key to {site_path}: [booking] public_keys = "
                f'{{ {BOOKING_KID} = "{public_key}" }}'
            )
    else:
        text = site_file(
            site_id=site_id,
            name=args.name,
            server_url=server_url,
            stations=args.stations,
            devices=devices,
            booking_key=public_key,
        )
    _write_private(site_path, text)
    for device in devices:
        _write_private(devices_dir / device.id / "site.toml", device_copy(text, device))
        _write_private(devices_dir / device.id / "device.env", device_env(device, server_url))
    new = len([d for d in devices if d.id not in given])
    print(f"{site_path}: {len(devices)} devices ({new} new), files in {devices_dir}/")
    for line in said:
        print(line)
    if not tls:
        print(
            f"plain HTTP ({server_url}): start the server with `vaxflow server --insecure`; "
            "tokens and personal data cross the LAN in clear"
        )
    print(_next_steps(folder, server_url, tls, devices))
    try:
        load_settings(site_path)
    except ConfigError as err:
        print(
            f"{site_path}: {len(err.problems)} problem(s) to fix, then --refresh again:",
            file=sys.stderr,
        )
        print(err, file=sys.stderr)
        return 1
    return 0


def _next_steps(folder: Path, server_url: str, tls: bool, devices: Sequence[Device]) -> str:
    """What is left to do, and what to copy to which machine."""
    machines = [d.id for d in devices if d.role in ("kiosk", "station", "board")]
    browsers = [d.id for d in devices if d.role not in ("kiosk", "station", "board", "metrics")]
    scrapers = [d.id for d in devices if d.role == "metrics"]
    install = "install -o vaxflow -g vaxflow -m 0600"
    lines = [
        "",
        "What is left (docs/install.md has every step):",
        f"  1. Edit {folder}/site.toml (products, stations, questions, [[staff]] with `vaxflow",
        f"     staff hash-pin`), check it with `vaxflow config check {folder}/site.toml`, then",
        f"     run `vaxflow init-site {folder} --server-url {server_url} --refresh`",
        "     to update every device's copy.",
        "  2. Copy to the site server:",
        f"       {install} {folder}/site.toml {SITE_FILE}",
    ]
    if tls:
        lines += [
            f"       install -d -m 0755 {TLS_DIR}",
            f"       install -m 0644 {folder}/tls/server.crt {folder}/tls/ca.crt {TLS_DIR}/",
            f"       {install} {folder}/tls/server.key {TLS_DIR}/server.key",
        ]
    lines += [
        "     and enable vaxflow-server.service, vaxflow-backup.timer, vaxflow-doctor.timer.",
        f"  3. Copy to each kiosk, station and TV ({_span(machines)}):",
        f"       {install} {folder}/devices/ID/site.toml {SITE_FILE}",
        f"       install -m 0600 {folder}/devices/ID/device.env {DEVICE_ENV}",
    ]
    if tls:
        lines.append(f"       install -D -m 0644 {folder}/tls/ca.crt {TLS_CA}")
    lines.append("     and enable vaxflow-session@ROLE.service and vaxflow-doctor.timer.")
    step = 4
    if browsers:
        lines.append(
            f"  {step}. Marshals, observers and admin ({_span(browsers)}) use a browser;\n"
            f"     each one's token is in {folder}/devices/ID/device.env"
            + (f", and the browser trusts {folder}/tls/ca.crt." if tls else ".")
        )
        step += 1
    if scrapers:
        lines.append(
            f"  {step}. Prometheus ({_span(scrapers)}) reads GET /metrics: the value of\n"
            f"     VAXFLOW_METRICS_TOKEN in {folder}/devices/ID/device.env, alone in the file its\n"
            "     credentials_file names"
            + (f", and {folder}/tls/ca.crt as its ca_file" if tls else "")
            + " (deploy/prometheus/vaxflow-site.yml, docs/metrics.md)."
        )
        step += 1
    lines += [
        f"  {step}. Whoever issues booking QR codes gets {folder}/bookings/{BOOKING_KID}.key\n     "
        f"(`vaxflow bookings sign --kid {BOOKING_KID}`).",
        f"  {step + 1}. On every machine run `vaxflow doctor`: every line should say OK.",
        f"  Keep {folder} offline and private: it holds every device's token"
        + (", the CA's key (tls/ca.key)" if tls else "")
        + " and the booking key.",
    ]
    return "\n".join(lines)


def _span(ids: Sequence[str]) -> str:
    """kiosk-01 ... board-02: the first and last of a list of device ids."""
    if len(ids) <= 2:
        return ", ".join(ids) or "none"
    return f"{ids[0]} ... {ids[-1]}, {len(ids)} in all"
