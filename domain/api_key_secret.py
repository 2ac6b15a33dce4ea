"""API key secrets: how a key is made, and the only form of it that is ever stored.

A key is ``agpt_`` + ``secrets.token_urlsafe(32)`` (AutoGPT's format). What
is kept is its ``head`` (first 8 characters, always ``agpt_...``) and ``tail``
(last 8), to find and show it, and a salted scrypt hash (n=2^14, r=8, p=1,
a 32-byte random salt, 32 bytes of output) to check it. The raw key exists
only in the answer to the request that created it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "agpt_"
HEAD_LENGTH = 8
TAIL_LENGTH = 8
MAX_KEY_LENGTH = 128
"""A longer ``X-API-Key`` is refused before any hashing (a real key is 48 characters)."""

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


@dataclass(frozen=True)
class StoredSecret:
    """What is kept of a key: head, tail, the salt and the scrypt hash (both hex)."""

    head: str
    tail: str
    salt: str
    hash: str


def new_raw_key() -> str:
    """A fresh key in AutoGPT's format."""
    return PREFIX + secrets.token_urlsafe(32)


def scrypt_hash(raw_key: str, salt: bytes) -> bytes:
    """The scrypt hash of ``raw_key`` with ``salt``."""
    return hashlib.scrypt(raw_key.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)


def stored_secret(raw_key: str) -> StoredSecret:
    """The stored form of a new key (a fresh random salt)."""
    salt = secrets.token_bytes(32)
    return StoredSecret(
        head=head_of(raw_key),
        tail=raw_key[-TAIL_LENGTH:],
        salt=salt.hex(),
        hash=scrypt_hash(raw_key, salt).hex(),
    )


def head_of(raw_key: str) -> str:
    """The part of a key it is looked up by."""
    return raw_key[:HEAD_LENGTH]


def matches(raw_key: str, salt_hex: str, hash_hex: str) -> bool:
    """True when ``raw_key`` hashes to ``hash_hex`` (compared in constant time)."""
    try:
        salt, expected = bytes.fromhex(salt_hex), bytes.fromhex(hash_hex)
    except ValueError:
        return False
    return hmac.compare_digest(scrypt_hash(raw_key, salt), expected)


def looks_like_key(raw_key: str) -> bool:
    """A plausible key: our prefix, and not absurdly long (checked before any hashing)."""
    return raw_key.startswith(PREFIX) and len(raw_key) <= MAX_KEY_LENGTH and len(raw_key) > HEAD_LENGTH
