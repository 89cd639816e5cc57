"""Certificate facts shared by the http and cert checks: fetch a peer certificate, word its expiry.

Parsing uses `cryptography` (optional extra `cert`), imported lazily: the agent core does not need
it, and a verified TLS connection can be judged from `ssl`'s own dictionary without it.
"""
from __future__ import annotations

import math
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional

from checks.model import Metric, Status

DAY = 86400.0


@dataclass
class CertInfo:
    subject_cn: str          # "" when the subject has no CN
    subject: str             # RFC 4514 string
    issuer: str
    not_before: datetime     # aware, UTC
    not_after: datetime      # aware, UTC
    serial: int = 0
    signature_algorithm: str = ""  # "SM2-with-SM3", "sha256WithRSAEncryption"; "" when unknown

    def to_details(self) -> dict[str, Any]:
        out = {"subject": self.subject, "issuer": self.issuer, "serial": f"{self.serial:x}",
               "not_before": self.not_before.isoformat(), "not_after": self.not_after.isoformat()}
        if self.signature_algorithm:
            out["signature_algorithm"] = self.signature_algorithm
        return out


# Names OpenSSL prints for the Chinese commercial (国密) signature algorithms, which
# `cryptography` does not name.
_SIGNATURE_NAMES = {"1.2.156.10197.1.501": "SM2-with-SM3", "1.2.156.10197.1.502": "SM2-with-SHA1",
                    "1.2.156.10197.1.503": "SM2-with-SHA256"}


def signature_name(cert: Any) -> str:
    """The certificate's signature algorithm by name, else its dotted OID."""
    oid = cert.signature_algorithm_oid
    name = _SIGNATURE_NAMES.get(oid.dotted_string) or getattr(oid, "_name", "")
    return oid.dotted_string if not name or name == "Unknown OID" else name


def info_from_x509(cert: Any) -> CertInfo:
    """CertInfo from a `cryptography.x509.Certificate`."""
    from cryptography.x509.oid import NameOID

    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(cns[0].value) if cns else ""
    try:
        nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        nb = cert.not_valid_before.replace(tzinfo=timezone.utc)
        na = cert.not_valid_after.replace(tzinfo=timezone.utc)
    return CertInfo(subject_cn=cn, subject=cert.subject.rfc4514_string(),
                    issuer=cert.issuer.rfc4514_string(), not_before=nb, not_after=na,
                    serial=cert.serial_number, signature_algorithm=signature_name(cert))


def info_from_der(der: bytes) -> CertInfo:
    from cryptography import x509

    return info_from_x509(x509.load_der_x509_certificate(der))


def info_from_ssl_dict(d: dict[str, Any]) -> CertInfo:
    """CertInfo from `SSLSocket.getpeercert()` (only filled in when the peer was verified)."""
    def name(rdns: Any) -> tuple[str, str]:
        parts = [f"{k}={v}" for rdn in rdns or () for k, v in rdn]
        cn = next((v for rdn in rdns or () for k, v in rdn if k == "commonName"), "")
        return cn, ",".join(parts)

    cn, subject = name(d.get("subject"))
    _, issuer = name(d.get("issuer"))
    nb = datetime.fromtimestamp(ssl.cert_time_to_seconds(d["notBefore"]), timezone.utc)
    na = datetime.fromtimestamp(ssl.cert_time_to_seconds(d["notAfter"]), timezone.utc)
    return CertInfo(subject_cn=cn, subject=subject, issuer=issuer, not_before=nb, not_after=na,
                    serial=int(d.get("serialNumber", "0"), 16))


def fetch_peer_der(host: str, port: int, *, server_name: Optional[str], timeout: float) -> bytes:
    """The peer's leaf certificate in DER, without verifying it: an expired or self-signed
    certificate must still be read and reported, not just 'handshake failed'."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name or None) as tls:
            der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("peer sent no certificate")
    return der


def days_left(info: CertInfo, now: Optional[datetime] = None) -> float:
    now = now or datetime.now(timezone.utc)
    return (info.not_after - now).total_seconds() / DAY


def judge_expiry(info: CertInfo, label: str, metric_name: str, warn_days: float, crit_days: float,
                 now: Optional[datetime] = None) -> tuple[Status, str, Metric]:
    """Status, Chinese sentence and `days_left` metric for one certificate.

    Thresholds are "at least N days left" (Nagios range `N:`); expired and not-yet-valid
    certificates are CRITICAL whatever the thresholds say.
    """
    now = now or datetime.now(timezone.utc)
    left = days_left(info, now)
    # Days are a plain number: Nagios perfdata knows no "d" unit (only s, %, B, c).
    metric = Metric(metric_name, round(left, 2), "", warn=f"{warn_days:g}:", crit=f"{crit_days:g}:")
    expiry = info.not_after.strftime("%Y-%m-%d")
    if info.not_before > now:
        start = info.not_before.strftime("%Y-%m-%d %H:%M")
        return Status.CRITICAL, f"证书 {label} 尚未生效 (生效时间 {start} UTC)", metric
    if left < 0:
        ago = max(1, math.floor(-left))
        return Status.CRITICAL, f"证书已过期 {ago} 天: {label} (到期日 {expiry})", metric
    whole = math.floor(left)
    when = f"将在 {whole} 天后过期" if whole >= 1 else "将在 1 天内过期"
    text = f"证书 {label} {when} ({expiry})"
    if left < crit_days:
        return Status.CRITICAL, text, metric
    if left < warn_days:
        return Status.WARNING, text, metric
    return Status.OK, text, metric
