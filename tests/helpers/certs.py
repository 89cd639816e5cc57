"""Test certificates made on the fly with `cryptography`: a CA, leaf certificates valid, expiring
or expired, and the files (PEM, DER, PKCS#12) and SSL contexts servers and checks need.

    ca = make_ca()
    leaf = make_cert("seal.example", issuer=ca, days=12)
    leaf.write(tmp_path / "seal")            # seal.crt, seal.key (PEM)
    ctx = leaf.server_context(tmp_path)      # for ssl.wrap_socket on a loopback server
"""
from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID


@dataclass
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    @property
    def not_after(self) -> datetime:
        return self.cert.not_valid_after_utc

    def write(self, stem: Path, chain: Sequence[Issued] = ()) -> tuple[Path, Path]:
        """Write `<stem>.crt` (this certificate, then `chain`) and `<stem>.key`; return both paths."""
        crt, key = stem.with_suffix(".crt"), stem.with_suffix(".key")
        crt.write_bytes(self.pem + b"".join(c.pem for c in chain))
        key.write_bytes(self.key_pem)
        return crt, key

    def pkcs12(self, password: Optional[bytes], chain: Sequence[Issued] = ()) -> bytes:
        enc = (serialization.BestAvailableEncryption(password) if password
               else serialization.NoEncryption())
        return pkcs12.serialize_key_and_certificates(b"xunjian-test", self.key, self.cert,
                                                     [c.cert for c in chain] or None, enc)

    def server_context(self, workdir: Path, chain: Sequence[Issued] = ()) -> ssl.SSLContext:
        """A server-side SSLContext presenting this certificate (files written under `workdir`)."""
        crt, key = self.write(workdir / f"server-{self.cert.serial_number:x}", chain)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(crt), str(key))
        return ctx


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Xunjian Test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "Xunjian Test CA", days: float = 3650) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return Issued(cert, key)


def make_cert(cn: str = "localhost", *, issuer: Optional[Issued] = None, days: float = 365,
              not_before: Optional[datetime] = None, not_after: Optional[datetime] = None,
              dns: Sequence[str] = ("localhost",), ips: Sequence[str] = ("127.0.0.1",)) -> Issued:
    """A leaf certificate valid for `days` from now (negative: already expired), or exactly
    `not_before`..`not_after`. Self-signed when `issuer` is None."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    na = not_after or now + timedelta(days=days)
    nb = not_before or min(now, na) - timedelta(days=30)
    sans: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn)).issuer_name(issuer.cert.subject if issuer else _name(cn))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(nb).not_valid_after(na)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                              critical=False))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False)
    cert = builder.sign(issuer.key if issuer else key, hashes.SHA256())
    return Issued(cert, key)
