"""SM2/SM3 (国密) seal certificates made by OpenSSL 3 at test time, in PEM, DER and PKCS#12 with
the default (PBES2: PBKDF2 + AES-256-CBC) and the legacy (RC2-40 / 3DES) encryption."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import pkcs12

from checks import pkcs12certs
from checks.base import Outcome
from checks.cert import CertCheck, CertOptions
from checks.model import Status
from checks.options import build

PASSWORD = "印章-p@ss"

pytestmark = pytest.mark.real_clock  # the openssl command dates the certificates by the system clock


def openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {done.stderr.decode(errors='replace')[-400:]}")


@pytest.fixture(scope="module")
def sm2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SM2 CA (10 years) and a seal certificate it signed, valid 3 days from now."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("sm2")
    try:
        openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "ca.key", cwd=d)
    except RuntimeError as e:
        pytest.skip(f"this openssl cannot make SM2 keys: {e}")
    openssl("req", "-x509", "-new", "-key", "ca.key", "-sm3", "-days", "3650", "-utf8",
            "-subj", "/O=某市财政局/CN=电子印章测试CA", "-out", "ca.pem", cwd=d)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:SM2", "-out", "seal.key", cwd=d)
    openssl("req", "-new", "-key", "seal.key", "-sm3", "-utf8", "-subj", "/O=某市财政局/CN=财政局电子印章",
            "-out", "seal.csr", cwd=d)
    openssl("x509", "-req", "-in", "seal.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-sm3", "-days", "3", "-out", "seal.pem", cwd=d)
    openssl("x509", "-in", "seal.pem", "-outform", "DER", "-out", "seal.der", cwd=d)
    common = ["pkcs12", "-export", "-inkey", "seal.key", "-in", "seal.pem", "-certfile", "ca.pem",
              "-passout", f"pass:{PASSWORD}"]
    openssl(*common, "-out", "seal-aes.p12", cwd=d)
    openssl("pkcs12", "-export", "-inkey", "seal.key", "-in", "seal.pem", "-passout", "pass:",
            "-out", "seal-nopass.pfx", cwd=d)
    openssl(*common, "-nomac", "-certpbe", "AES-256-CBC", "-out", "seal-nomac.p12", cwd=d)
    try:
        openssl(*common, "-legacy", "-out", "seal-legacy.pfx", cwd=d)
        openssl(*common, "-legacy", "-certpbe", "PBE-SHA1-3DES", "-out", "seal-3des.p12", cwd=d)
    except RuntimeError:
        pass  # no legacy provider: those cases skip
    return d


def run(**kw: object) -> Outcome:
    return CertCheck(build(CertOptions, kw, "checks[0]")).run()


def _file(d: Path, name: str) -> Path:
    path = d / name
    if not path.exists():
        pytest.skip(f"openssl could not write {name} (legacy provider missing?)")
    return path


def test_cryptography_alone_refuses_the_sm2_pkcs12(sm2: Path) -> None:
    """Why the check reads the certificate bags itself: the key stops cryptography's loader."""
    data = (sm2 / "seal-aes.p12").read_bytes()
    try:
        pkcs12.load_key_and_certificates(data, PASSWORD.encode())
    except UnsupportedAlgorithm:
        pass
    else:  # a cryptography that knows SM2 keys: the fallback is then simply not needed
        pytest.skip("this cryptography loads SM2 keys")


@pytest.mark.parametrize(("name", "password", "in_file"), [
    ("seal.pem", None, 1),
    ("seal.der", None, 1),
    ("seal-aes.p12", PASSWORD, 2),        # PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC, MAC SHA-256
    ("seal-legacy.pfx", PASSWORD, 2),     # certificates under RC2-40, key under 3DES, MAC SHA-1
    ("seal-3des.p12", PASSWORD, 2),       # certificates under 3DES
    ("seal-nopass.pfx", None, 1),         # no password: OpenSSL's empty one
    ("seal-nomac.p12", PASSWORD, 2),      # no MAC: the decryption alone checks the password
])
def test_sm2_certificate_dates_read_in_every_form(sm2: Path, name: str, password: Optional[str],
                                                 in_file: int) -> None:
    path = _file(sm2, name)
    out = run(files=[str(path)], **({"password": password} if password else {}))
    assert out.status == Status.CRITICAL, out.summary  # 3 days left, below crit_days 7
    assert out.summary.startswith("证书 CN=财政局电子印章 将在 2 天后过期 (") and f"[{name}]" in out.summary
    details = out.details["certificates"][0]
    assert details["signature_algorithm"] == "SM2-with-SM3"
    assert details["certificates_in_file"] == in_file
    assert details["issuer"] == "CN=电子印章测试CA,O=某市财政局"
    expected = x509.load_pem_x509_certificate((sm2 / "seal.pem").read_bytes()).not_valid_after_utc
    assert details["not_after"] == expected.isoformat()
    assert 2.9 < out.metrics[0].value <= 3 and out.metrics[0].name == "days_left:财政局电子印章"


def test_sm2_ca_alone_is_ok_and_named(sm2: Path) -> None:
    out = run(files=[str(sm2 / "ca.pem")])
    assert out.status == Status.OK and out.details["certificates"][0]["signature_algorithm"] == "SM2-with-SM3"


def test_wrong_password_without_mac_is_said_by_the_decryption(sm2: Path) -> None:
    path = _file(sm2, "seal-nomac.p12")
    out = run(files=[str(path)], password="wrong")
    assert out.status == Status.UNKNOWN
    assert out.summary == f"证书文件 {path}: PKCS#12 密码错误或文件已损坏 (解密结果无效)"


