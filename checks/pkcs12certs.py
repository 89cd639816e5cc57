"""The certificates of a PKCS#12 (.p12/.pfx) file, read without touching its private key.

`cryptography` loads a PKCS#12 file only as a whole and refuses keys it does not know, such as
the SM2 keys of electronic seals (国密), before any certificate is returned. The certificates
are in their own bags, so this module walks the structure (RFC 7292), checks the password
against the file's MAC, decrypts the certificate bags (PBES2/PBKDF2 with AES, 3DES or SM4, and
the legacy PKCS#12 PBEs with 3DES or RC2) and returns each X.509 certificate in DER. Key bags
are skipped unread. BER (indefinite lengths, constructed OCTET STRINGs, as some Windows and
Java tools write) is accepted. Messages are in Chinese: they end up in the check's summary.
"""
from __future__ import annotations

import hashlib
import hmac
import struct
from typing import Optional

MAX_ITERATIONS = 1_000_000  # a key derivation run by the agent must stay bounded (OpenSSL: 2048)
_MAX_NESTING = 8

_DATA = "1.2.840.113549.1.7.1"
_ENCRYPTED_DATA = "1.2.840.113549.1.7.6"
_ENVELOPED_DATA = "1.2.840.113549.1.7.3"
_CERT_BAG = "1.2.840.113549.1.12.10.1.3"
_SAFE_CONTENTS_BAG = "1.2.840.113549.1.12.10.1.6"
_X509_CERT = "1.2.840.113549.1.9.22.1"
_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_DIGESTS = {"1.3.14.3.2.26": "sha1", "2.16.840.1.101.3.4.2.1": "sha256", "2.16.840.1.101.3.4.2.2": "sha384",
            "2.16.840.1.101.3.4.2.3": "sha512", "2.16.840.1.101.3.4.2.4": "sha224",
            "1.2.156.10197.1.401": "sm3"}
_HMACS = {"1.2.840.113549.2.7": "sha1", "1.2.840.113549.2.8": "sha224", "1.2.840.113549.2.9": "sha256",
          "1.2.840.113549.2.10": "sha384", "1.2.840.113549.2.11": "sha512"}
# PBES2 ciphers: name and key length
_CIPHERS = {"2.16.840.1.101.3.4.1.2": ("aes", 16), "2.16.840.1.101.3.4.1.22": ("aes", 24),
            "2.16.840.1.101.3.4.1.42": ("aes", 32), "1.2.840.113549.3.7": ("3des", 24),
            "1.2.156.10197.1.104.2": ("sm4", 16)}
# PKCS#12 legacy PBEs (SHA-1 key derivation): cipher and key length
_LEGACY = {"1.2.840.113549.1.12.1.3": ("3des", 24), "1.2.840.113549.1.12.1.4": ("3des", 16),
           "1.2.840.113549.1.12.1.5": ("rc2", 16), "1.2.840.113549.1.12.1.6": ("rc2", 5)}


class Pkcs12Error(ValueError):
    """The file cannot be read (message in Chinese)."""


class WrongPassword(Pkcs12Error):
    """The password does not open the file."""


# -- BER ------------------------------------------------------------------------------------------

class _Bad(Exception):
    pass


def _element(buf: bytes, pos: int, end: int) -> tuple[int, int, int, int]:
    """(tag, content start, content end, next position) of the element at `pos`."""
    if pos + 2 > end:
        raise _Bad
    tag, first = buf[pos], buf[pos + 1]
    if tag & 0x1F == 0x1F:
        raise _Bad  # multi-byte tags do not occur in PKCS#12
    pos += 2
    if first == 0x80:  # indefinite length: children up to the end-of-contents octets
        if not tag & 0x20:
            raise _Bad
        start = pos
        while buf[pos:pos + 2] != b"\0\0":
            pos = _element(buf, pos, end)[3]
        return tag, start, pos, pos + 2
    if first & 0x80:
        n = first & 0x7F
        if not 0 < n <= 4 or pos + n > end:
            raise _Bad
        length, pos = int.from_bytes(buf[pos:pos + n], "big"), pos + n
    else:
        length = first
    if pos + length > end:
        raise _Bad
    return tag, pos, pos + length, pos + length


