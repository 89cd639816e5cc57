"""Secrets: high-entropy tokens stored only as SHA-256 digests, and password hashing.

Agent tokens and API keys are 256-bit random values, so a fast digest is the right store (a slow
KDF adds nothing against brute force of such keys and would cost every request); lookups are by
digest and the final comparison is constant-time.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

AGENT_TOKEN_PREFIX = "xja_"
API_KEY_PREFIX = "xjk_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def digest_matches(token: str, digest: str | None) -> bool:
    return digest is not None and hmac.compare_digest(token_digest(token), digest)


# Passwords: scrypt from the standard library (memory-hard; no extra dependency).
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${dk.hex()}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        # Spend the same time as a real check so that unknown users are not told apart by timing.
        hashlib.scrypt(b"x", salt=b"0" * 16, dklen=32, **_SCRYPT)
        return False
    try:
        algo, n, r, p, salt, dk = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), dklen=len(dk) // 2,
                             n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), dk)