@pytest.mark.parametrize("name", ["seal-aes.p12", "seal-legacy.pfx"])
def test_wrong_or_missing_password_is_said_plainly(sm2: Path, tmp_path: Path, name: str) -> None:
    path = _file(sm2, name)
    out = run(files=[str(path)], password="wrong")
    assert out.status == Status.UNKNOWN
    assert out.summary == f"证书文件 {path}: PKCS#12 密码错误或文件已损坏 (完整性校验失败)"
    out = run(files=[str(path)])
    assert out.summary == f"证书文件 {path}: PKCS#12 文件需要密码 (请配置 password 或 password_file)"
    secret = tmp_path / "p12.pass"
    secret.write_text(PASSWORD + "\n", encoding="utf-8")
    assert run(files=[str(path)], password_file=str(secret)).status == Status.CRITICAL


def test_pkcs12_under_another_name_is_still_read(sm2: Path, tmp_path: Path) -> None:
    odd = tmp_path / "seal.bin"
    odd.write_bytes((sm2 / "seal-aes.p12").read_bytes())
    out = run(files=[str(odd)], password=PASSWORD)
    assert out.status == Status.CRITICAL and "CN=财政局电子印章" in out.summary


def test_damaged_pkcs12_is_unknown_with_a_reason(sm2: Path, tmp_path: Path) -> None:
    data = (sm2 / "seal-aes.p12").read_bytes()
    cut = tmp_path / "cut.p12"
    cut.write_bytes(data[: len(data) // 2])
    out = run(files=[str(cut)], password=PASSWORD)
    assert (out.status, out.summary) == (Status.UNKNOWN, f"证书文件 {cut}: 不是有效的 PKCS#12 文件 (结构损坏)")
    junk = tmp_path / "junk.pfx"
    junk.write_bytes(os.urandom(700))
    assert run(files=[str(junk)], password=PASSWORD).status == Status.UNKNOWN
    # a changed byte breaks the MAC just as a wrong password does: the message names both
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0xFF
    bent = tmp_path / "bent.p12"
    bent.write_bytes(bytes(flipped))
    out = run(files=[str(bent)], password=PASSWORD)
    assert out.status == Status.UNKNOWN and "PKCS#12 密码错误或文件已损坏" in out.summary


def test_rc2_matches_cryptography_for_128_bit_keys() -> None:
    """The module's RC2 (RFC 2268, needed for the 40-bit keys of legacy PKCS#12 files, which
    cryptography's RC2 does not take) against cryptography's RC2 with 128-bit keys."""
    from cryptography.hazmat.decrepit.ciphers.algorithms import RC2
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    for _ in range(20):
        key, iv, msg = os.urandom(16), os.urandom(8), os.urandom(64)
        enc = Cipher(RC2(key), modes.CBC(iv)).encryptor()
        assert pkcs12certs.rc2_cbc_decrypt(key, 128, iv, enc.update(msg) + enc.finalize()) == msg


def test_key_derivation_iterations_are_bounded() -> None:
    with pytest.raises(pkcs12certs.Pkcs12Error, match="迭代次数"):
        pkcs12certs.pkcs12_kdf("sha1", b"", b"salt", 10**9, 1, 24)


def _to_ber(der: bytes, pos: int = 0) -> tuple[bytes, int]:
    """Re-encode one DER element as Windows/Java tools may write BER: constructed elements with
    indefinite lengths, long OCTET STRINGs split into constructed pieces."""
    tag, first = der[pos], der[pos + 1]
    start = pos + 2
    if first & 0x80:
        n = first & 0x7F
        length, start = int.from_bytes(der[start:start + n], "big"), start + n
    else:
        length = first
    end = start + length
    if tag & 0x20:
        inner, at = b"", start
        while at < end:
            piece, at = _to_ber(der, at)
            inner += piece
        return bytes([tag, 0x80]) + inner + b"\0\0", end
    if tag == 0x04 and length > 100:
        chunks = [der[k:min(k + 64, end)] for k in range(start, end, 64)]
        return b"\x24\x80" + b"".join(b"\x04" + bytes([len(c)]) + c for c in chunks) + b"\0\0", end
    return der[pos:end], end


@pytest.mark.parametrize("name", ["seal-aes.p12", "seal-legacy.pfx"])
def test_ber_encoded_pkcs12_reads_the_same(sm2: Path, name: str) -> None:
    der = _file(sm2, name).read_bytes()
    ber, _ = _to_ber(der)
    assert ber != der and b"\x30\x80" in ber[:2] and b"\x24\x80" in ber
    assert pkcs12certs.certificates(ber, PASSWORD.encode()) == pkcs12certs.certificates(der, PASSWORD.encode())
    assert len(pkcs12certs.certificates(ber, PASSWORD.encode())) == 2


def test_mutated_files_give_only_reasons(sm2: Path) -> None:
    """Hostile input: real files with bytes changed, cut or grown answer a Pkcs12Error (a
    Chinese reason for the summary), never another exception."""
    import random

    rng = random.Random(20)
    # without a MAC the changed bytes reach the decryption parameters too
    originals = [_file(sm2, n).read_bytes() for n in ("seal-aes.p12", "seal-nopass.pfx", "seal-nomac.p12")]
    for _ in range(300):
        data = bytearray(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        try:
            pkcs12certs.certificates(bytes(data), rng.choice([None, b"", PASSWORD.encode()]))
        except pkcs12certs.Pkcs12Error as e:
            assert str(e).startswith(("PKCS#12", "不是有效的", "不支持"))
