"""`vaxflow tls init DIR [--site ID] [--name HOST ...]`: a site CA and the server certificate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from vaxflow import site_tls


def register(sub: Any) -> None:
    tls = sub.add_parser("tls", help="the site's TLS certificates")
    actions = tls.add_subparsers(dest="tls_command", required=True, metavar="ACTION")
    init = actions.add_parser(
        "init",
        help="make a site CA and a server certificate signed by it",
        description="Writes DIR/ca.crt, DIR/ca.key, DIR/server.crt, DIR/server.key (keys 0600). "
        "Copy ca.crt to every kiosk, station and board; keep ca.key off the network.",
    )
    init.add_argument("dir", help="folder to write the files into")
    init.add_argument("--site", default="site", help="site id, named in the CA (default: site)")
    init.add_argument(
        "--name",
        action="append",
        help="a host name or IP address clients use to reach the server; repeat "
        "(default: this machine's name, localhost, 127.0.0.1, ::1)",
    )
    init.add_argument(
        "--renew", action="store_true", help="keep the existing CA; make a new server certificate"
    )
    init.set_defaults(func=_init)


def _init(args: argparse.Namespace) -> int:
    names = args.name or site_tls.default_names()
    try:
        made = site_tls.init(Path(args.dir), args.site, names, renew=args.renew)
    except FileExistsError as err:
        print(f"vaxflow tls init: {err}")
        return 1
    print(f"site CA:            {made.ca_cert} (key {made.ca_key})")
    print(f"server certificate: {made.server_cert} for {', '.join(made.names)}")
    print("in the site file's [server] section:")
    print(f'  tls_cert = "{made.server_cert}"')
    print(f'  tls_key = "{made.server_key}"')
    print(f'  tls_ca = "{made.ca_cert}"')
    return 0
