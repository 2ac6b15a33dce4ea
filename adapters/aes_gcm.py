"""AES-256-GCM (``cryptography``'s AESGCM): the cipher of every secret at rest (``application.encryption.Cipher``).

A sealed value is ``nonce (12 random bytes) | ciphertext | tag (16 bytes)``;
the associated data binds it to where it belongs (a user, a credentials id),
so a sealed value copied elsewhere does not open.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from application.encryption import UnreadableSecretError

KEY_BYTES = 32
NONCE_BYTES = 12


class AesGcmCipher:
    """AES-256-GCM with a random 96-bit nonce per seal."""

    def new_key(self) -> bytes:
        """A fresh 256-bit key."""
        return AESGCM.generate_key(bit_length=KEY_BYTES * 8)

    def seal(self, key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        """``nonce | ciphertext | tag``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)

    def open(self, key: bytes, sealed: bytes, aad: bytes) -> bytes:
        """The plaintext; ``UnreadableSecretError`` for a wrong key, aad or an altered value."""
        if len(sealed) < NONCE_BYTES + 16:
            raise UnreadableSecretError("sealed value too short")
        try:
            return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except (InvalidTag, ValueError):
            raise UnreadableSecretError("the sealed value does not open with this key") from None
