"""TLS for a site: its own CA, the server certificate it signs, and clients that pin the CA.

`vaxflow tls init DIR` makes both with the `cryptography` package. Kiosks, stations and boards
trust only the CA named in their site file (`server.tls_ca`), not the system's CAs: a server
with another certificate is refused, with a message that says which file to check.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from vaxflow.private_files import write_private_bytes

#: Years a site CA is valid; the server certificate's days (renew with `tls init --renew`).
CA_YEARS = 10
SERVER_DAYS = 825


@dataclass(frozen=True)
class SiteTls:
    """The files `init` wrote."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    names: tuple[str, ...]


def default_names() -> list[str]:
    """The names the server is reached by when none are given: this machine and loopback."""
    return sorted({socket.gethostname(), "localhost", "127.0.0.1", "::1"})


def init(folder: Path, site_id: str, names: list[str], *, renew: bool = False) -> SiteTls:
    """A site CA (kept if it exists and `renew`) and a server certificate for `names`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    ca_cert_path, ca_key_path = folder / "ca.crt", folder / "ca.key"
    cert_path, key_path = folder / "server.crt", folder / "server.key"
    now = dt.datetime.now(dt.UTC)
    pem = serialization.Encoding.PEM
    plain = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8

    if renew and ca_cert_path.is_file() and ca_key_path.is_file():
        ca_cert = x509.load_pem_x509_certificate(ca_cert_path.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        if ca_cert_path.exists() and not renew:
            raise FileExistsError(f"{ca_cert_path} exists; give --renew to keep it and renew")
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"vaxflow {site_id} CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
        write_private_bytes(ca_key_path, ca_key.private_bytes(pem, pkcs8, plain))
        ca_cert_path.write_bytes(ca_cert.public_bytes(pem))

    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    write_private_bytes(key_path, key.private_bytes(pem, pkcs8, plain))
    cert_path.write_bytes(cert.public_bytes(pem))
    return SiteTls(ca_cert_path, ca_key_path, cert_path, key_path, tuple(names))


def server_context(cert: str, key: str) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 at least)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    return context


def pinned_context(ca: str | Path) -> ssl.SSLContext:
    """A client context that trusts the site CA only (not the system's), names checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(ca))
    return context


def certificate_problem(err: BaseException, ca: str | Path | None) -> str | None:
    """Words for a certificate the pinned CA does not vouch for, or None for another error."""
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" not in text and "certificate verify failed" not in text:
        return None
    where = f"the site CA {ca} (server.tls_ca)" if ca else "the system's CAs"
    return (
        f"the server's certificate is not signed by {where}: check that this device's site "
        f"file names the CA `vaxflow tls init` made for this site ({text})"
    )
