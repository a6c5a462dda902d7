"""`vaxflow doctor [--local]`: what is wrong with this machine, in words, with what to do.

Reads /etc/vaxflow/device.env (from `vaxflow init-site`) for the machine's role, server and
site file unless the environment or the command line says otherwise. Checks the site file,
on the server its database and backups, the disks, the clock (synchronised, and its offset
to the server's), the server (reachable, certificate trusted), and on kiosks and stations
the scanner, ID-card reader and printer. Exit status: 0 all OK or warnings only, 1 a fault.
"""

from __future__ import annotations

import argparse
import os
import sys
import unicodedata
from pathlib import Path
from typing import Any

from vaxflow.cli.doctor_probes import Where, gather
from vaxflow.cli.doctor_rules import Finding, Level, diagnose, worst
from vaxflow.cli.doctor_text import text, words
from vaxflow.config.languages import LANGUAGES
from vaxflow.config.site_template import DEVICE_ENV, SITE_FILE, TOKEN_VARIABLES, parse_env

#: Roles a machine can have: the site server, or a device of `init-site`.
ROLES = ("server", "kiosk", "station", "board", "observer", "marshal", "admin")
#: Roles whose machine has a scanner, reader or printer attached.
DEVICE_ROLES = ("kiosk", "station")
BACKUP_DIR = "/var/lib/vaxflow/backups"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "doctor",
        help="check this machine: site file, database, disk, clock, server, devices",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", type=Path, default=Path(DEVICE_ENV), help=f"device file (default {DEVICE_ENV})"
    )
    parser.add_argument("--role", choices=ROLES, help="this machine's role (default: device file)")
    parser.add_argument("--config", type=Path, help=f"site file (default {SITE_FILE})")
    parser.add_argument("--server", help="server URL (default: device file; server: its own)")
    parser.add_argument("--db", help="server: the database (default: the site file's)")
    parser.add_argument(
        "--backup-dir", type=Path, help=f"server: the backup timer's folder (default {BACKUP_DIR})"
    )
    parser.add_argument("--ca", type=Path, help="CA certificate the server's is signed by")
    parser.add_argument(
        "--local", action="store_true", help="this machine only: do not ask the server"
    )
    parser.add_argument(
        "--lang", choices=LANGUAGES, help="language of the report (default: the site's first)"
    )
    devices = parser.add_mutually_exclusive_group()
    devices.add_argument("--devices", action="store_true", default=None, help="check devices")
    devices.add_argument("--no-devices", dest="devices", action="store_false")
    parser.set_defaults(func=_run)


def _settings_from(args: argparse.Namespace) -> Where:
    """The command line, then the environment, then the device file, then the defaults."""
    env: dict[str, str] = {}
    if args.env.is_file():
        try:
            env = parse_env(args.env.read_text(encoding="utf-8"))
        except OSError as err:
            print(f"{args.env}: cannot be read ({err}); going on without it", file=sys.stderr)
    env.update({k: v for k, v in os.environ.items() if k.startswith("VAXFLOW_")})
    role = args.role or env.get("VAXFLOW_ROLE", "server")
    backup_dir = args.backup_dir
    if backup_dir is None and role == "server":
        backup_dir = Path(env.get("VAXFLOW_BACKUP_DIR", BACKUP_DIR))
    ca = args.ca or (Path(env["VAXFLOW_CA_FILE"]) if env.get("VAXFLOW_CA_FILE") else None)
    devices = args.devices if args.devices is not None else role in DEVICE_ROLES
    return Where(
        role=role,
        config=args.config or Path(env.get("VAXFLOW_CONFIG", SITE_FILE)),
        server_url=args.server or env.get("VAXFLOW_SERVER_URL"),
        db=args.db,
        backup_dir=backup_dir,
        ca_file=ca,
        local=args.local,
        devices=devices,
        token=env.get(TOKEN_VARIABLES[role]) if role in TOKEN_VARIABLES else None,
        device_id=env.get("VAXFLOW_DEVICE_ID"),
    )


def _pad(words: str, columns: int) -> str:
    """`words` padded to `columns` on a terminal, where a Chinese character takes two."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in words)
    return words + " " * max(columns - len(words) - wide, 0)


def render(finding: Finding, language: str) -> str:
    """One finding as the technician reads it: level, check, what, and what to do."""
    said, todo = words(finding, language)
    level = _pad(text(f"level.{finding.level.name}", language), 6)
    line = f"{level} {finding.check:<9} {said}"
    if todo:
        line += f"\n{'':<16} → {todo}"
    return line


def _run(args: argparse.Namespace) -> int:
    where = _settings_from(args)
    facts = gather(where)
    language = args.lang or facts.language
    findings = diagnose(facts)
    for finding in findings:
        print(render(finding, language))
    counts = {
        "role": where.role,
        "faults": sum(f.level is Level.FAULT for f in findings),
        "warnings": sum(f.level is Level.WARN for f in findings),
    }
    print(text("summary", language, counts))
    return 1 if worst(findings) is Level.FAULT else 0