def _children(buf: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    while start < end:
        tag, s, e, start = _element(buf, start, end)
        out.append((tag, s, e))
    return out


def _octets(buf: bytes, tag: int, s: int, e: int) -> bytes:
    """An OCTET STRING's bytes, also when BER split it into constructed pieces."""
    if not tag & 0x20:
        return buf[s:e]
    return b"".join(_octets(buf, t, cs, ce) for t, cs, ce in _children(buf, s, e))


def _oid(buf: bytes, tag: int, s: int, e: int) -> str:
    if tag != 0x06 or s == e:
        raise _Bad
    arcs, value = [], 0
    for b in buf[s:e]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def _int(buf: bytes, tag: int, s: int, e: int) -> int:
    if tag != 0x02:
        raise _Bad
    return int.from_bytes(buf[s:e], "big", signed=True)


def _seq(buf: bytes, node: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    tag, s, e = node
    if tag != 0x30:
        raise _Bad
    return _children(buf, s, e)


def _explicit(buf: bytes, node: tuple[int, int, int]) -> tuple[int, int, int]:
    """The one element inside an `[0] EXPLICIT` wrapper."""
    tag, s, e = node
    if tag != 0xA0:
        raise _Bad
    inner = _children(buf, s, e)
    if len(inner) != 1:
        raise _Bad
    return inner[0]


# -- key derivation and ciphers ---------------------------------------------------------------

def _bmp(password: Optional[bytes]) -> bytes:
    """The PKCS#12 password form: UTF-16BE with two zero bytes; no password is empty."""
    if password is None:
        return b""
    return password.decode("utf-8").encode("utf-16-be") + b"\0\0"


def pkcs12_kdf(hash_name: str, password: bytes, salt: bytes, iterations: int, ident: int, n: int) -> bytes:
    """RFC 7292 appendix B.2: `n` bytes of key (ident 1), IV (2) or MAC key (3)."""
    _bounded(iterations)
    u, v = hashlib.new(hash_name).digest_size, hashlib.new(hash_name).block_size

    def fill(x: bytes) -> bytes:
        size = v * -(-len(x) // v)
        return (x * (size // len(x) + 1))[:size] if x else b""

    blocks = bytearray(fill(salt) + fill(password))
    diversifier = bytes([ident]) * v
    out = b""
    while True:
        a = hashlib.new(hash_name, diversifier + bytes(blocks)).digest()
        for _ in range(iterations - 1):
            a = hashlib.new(hash_name, a).digest()
        out += a
        if len(out) >= n:
            return out[:n]
        b = int.from_bytes((a * (v // u + 1))[:v], "big") + 1
        for k in range(0, len(blocks), v):
            x = (int.from_bytes(blocks[k:k + v], "big") + b) % (1 << (8 * v))
            blocks[k:k + v] = x.to_bytes(v, "big")


def _bounded(iterations: int) -> None:
    if not 0 < iterations <= MAX_ITERATIONS:
        raise Pkcs12Error(f"PKCS#12 文件的迭代次数 {iterations} 超出范围 (1..{MAX_ITERATIONS})")


# RFC 2268 PITABLE (a permutation of 0..255 from the digits of pi).
_PI = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89dc67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2ec5f3db47e5a59c770aa62068fe7fc1ad")
_RC2_SHIFTS = (1, 2, 3, 5)


def _rc2_key(key: bytes, bits: int) -> list[int]:
    """RFC 2268 key expansion to 64 16-bit words (effective key length `bits`)."""
    t, t8 = len(key), (bits + 7) // 8
    mask = 0xFF >> (8 * t8 - bits)
    L = bytearray(128)
    L[:t] = key
    for i in range(t, 128):
        L[i] = _PI[(L[i - 1] + L[i - t]) & 0xFF]
    L[128 - t8] = _PI[L[128 - t8] & mask]
    for i in range(127 - t8, -1, -1):
        L[i] = _PI[L[i + 1] ^ L[i + t8]]
    return [L[2 * i] | (L[2 * i + 1] << 8) for i in range(64)]


def _rc2_decrypt_block(k: list[int], block: bytes) -> bytes:
    """One 8-byte block through RFC 2268 decryption: 5 mixing rounds, a mash, 6 mixing, a mash,
    5 mixing, each undone in reverse order."""
    r = list(struct.unpack("<4H", block))
    j = 63
    for rounds in (5, 0, 6, 0, 5):
        if rounds == 0:  # undo a mashing round
            for i in (3, 2, 1, 0):
                r[i] = (r[i] - k[r[i - 1] & 63]) & 0xFFFF
            continue
        for _ in range(rounds):
            for i in (3, 2, 1, 0):
                s = _RC2_SHIFTS[i]
                x = ((r[i] >> s) | (r[i] << (16 - s))) & 0xFFFF
                r[i] = (x - k[j] - (r[i - 1] & r[i - 2]) - (~r[i - 1] & r[i - 3])) & 0xFFFF
                j -= 1
    return struct.pack("<4H", *r)


def rc2_cbc_decrypt(key: bytes, bits: int, iv: bytes, data: bytes) -> bytes:
    k = _rc2_key(key, bits)
    out, prev = bytearray(), iv
    for pos in range(0, len(data), 8):
        block = data[pos:pos + 8]
        out += bytes(a ^ b for a, b in zip(_rc2_decrypt_block(k, block), prev))
        prev = block
    return bytes(out)


def _cbc_decrypt(cipher: str, key: bytes, iv: bytes, data: bytes) -> bytes:
    if not data or len(data) % (16 if cipher in ("aes", "sm4") else 8):
        raise _Bad
    if cipher == "rc2":
        plain = rc2_cbc_decrypt(key, 8 * len(key), iv, data)
    else:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if cipher == "3des":
            try:
                from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
            except ImportError:  # cryptography < 43
                from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES  # type: ignore

            algo: object = TripleDES(key)
        else:
            algo = algorithms.AES(key) if cipher == "aes" else algorithms.SM4(key)
        dec = Cipher(algo, modes.CBC(iv)).decryptor()  # type: ignore[arg-type]
        plain = dec.update(data) + dec.finalize()
    pad = plain[-1]
    if not 0 < pad <= len(iv) or plain[-pad:] != bytes([pad]) * pad:
        raise WrongPassword("PKCS#12 密码错误或文件已损坏 (解密结果无效)")
    return plain[:-pad]


def _decrypt(buf: bytes, alg: tuple[int, int, int], data: bytes, password: Optional[bytes]) -> bytes:
    parts = _seq(buf, alg)
    oid = _oid(buf, *parts[0])
    params = parts[1] if len(parts) > 1 else None
    if oid in _LEGACY and params is not None:
        cipher, size = _LEGACY[oid]
        salt_node, iter_node = _seq(buf, params)[:2]
        salt, iterations = _octets(buf, *salt_node), _int(buf, *iter_node)
        key = pkcs12_kdf("sha1", _bmp(password), salt, iterations, 1, size)
        iv = pkcs12_kdf("sha1", _bmp(password), salt, iterations, 2, 8)
        return _cbc_decrypt(cipher, key, iv, data)
    if oid == _PBES2 and params is not None:
        kdf, scheme = _seq(buf, params)[:2]
        kdf_parts, scheme_parts = _seq(buf, kdf), _seq(buf, scheme)
        if _oid(buf, *kdf_parts[0]) != _PBKDF2:
            raise Pkcs12Error(f"PKCS#12 使用了不支持的密钥派生算法 {_oid(buf, *kdf_parts[0])}")
        enc_oid = _oid(buf, *scheme_parts[0])
        if enc_oid not in _CIPHERS:
            raise Pkcs12Error(f"PKCS#12 使用了不支持的加密算法 {enc_oid}")
        cipher, size = _CIPHERS[enc_oid]
        kp = _seq(buf, kdf_parts[1])
        salt, iterations = _octets(buf, *kp[0]), _int(buf, *kp[1])
        prf = "sha1"
        for node in kp[2:]:
            if node[0] == 0x02:
                size = _int(buf, *node)
                if size not in (16, 24, 32):
                    raise _Bad
            elif node[0] == 0x30:
                prf_oid = _oid(buf, *_seq(buf, node)[0])
                if prf_oid not in _HMACS:
                    raise Pkcs12Error(f"PKCS#12 使用了不支持的 PBKDF2 摘要算法 {prf_oid}")
                prf = _HMACS[prf_oid]
        _bounded(iterations)
        key = hashlib.pbkdf2_hmac(prf, password or b"", salt, iterations, size)
        return _cbc_decrypt(cipher, key, _octets(buf, *scheme_parts[1]), data)
    raise Pkcs12Error(f"PKCS#12 使用了不支持的加密算法 {oid}")


# -- the file -------------------------------------------------------------------------------------

def _verify_mac(buf: bytes, mac_data: tuple[int, int, int], content: bytes,
                password: Optional[bytes]) -> Optional[bytes]:
    """The password form that matches the MAC (with no password given, OpenSSL tries none and
    the empty one); None when the MAC algorithm is one this module does not know."""
    parts = _seq(buf, mac_data)
    digest_info = _seq(buf, parts[0])
    alg_oid = _oid(buf, *_seq(buf, digest_info[0])[0])
    expected = _octets(buf, *digest_info[1])
    salt = _octets(buf, *parts[1])
    iterations = _int(buf, *parts[2]) if len(parts) > 2 else 1
    hash_name = _DIGESTS.get(alg_oid)
    if hash_name is None:  # e.g. PBMAC1 (RFC 9579): the decryption still checks the password
        return password
    for candidate in ([password] if password else [None, b""]):
        key = pkcs12_kdf(hash_name, _bmp(candidate), salt, iterations, 3, hashlib.new(hash_name).digest_size)
        if hmac.compare_digest(hmac.new(key, content, hash_name).digest(), expected):
            return candidate
    raise WrongPassword("PKCS#12 密码错误或文件已损坏 (完整性校验失败)" if password else
                        "PKCS#12 文件需要密码 (请配置 password 或 password_file)")


def _content_info(buf: bytes, node: tuple[int, int, int]) -> tuple[str, Optional[tuple[int, int, int]]]:
    parts = _seq(buf, node)
    return _oid(buf, *parts[0]), _explicit(buf, parts[1]) if len(parts) > 1 else None


def _bags(buf: bytes, node: tuple[int, int, int], depth: int = 0) -> list[bytes]:
    if depth > _MAX_NESTING:
        raise _Bad
    certs = []
    for bag in _seq(buf, node):
        parts = _seq(buf, bag)
        bag_id = _oid(buf, *parts[0])
        if bag_id == _CERT_BAG:
            cert_id, value = _seq(buf, _explicit(buf, parts[1]))[:2]
            if _oid(buf, *cert_id) == _X509_CERT:
                certs.append(_octets(buf, *_explicit(buf, value)))
        elif bag_id == _SAFE_CONTENTS_BAG:
            certs += _bags(buf, _explicit(buf, parts[1]), depth + 1)
    return certs


def certificates(data: bytes, password: Optional[bytes]) -> list[bytes]:
    """Every X.509 certificate in the PKCS#12 file `data`, in DER, in file order."""
    try:
        return _certificates(data, password)
    except Pkcs12Error:
        raise
    except (_Bad, IndexError, ValueError, RecursionError):  # ValueError: cryptography on bad sizes
        raise Pkcs12Error("不是有效的 PKCS#12 文件 (结构损坏)") from None


def _certificates(data: bytes, password: Optional[bytes]) -> list[bytes]:
    tag, s, e, _ = _element(data, 0, len(data))
    pfx = _seq(data, (tag, s, e))
    if len(pfx) < 2 or _int(data, *pfx[0]) != 3:
        raise _Bad
    kind, auth = _content_info(data, pfx[1])
    if kind != _DATA or auth is None:
        raise Pkcs12Error("不支持用公钥签名保护的 PKCS#12 文件")
    content = _octets(data, *auth)
    if len(pfx) > 2:
        password = _verify_mac(data, pfx[2], content, password)
    certs: list[bytes] = []
    safes = _children(content, 0, len(content))
    if len(safes) != 1:
        raise _Bad
    for info in _seq(content, safes[0]):
        kind, inner = _content_info(content, info)
        if inner is None:
            continue
        if kind == _DATA:
            safe = _octets(content, *inner)
        elif kind == _ENCRYPTED_DATA:
            enc_info = _seq(content, _seq(content, inner)[1])  # version, EncryptedContentInfo
            if len(enc_info) < 3 or enc_info[2][0] not in (0x80, 0xA0):
                continue  # no encrypted content
            tag, cs, ce = enc_info[2]
            sealed = content[cs:ce] if tag == 0x80 else _octets(content, 0x24, cs, ce)
            safe = _decrypt(content, enc_info[1], sealed, password)
        elif kind == _ENVELOPED_DATA:
            raise Pkcs12Error("不支持用公钥加密的 PKCS#12 文件")
        else:
            continue
        try:
            tag, cs, ce, _ = _element(safe, 0, len(safe))
            certs += _bags(safe, (tag, cs, ce))
        except _Bad:  # a wrong password that happened to leave valid padding
            raise WrongPassword("PKCS#12 密码错误或文件已损坏 (解密结果无效)") from None
    return certs
