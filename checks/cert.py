"""Certificate expiry: X.509 files (PEM with one or more certificates, DER, PKCS#12) and TLS endpoints.

A file holding a chain is reported by its certificate that expires soonest: any expired link
breaks the chain. Endpoints are read without verification so that an expired or self-signed
certificate is still reported with its dates (seal servers often use a private CA).
"""
from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from checks.base import Check, Outcome
from checks.model import Metric, Status
from checks.options import Duration
from checks.tls import CertInfo, fetch_peer_der, info_from_der, info_from_x509, judge_expiry

_P12_SUFFIXES = (".p12", ".pfx")


@dataclass
class CertOptions:
    files: list[str] = field(default_factory=list)       # PEM, DER, .p12/.pfx
    endpoints: list[str] = field(default_factory=list)   # "host:port", "[::1]:443"
    server_name: Optional[str] = None                    # SNI for endpoints (default: the host)
    password: Optional[str] = None                       # PKCS#12 password ...
    password_file: Optional[str] = None                  # ... or a file holding it (first line)
    warn_days: float = 30.0
    crit_days: float = 7.0
    connect_timeout: Duration = 10.0

    def validate(self) -> None:
        if not self.files and not self.endpoints:
            raise ValueError("give at least one of files or endpoints")
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if self.crit_days > self.warn_days:
            raise ValueError("crit_days must not exceed warn_days")
        for ep in self.endpoints:
            split_endpoint(ep)


def split_endpoint(text: str) -> tuple[str, int]:
    """'host:443' -> ('host', 443); '[::1]:8443' -> ('::1', 8443)."""
    s = text.strip()
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = s.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"endpoint {text!r} must be host:port")
    return host, int(port)


class UnreadableCert(Exception):
    """A file that is there but holds no certificate we can read (message in Chinese)."""


def load_certificates(path: Path, password: Optional[bytes]) -> list[Any]:
    """Every certificate in a PEM, DER or PKCS#12 file, as `cryptography.x509.Certificate`,
    whatever the key algorithm (SM2 seal certificates included)."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        try:
            return list(x509.load_pem_x509_certificates(data))
        except ValueError as e:
            raise UnreadableCert(f"PEM 证书无法解析: {e}") from None
    if path.suffix.lower() not in _P12_SUFFIXES:
        try:
            return [x509.load_der_x509_certificate(data)]
        except ValueError:
            pass  # maybe a PKCS#12 file with another name
    try:
        _, leaf, extra = pkcs12.load_key_and_certificates(data, password)
    except (UnsupportedAlgorithm, ValueError):
        # cryptography refuses the key (an SM2 seal key), a cipher it lacks, a wrong password
        # or a damaged file alike: the certificate bags alone say which, and give the dates
        certs = _certificate_bags(data, password, path.suffix.lower() in _P12_SUFFIXES)
    else:
        certs = ([leaf] if leaf is not None else []) + list(extra or [])
    if not certs:
        raise UnreadableCert("PKCS#12 文件中没有证书")
    return certs


def _certificate_bags(data: bytes, password: Optional[bytes], named_p12: bool) -> list[Any]:
    from cryptography import x509

    from checks import pkcs12certs

    try:
        ders = pkcs12certs.certificates(data, password)
    except pkcs12certs.WrongPassword as e:
        raise UnreadableCert(str(e)) from None
    except pkcs12certs.Pkcs12Error as e:
        raise UnreadableCert(str(e) if named_p12 else "不是 PEM、DER 或 PKCS#12 格式的证书") from None
    try:
        return [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as e:
        raise UnreadableCert(f"PKCS#12 文件中的证书无法解析: {e}") from None


@dataclass
class _Item:
    status: Status
    text: str
    metric: Optional[Metric]
    days: float
    details: dict[str, Any]


class CertCheck(Check):
    type = "cert"
    Options = CertOptions

    def run(self) -> Outcome:
        o: CertOptions = self.options
        try:
            password = self._password()
        except OSError as e:
            return Outcome(Status.UNKNOWN, f"无法读取 password_file {o.password_file}: {e.strerror or e}")
        items = [self._file(Path(p), password) for p in o.files] + [self._endpoint(ep) for ep in o.endpoints]
        metrics: list[Metric] = []
        used: set[str] = set()
        for item, source in zip(items, list(o.files) + list(o.endpoints)):
            m = item.metric
            if m is None:
                continue
            if m.name in used:  # two sources with the same CN: name the second by its source
                m.name = f"days_left:{source}"
            used.add(m.name)
            metrics.append(m)
        ranked = sorted(items, key=lambda i: (-i.status.severity, i.days))
        bad = [i.text for i in ranked if i.status != Status.OK]
        if bad:
            summary = "; ".join(bad)
        else:
            summary = ranked[0].text + (f" (共 {len(items)} 项均正常)" if len(items) > 1 else "")
        status = ranked[0].status
        return Outcome(status, summary, metrics, {"certificates": [i.details for i in items][:32]})

    def _password(self) -> Optional[bytes]:
        o: CertOptions = self.options
        if o.password_file is not None:
            lines = Path(o.password_file).read_text(encoding="utf-8").splitlines()
            return lines[0].encode("utf-8") if lines else b""
        return None if o.password is None else o.password.encode("utf-8")

    def _file(self, path: Path, password: Optional[bytes]) -> _Item:
        where = {"source": str(path)}
        try:
            certs = load_certificates(path, password)
        except FileNotFoundError:
            return _Item(Status.CRITICAL, f"证书文件不存在: {path}", None, -1e9, where)
        except PermissionError:
            return _Item(Status.UNKNOWN, f"证书文件无权读取: {path}", None, 0, where)
        except UnreadableCert as e:
            return _Item(Status.UNKNOWN, f"证书文件 {path}: {e}", None, 0, where)
        infos = sorted((info_from_x509(c) for c in certs), key=lambda i: i.not_after)
        item = self._judge(infos[0], path.name, f"{path}")
        item.details["certificates_in_file"] = len(infos)
        return item

    def _endpoint(self, endpoint: str) -> _Item:
        o: CertOptions = self.options
        host, port = split_endpoint(endpoint)
        try:
            der = fetch_peer_der(host, port, server_name=o.server_name or _sni(host),
                                 timeout=o.connect_timeout)
        except ConnectionRefusedError:
            return _Item(Status.CRITICAL, f"{endpoint} 连接被拒绝, 无法读取证书", None, -1e9,
                         {"source": endpoint})
        except socket.timeout:
            return _Item(Status.CRITICAL, f"{endpoint} 连接超时, 无法读取证书", None, -1e9,
                         {"source": endpoint})
        except (OSError, ssl.SSLError) as e:
            return _Item(Status.CRITICAL, f"{endpoint} TLS 握手失败: {e}", None, -1e9,
                         {"source": endpoint})
        return self._judge(info_from_der(der), endpoint, endpoint)

    def _judge(self, info: CertInfo, fallback: str, source: str) -> _Item:
        o: CertOptions = self.options
        name = info.subject_cn or fallback
        label = f"CN={info.subject_cn}" if info.subject_cn else fallback
        status, text, metric = judge_expiry(info, label, f"days_left:{name}", o.warn_days, o.crit_days)
        if info.subject_cn:  # say where the certificate was found
            text += f" [{fallback}]"
        details = {"source": source, **info.to_details()}
        return _Item(status, text, metric, metric.value, details)


def _sni(host: str) -> Optional[str]:
    """No SNI for IP literals (RFC 6066 forbids it)."""
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return None
    except OSError:
        return host
