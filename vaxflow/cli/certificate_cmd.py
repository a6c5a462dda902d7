"""`vaxflow certificate keygen --site ID`: a site's certificate key pair; `vaxflow certificate
verify TEXT|IMAGE --keys FILE`: valid, or why not (unreadable, unknown key, tampered, another
site's).

The keys file is JSON: ``{"<key id>": {"site": "<site id>", "public_key": "<base64>"}}``.
IMAGE is a photo or screenshot of the certificate's QR (PNG, JPEG, ...), read with the
kiosk's QR decoders (the `kiosk` extra). Exit status: 0 valid, 2 not a valid certificate,
1 the image or keys file could not be read (no QR code in the picture).
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
    check = commands.add_parser(
        "verify", help="check a certificate QR: its text, a photo of it, or - (stdin)"
    )
    check.add_argument(
        "text", metavar="TEXT|IMAGE", help="the QR's text, an image file of the QR, or - (stdin)"
    )
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
    text = _certificate_text(args.text)
    try:
        found = certificate_qr.verify(text, keys)
    except certificate_qr.CertificateRefused as err:
        answer: dict[str, Any] = {"valid": False, "reason": err.reason, "message": err.message}
        print(json.dumps(answer, ensure_ascii=False) if args.json else f"NOT VALID: {err.message}")
        return 2
    shown = {"valid": True, **found.shown()}
    if args.json:
        print(json.dumps(shown, ensure_ascii=False))
    else:
        print("VALID: " + ", ".join(f"{k} {v}" for k, v in shown.items() if k != "valid"))
    return 0


#: Endings of the image files `verify` reads (anything else that names a file is tried too).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def _certificate_text(given: str) -> str:
    """The QR's text: standard input, the text itself, or the QR read from an image file."""
    if given == "-":
        return sys.stdin.read().strip()
    if given.startswith(certificate_qr.PREFIX + "."):
        return given
    path = Path(given)
    if path.suffix.lower() in IMAGE_SUFFIXES or path.is_file():
        return _read_qr(path)
    return given  # not a file: the verifier says it is not a certificate


def _read_qr(path: Path) -> str:
    """The certificate QR's text in a photo or screenshot (the first one, if it shows more)."""
    try:  # OpenCV and the decoders are the kiosk extra; a text check needs neither
        from vaxflow.hardware.decoders import ImageUnreadable, load_image, make_decoder
    except ModuleNotFoundError as err:
        raise CommandError(
            f"reading an image needs the kiosk extra ({err}): pip install 'vaxflow[kiosk]',"
            " or give the QR's text"
        ) from err
    decoder = make_decoder("default")
    try:
        texts = decoder.decode(load_image(path))
    except ImageUnreadable as err:
        raise CommandError(str(err)) from err
    finally:
        decoder.close()
    if not texts:
        raise CommandError(
            f"{path}: no QR code found in the image (photograph the whole QR, flat and sharp)"
        )
    ours = [t for t in texts if t.startswith(certificate_qr.PREFIX + ".")]
    return (ours or texts)[0]
