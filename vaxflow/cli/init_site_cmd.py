"""`vaxflow init-site DIR --server-url URL`: a new site's file and every device's own files.

DIR/site.toml            the server's site file (every token; 0600)
DIR/devices/ID/device.env   the device's role, name, server URL and token (0600)
DIR/devices/ID/site.toml    the site file with only that device's token (0600)

`--refresh` keeps the (edited) site file and the tokens already given out, gives tokens to
devices added since (more kiosks, a station added to the site file), and rewrites every
device's files, so a device's copy of the site file follows the server's.
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

from vaxflow.cli.common import CommandError, site_settings
from vaxflow.config.schema import ROLES, Role
from vaxflow.config.site_template import (
    DEVICE_ENV,
    SITE_FILE,
    TOKEN_VARIABLES,
    Device,
    device_env,
    parse_env,
    replace_tokens,
    server_address,
    site_file,
    tokens_of,
)

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
        help="the site server as devices reach it, e.g. http://10.0.0.2:8080",
    )
    parser.add_argument("--site-id", default="my-site", help="site id: a-z, 0-9, - and _")
    parser.add_argument("--name", default="Vaccination Site", help="site name on tickets")
    parser.add_argument("--stations", type=int, default=4, help="stations in a new site file")
    parser.add_argument("--kiosks", type=int, default=2, help="check-in kiosks")
    parser.add_argument("--boards", type=int, default=2, help="TVs showing a board")
    parser.add_argument("--observers", type=int, default=1, help="observation staff tablets")
    parser.add_argument("--marshals", type=int, default=1, help="queue marshal tablets")
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="keep DIR/site.toml and the tokens given; add new devices, rewrite device files",
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
    return wanted


def _run(args: argparse.Namespace) -> int:
    try:
        server_address(args.server_url)
    except ValueError as err:
        raise CommandError(f"--server-url: {err}", 2) from err
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
        stations = [s.id for s in site_settings(site_path).stations]
    else:
        stations = [f"S{n:02d}" for n in range(1, args.stations + 1)]
    devices = [
        given.get(device_id)
        or Device(device_id, role, _token(), extra.get("station"), extra.get("board"))
        for device_id, role, extra in _wanted(args, stations)
    ]
    # Devices given out earlier and no longer wanted keep their token until removed by hand.
    ids = {d.id for d in devices}
    devices += [d for device_id, d in given.items() if device_id not in ids]
    if args.refresh:
        text = replace_tokens(site_path.read_text(encoding="utf-8"), tokens_of(devices))
    else:
        text = site_file(
            site_id=args.site_id,
            name=args.name,
            server_url=args.server_url,
            stations=args.stations,
            devices=devices,
        )
    _write_private(site_path, text)
    for device in devices:
        own = replace_tokens(text, {device.role: [device.token]})
        _write_private(devices_dir / device.id / "site.toml", own)
        _write_private(devices_dir / device.id / "device.env", device_env(device, args.server_url))
    new = len([d for d in devices if d.id not in given])
    print(f"{site_path}: {len(devices)} devices ({new} new), files in {devices_dir}/")
    print(_NEXT_STEPS.format(dir=folder, site=SITE_FILE, env=DEVICE_ENV), file=sys.stdout)
    return 0


_NEXT_STEPS = """
What is left (docs/install.md has every step):
  1. Edit {dir}/site.toml (products, stations, questions, [[staff]] with `vaxflow staff
     hash-pin`), check it with `vaxflow config check {dir}/site.toml`, then run
     `vaxflow init-site {dir} --server-url URL --refresh` to update every device's copy.
  2. For HTTPS, run `vaxflow tls init` and give each device the site's CA certificate.
  3. Site server: install -o vaxflow -m 0600 {dir}/site.toml {site}, and
     enable vaxflow-server.service, vaxflow-backup.timer and vaxflow-doctor.timer.
  4. Each device: install -o vaxflow -m 0600 {dir}/devices/ID/site.toml {site}, and
     {dir}/devices/ID/device.env as {env} (mode 0600); enable vaxflow-session@ROLE.service.
  5. On every machine run `vaxflow doctor`: every line should say OK.
  Keep {dir} offline and private: it holds every device's token (admin/device.env: yours)."""
