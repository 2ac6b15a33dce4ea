"""Asymmetric key pairs for JWT tests, made fresh with ``cryptography`` (nothing checked in)."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@dataclass(frozen=True)
class KeyPair:
    """A private key to sign tokens with and its public key in PEM, as ``JWT_VERIFY_KEY`` holds it."""

    private_pem: str
    public_pem: str


def _pair(private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyPair:
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return KeyPair(private_pem, public_pem)


def rsa_pair() -> KeyPair:
    """A 2048-bit RSA pair (RS256)."""
    return _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def ec_pair(curve: ec.EllipticCurve | None = None) -> KeyPair:
    """An EC pair, P-256 (ES256) unless told."""
    return _pair(ec.generate_private_key(curve or ec.SECP256R1()))
