"""`vaxflow certificate keygen --site ID`: a site's certificate key pair; `vaxflow certificate
verify TEXT --keys FILE`: valid, or why not (unreadable, unknown key, tampered, another site's).

The keys file is JSON: ``{"<key id>": {"site": "<site id>", "public_key": "<base64>"}}``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from vaxflow.cli.common import CommandError
from vaxflow.cli.report_cmd import run
from vaxflow.queue.core import certificate_qr


def register(sub: Any) -> None:
    parser = sub.add_parser("certificate", help="sign keys for certificate QRs; verify one")
    commands = parser.add_subparsers(dest="certificate_command", required=True, metavar="COMMAND")
    keygen = commands.add_parser("keygen", help="a new key pair for a site's certificates")
    keygen.add_argument("--site", required=True, help="the site id the key signs for")
    keygen.set_defaults(func=lambda args: run(_keygen, args))
    check = commands.add_parser("verify", help="check a certificate QR's text (- reads stdin)")
    check.add_argument("text", help="the QR's text, or - for standard input")
    check.add_argument("--keys", required=True, help="JSON file of trusted public keys")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=lambda args: run(_verify, args))


def _keygen(args: argparse.Namespace) -> int:
    private, public = certificate_qr.new_key()
    kid = f"{args.site}-{secrets.token_hex(3)}"[-40:]
    print(
        json.dumps(
            {
                "key_id": kid,
                "site": args.site,
                "private_key": private,
                "public_key": public,
                "trust": {kid: {"site": args.site, "public_key": public}},
            },
            indent=2,
        )
    )
    return 0


def _load_keys(path: str) -> dict[str, certificate_qr.SiteKey]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {
            kid: certificate_qr.SiteKey(str(v["site"]), str(v["public_key"]))
            for kid, v in data.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise CommandError(f"{path}: not a keys file ({err})") from err


def _verify(args: argparse.Namespace) -> int:
    keys = _load_keys(args.keys)
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        found = certificate_qr.verify(text, keys)
    except certificate_qr.CertificateRefused as err:
        answer: dict[str, Any] = {"valid": False, "reason": err.reason, "message": err.message}
        print(json.dumps(answer, ensure_ascii=False) if args.json else f"NOT VALID: {err.message}")
        return 2
    shown = {
        "valid": True,
        "name": found.name,
        "product": found.product,
        "manufacturer": found.manufacturer,
        "lot": found.lot,
        "dose_number": found.dose_number,
        "date": found.given_on.isoformat(),
        "site": found.site_id,
        "dose": found.dose_key,
    }
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print("VALID: " + ", ".join(f"{k} {v}" for k, v in shown.items() if k != "valid"))
    return 0
