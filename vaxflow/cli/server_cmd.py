"""`vaxflow server --config FILE [--host H] [--port P] [--db PATH]`."""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from typing import Any

from vaxflow.config import ConfigError, load_settings
from vaxflow.queue.serve import serve
from vaxflow.queue.server import create_app


def register(sub: Any) -> None:
    parser = sub.add_parser("server", help="run a site server")
    parser.add_argument("--config", required=True, help="site TOML file")
    parser.add_argument("--host", help="address to listen on (default: from the site file)")
    parser.add_argument("--port", type=int, help="TCP port, 0 for any free one")
    parser.add_argument("--db", help="SQLite file or database URL (default: from the site file)")
    parser.add_argument(
        "--tls-cert", help="PEM certificate: serve HTTPS (default: the site file's)"
    )
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 1
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    cert = args.tls_cert or settings.server.tls_cert
    key = args.tls_key or settings.server.tls_key
    context = None
    if cert or key:
        if not (cert and key):
            print("give both a TLS certificate and its key", file=sys.stderr)
            return 2
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as err:
            print(f"cannot use the TLS certificate {cert}: {err}", file=sys.stderr)
            return 1
    app = create_app(settings, db=args.db)

    async def started(url: str) -> None:
        print(f"vaxflow server for {settings.site.name} listening on {url}", flush=True)

    asyncio.run(serve(app, host, port, started=started, ssl_context=context))
    return 0
