"""The site's certificate key and the keys its /verify page trusts (issue 15).

`POST /api/certificates/verify` answers valid (with what the certificate says) or the reason
it is not, in every language; it needs no token: anyone at the site may check a certificate.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

from vaxflow.config import Settings
from vaxflow.queue.api import models as m
from vaxflow.queue.core import certificate_qr
from vaxflow.queue.core.certificate_qr import CertificateKeys, SiteKey
from vaxflow.queue.core.errors import Refused
from vaxflow.queue.server.appkeys import CERTIFICATE_KEYS, SETTINGS, STORE
from vaxflow.queue.server.handlers import json_response, parse_body
from vaxflow.queue.store import views


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
    certificate = found.shown()
    struck = await _struck(request, found.site_id, found.dose_key)
    if struck is not None:  # signed by us, but the dose was given in error and struck out
        refusal = Refused(
            "dose_struck",
            "This certificate's dose was struck out as given in error.",
            struck_at=struck.struck_at.isoformat(),
        )
        return json_response({"valid": False, "certificate": certificate, **refusal.to_json()})
    return json_response({"valid": True, "certificate": certificate})


async def _struck(request: web.Request, site_id: str, key: str) -> Any:
    """This site's record of a dose it struck out (None: it stands, or is another site's)."""
    settings = request.app[SETTINGS]
    prefix = f"{settings.site.id}/"
    if (
        site_id != settings.site.id
        or not key.startswith(prefix)
        or not key[len(prefix) :].isdigit()
    ):
        return None
    dose_id = int(key[len(prefix) :])
    return await request.app[STORE].read(lambda c: views.dose_struck(c, settings.site.id, dose_id))
