"""`vaxflow decode [--backend NAME] [--json] IMAGE...`: the QR decoders on image files."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from vaxflow.hardware.decoders import (
    BACKENDS,
    Decoder,
    DecoderUnavailable,
    ImageUnreadable,
    load_image,
    make_decoder,
)


def register(sub: Any) -> None:
    decode = sub.add_parser(
        "decode",
        help="decode the QR codes in image files",
        description="Decode QR codes in image files; one line per image.",
    )
    decode.add_argument(
        "--backend",
        default="default",
        metavar="NAME",
        help=f"default, {', '.join(BACKENDS)}, or a chain like zxing+opencv (default: default)",
    )
    decode.add_argument(
        "--json", action="store_true", help='one JSON object per image: {"path", "texts", "ms"}'
    )
    decode.add_argument("images", nargs="+", metavar="IMAGE")
    decode.set_defaults(func=_decode)


def _decode(args: argparse.Namespace) -> int:
    try:
        decoder = make_decoder(args.backend)
    except (ValueError, DecoderUnavailable) as err:
        print(f"vaxflow decode: {err}", file=sys.stderr)
        return 2
    try:
        return _decode_all(decoder, args.images, as_json=args.json)
    finally:
        decoder.close()


def _decode_all(decoder: Decoder, paths: list[str], *, as_json: bool) -> int:
    failures = 0
    for path in paths:
        try:
            image = load_image(path)
            started = time.perf_counter()
            texts = decoder.decode(image)
            ms = round(1000 * (time.perf_counter() - started), 1)
        except (ImageUnreadable, ValueError) as err:
            failures += 1
            _report_error(path, str(err), as_json=as_json)
            continue
        if as_json:
            print(json.dumps({"path": path, "texts": texts, "ms": ms}, ensure_ascii=False))
        elif texts:
            shown = " | ".join(json.dumps(t, ensure_ascii=False) for t in texts)
            print(f"{path}: {shown} ({ms} ms)")
        else:
            print(f"{path}: no QR code ({ms} ms)")
        sys.stdout.flush()
    return 1 if failures else 0


def _report_error(path: str, message: str, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"path": path, "error": message}, ensure_ascii=False))
    else:
        print(f"{path}: error: {message}")
