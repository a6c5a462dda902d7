"""The site's certificate key and the keys its /verify page trusts (issue 15).

`POST /api/certificates/verify` answers valid (with what the certificate says) or the reason
it is not, in every language; it needs no token: anyone at the site may check a certificate.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.queue.core import certificate_qr
from vaxflow.queue.core.certificate_qr import CertificateKeys, SiteKey
from vaxflow.queue.server import api_models as m
from vaxflow.queue.server.appkeys import CERTIFICATE_KEYS
from vaxflow.queue.server.handlers import json_response, parse_body


def load(settings: Settings) -> CertificateKeys:
    """Read the key files the site file names (a bad file stops the server at start)."""
    rules = settings.uplink
    trust: dict[str, SiteKey] = {}
    if rules.certificate_trust_file:
        data = json.loads(Path(rules.certificate_trust_file).read_text(encoding="utf-8"))
        trust |= {k: SiteKey(str(v["site"]), str(v["public_key"])) for k, v in data.items()}
    if not rules.certificate_key_file:
        return CertificateKeys(site_id=settings.site.id, trust=trust)
    own = json.loads(Path(rules.certificate_key_file).read_text(encoding="utf-8"))
    if own.get("site") != settings.site.id:
        raise ValueError(f"{rules.certificate_key_file} is the key of site {own.get('site')!r}")
    trust[own["key_id"]] = SiteKey(settings.site.id, own["public_key"])
    return CertificateKeys(own["private_key"], own["key_id"], settings.site.id, trust)


async def verify(request: web.Request) -> web.Response:
    """POST /api/certificates/verify: valid, or why not."""
    body, _raw = await parse_body(request, m.CertificateVerifyRequest)
    try:
        found = certificate_qr.verify(body.text, request.app[CERTIFICATE_KEYS].trust)
    except certificate_qr.CertificateRefused as err:
        return json_response({"valid": False, **err.to_json()})
    return json_response(
        {
            "valid": True,
            "certificate": {
                "name": found.name,
                "product": found.product,
                "manufacturer": found.manufacturer,
                "lot": found.lot,
                "dose_number": found.dose_number,
                "date": found.given_on.isoformat(),
                "site": found.site_id,
                "dose": found.dose_key,
            },
        }
    )
