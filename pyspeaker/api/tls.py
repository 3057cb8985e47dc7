"""Mutual TLS for the control API over TCP: the server and client contexts (each side proves
itself with a certificate signed by the one CA both trust), and ``pyspeaker certs generate``,
which makes that CA and a server and a client certificate with the ``cryptography``
package."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class TlsError(Exception):
    """A certificate or key that cannot be used (names the file)."""


def _load(ctx: ssl.SSLContext, cert: str, key: str, ca: str) -> None:
    for what, path in (("certificate", cert), ("key", key), ("CA certificate", ca)):
        if not os.path.isfile(path):
            raise TlsError(f"{what} {path}: no such file")
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"certificate {cert} / key {key}: {exc.strerror or exc}") from None
    try:
        ctx.load_verify_locations(ca)
    except (ssl.SSLError, OSError) as exc:
        raise TlsError(f"CA certificate {ca}: {exc.strerror or exc}") from None


def server_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """TLS 1.2 or later; a client must present a certificate signed by ``ca``."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load(ctx, cert, key, ca)
    return ctx


def client_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """TLS 1.2 or later; the server's certificate must be signed by ``ca`` and name the host
    connected to (a DNS name or an IP address in its subjectAltName)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    _load(ctx, cert, key, ca)
    return ctx


# -- certs generate -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Generated:
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path

    def files(self) -> list[Path]:
        return [self.ca_cert, self.ca_key, self.server_cert, self.server_key, self.client_cert, self.client_key]


def _alt_names(names: list[str]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for name in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            out.append(x509.DNSName(name))
    return out


def _write(path: Path, data: bytes, mode: int) -> None:
    """Created with its mode from the start (a key is never readable by others, not even
    for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def generate(
    directory: str | Path,
    names: list[str] | None = None,
    client_name: str = "pyspeaker-client",
    days: int = 825,
    force: bool = False,
) -> Generated:
    """A CA (``ca.pem``, ``ca.key``), a server certificate for ``names`` (DNS names or IP
    addresses; default localhost, 127.0.0.1 and ::1) and a client certificate, each with
    its key. Keys are mode 0600, certificates 0644, the directory is made 0700 if new.
    Refuses to overwrite existing files unless ``force``."""
    d = Path(directory)
    out = Generated(d / "ca.pem", d / "ca.key", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")
    if days < 1:
        raise ValueError(f"--days {days}: at least 1")
    if not force:
        existing = [str(p) for p in out.files() if p.exists()]
        if existing:
            raise FileExistsError(f"{', '.join(existing)} already exist (--force replaces them)")
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    server_names = names or ["localhost", "127.0.0.1", "::1"]
    alt = _alt_names(server_names)
    now = datetime.datetime.now(datetime.UTC)
    start = now - datetime.timedelta(minutes=5)
    end = now + datetime.timedelta(days=days)

    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pyspeaker control CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(cn: str, usage: x509.ObjectIdentifier, sans: list[x509.GeneralName]) -> tuple[bytes, bytes]:
        key = _key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _pem_key(key)

    server_pem, server_key = leaf(server_names[0], ExtendedKeyUsageOID.SERVER_AUTH, alt)
    client_pem, client_key = leaf(client_name, ExtendedKeyUsageOID.CLIENT_AUTH, [])
    _write(out.ca_key, _pem_key(ca_key), 0o600)
    _write(out.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    _write(out.server_key, server_key, 0o600)
    _write(out.server_cert, server_pem, 0o644)
    _write(out.client_key, client_key, 0o600)
    _write(out.client_cert, client_pem, 0o644)
    return out
